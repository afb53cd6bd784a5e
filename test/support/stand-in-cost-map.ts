/**
 * TEST DOUBLE: a small part of LiteLLM's model cost map (model_prices_and_context_window.json,
 * `litellm.model_cost`), as its proxy serves it: `GET /public/litellm_model_cost_map` (public,
 * newer versions: LiteLLM PR #16795, November 2025, moved it there) or `GET
 * /get/litellm_model_cost_map` (proxy admin only; 1.77). Entries as the real map writes them:
 * OpenAI and Anthropic models under their bare names, Gemini and Ollama under `<provider>/<name>`,
 * Vertex under its bare name with provider `vertex_ai-language-models`, Bedrock's under theirs.
 * Only `litellm_provider` and `mode` are kept (the real entries also carry prices and limits).
 */
const chat = (litellm_provider: string) => ({ litellm_provider, mode: 'chat' });

export const STAND_IN_COST_MAP: Record<string, unknown> = {
  sample_spec: { litellm_provider: 'one of https://docs.litellm.ai/docs/providers', mode: 'one of: chat, embedding, completion, image_generation, audio_transcription, audio_speech, image_generation, moderation, rerank, search' },
  'gpt-4': chat('openai'),
  'gpt-4o': chat('openai'),
  'gpt-4o-mini': chat('openai'),
  'gpt-4o-mini-2024-07-18': chat('openai'),
  'gpt-4.1': chat('openai'),
  'gpt-4.1-mini': chat('openai'),
  'gpt-5-nano': chat('openai'),
  'text-embedding-3-small': { litellm_provider: 'openai', mode: 'embedding' },
  'claude-3-5-sonnet-20240620': chat('anthropic'),
  'claude-3-5-sonnet-20241022': chat('anthropic'),
  'claude-3-5-sonnet-latest': chat('anthropic'),
  'claude-3-5-haiku-20241022': chat('anthropic'),
  'gemini/gemini-2.5-flash': chat('gemini'),
  'gemini/gemini-2.5-pro': chat('gemini'),
  'gemini-pro': chat('vertex_ai-language-models'),
  'gemini-2.5-flash': chat('vertex_ai-language-models'),
  'mistral/mistral-large-latest': chat('mistral'),
  'mistral/mistral-small-latest': chat('mistral'),
  'anthropic.claude-3-haiku-20240307-v1:0': chat('bedrock'),
  'ollama/llama3': chat('ollama'),
  'ollama/llama2': chat('ollama'),
};
