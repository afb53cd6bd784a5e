/**
 * What providers' API keys look like, from their own documentation and key formats. A value found
 * in a key's variable (OPENAI_API_KEY) that the proxy never issued is moved to the provider's
 * LITELLM_<PROVIDER>_API_KEY (and so sent upstream by the proxy) only when it has the shape of that
 * provider's keys; anything else is backed up and reported, never sent anywhere. Providers not
 * listed here have no shape we can check: their values are backed up too. Pure.
 */

const SHAPES: Record<string, RegExp[]> = {
  // Project, service-account, admin and user keys (sk-proj-, sk-svcacct-, sk-admin-, sk-None-), and
  // the legacy sk- + 48 letters and digits. Not an Anthropic sk-ant-, an OpenRouter sk-or-, a
  // DeepSeek sk- + 32 hex digits, nor a LiteLLM virtual key (sk- + 22: shorter than any of these).
  OPENAI: [/^sk-(proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}$/, /^sk-[A-Za-z0-9]{48}$/],
  // sk-ant-api03-... (API keys), sk-ant-admin01-... is an admin key, never an upstream credential.
  ANTHROPIC: [/^sk-ant-api\d\d-[A-Za-z0-9_-]{20,}$/],
  // Google AI Studio (Gemini) API keys: AIza + 35.
  GEMINI: [/^AIza[0-9A-Za-z_-]{35}$/],
  GROQ: [/^gsk_[A-Za-z0-9]{20,}$/],
  XAI: [/^xai-[A-Za-z0-9]{20,}$/],
  OPENROUTER: [/^sk-or-v1-[0-9a-f]{64}$/],
  DEEPSEEK: [/^sk-[0-9a-f]{32}$/],
};

/** Providers whose key shape is known (`OPENAI`, `ANTHROPIC`, ...): documentation and messages. */
export const SHAPED_PROVIDERS = Object.keys(SHAPES);

/** Whether `value` has the shape of `provider`'s API keys (`OPENAI` for OPENAI_API_KEY). */
export function looksLikeProviderKey(provider: string, value: string): boolean {
  return (SHAPES[provider.toUpperCase()] ?? []).some((re) => re.test(value.trim()));
}
