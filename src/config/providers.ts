/**
 * The provider naming conventions of `.env`: `LITELLM_<PROVIDER>_API_KEY`, `_API_BASE`,
 * `_API_VERSION` become the proxy's `<PROVIDER>_...`; `LITELLM_PROXY_ENV_<NAME>` is passed through as
 * `<NAME>`; the proxy's own settings are copied (the database password renamed). Which providers a `.env` configures, which are
 * still missing for a list of models, and the variable a provider's setting goes by. Used by the
 * env-file kind (the mirror), the models kind (on-demand registration) and the run (what a log
 * must never show).
 */

/** `LITELLM_<PROVIDER>_API_KEY|API_BASE|API_VERSION`; `LITELLM_PROXY_ENV_*` is the pass-through, never a provider. */
const SOURCE = /^LITELLM_(?!PROXY_ENV_)([A-Za-z0-9_]+)_(API_KEY|API_BASE|API_VERSION)$/;

/** `LITELLM_PROXY_ENV_<NAME>=value` in `.env` becomes `<NAME>=value` in the proxy's env file. */
export const PASS_THROUGH_PREFIX = 'LITELLM_PROXY_ENV_';

/** Settings of `.env` the proxy itself needs, copied under their own names when not empty. */
export const PASSED_THROUGH = ['LITELLM_MASTER_KEY', 'LITELLM_SALT_KEY'] as const;
/** Settings of `.env` the proxy gets under another name (the compose stack's database password). */
export const RENAMED: Readonly<Record<string, string>> = { LLM_PROXY_DB_PASSWORD: 'DATABASE_PASSWORD' };
/** ... and every variable with this prefix (OpenTelemetry: OTEL_EXPORTER, OTEL_ENDPOINT, ...). */
export const PASSED_THROUGH_PREFIX = 'OTEL_';

export function passedThrough(name: string): boolean {
  return (PASSED_THROUGH as readonly string[]).includes(name) || (name.startsWith(PASSED_THROUGH_PREFIX) && name.length > PASSED_THROUGH_PREFIX.length);
}

/** Source variable → the provider setting it becomes (`LITELLM_OLLAMA_API_BASE` → `OLLAMA_API_BASE`), keys included. */
export function providerTarget(name: string): { provider: string; target: string; kind: 'API_KEY' | 'API_BASE' | 'API_VERSION' } | undefined {
  const m = SOURCE.exec(name);
  return m ? { provider: m[1]!, target: `${m[1]}_${m[2]}`, kind: m[2] as 'API_KEY' | 'API_BASE' | 'API_VERSION' } : undefined;
}

/**
 * The name the proxy gets a variable of `.env` under, for every variable whose value reaches the
 * proxy (convention, pass-through, the proxy's own settings); undefined for the rest of `.env`.
 */
export function proxyTarget(name: string): string | undefined {
  if (name.startsWith(PASS_THROUGH_PREFIX)) return name.slice(PASS_THROUGH_PREFIX.length);
  return providerTarget(name)?.target ?? RENAMED[name] ?? (passedThrough(name) ? name : undefined);
}

/**
 * Settings of the proxy's env file that are not credentials (an API base, an API version, a
 * region, an OpenTelemetry endpoint or protocol): never shown whole either, but their pieces
 * (`https://`, `2024-10-`) are everyday text. Every other value that reaches the proxy is a
 * credential until known otherwise (an OTEL_EXPORTER_OTLP_HEADERS bearer token, AWS keys, ...).
 */
const PLAIN_SETTING = /(_API_BASE|_API_VERSION|_REGION|_REGION_NAME|_ENDPOINT|_PROTOCOL)$/;
/** OpenTelemetry settings that name things (the service, the exporter), shown in the docs and the template: no secret. */
const PUBLIC_SETTING = /^OTEL_(SERVICE_NAME|EXPORTER|TRACES_EXPORTER|METRICS_EXPORTER|LOGS_EXPORTER|[A-Z_]*PROTOCOL)$/;

/**
 * The values of `.env` the proxy's env file gets (convention, pass-through, LITELLM_MASTER_KEY,
 * LITELLM_SALT_KEY, OTEL_* but the names of things), each with whether it is a credential
 * (log/redact.ts then also hides any 8-character piece of it). For the secret registry: none of
 * them may appear in a log. Pure.
 */
export function proxyEnvSecrets(values: Record<string, string>): { value: string; credential: boolean }[] {
  return Object.entries(values).flatMap(([name, value]) => {
    const target = proxyTarget(name);
    return target === undefined || value.trim() === '' || PUBLIC_SETTING.test(target) ? [] : [{ value, credential: !PLAIN_SETTING.test(target) }];
  });
}

/** Providers whose settings are the same variables as another's (ollama_chat/ reads OLLAMA_API_BASE). */
export const SAME_SETTINGS: Record<string, string[]> = { ollama: ['ollama_chat'] };
/** Passed-through variables that are a provider's credentials (Bedrock has no LITELLM_BEDROCK_API_KEY). */
const CREDENTIALS: Record<string, string> = { AWS_ACCESS_KEY_ID: 'bedrock', AWS_BEARER_TOKEN_BEDROCK: 'bedrock' };

/**
 * Lowercase providers (`LITELLM_GEMINI_API_KEY` → `gemini`, `LITELLM_OLLAMA_API_BASE` → `ollama`) the
 * proxy can reach: those whose API key or API base is non-empty (Ollama has no key), plus `ollama_chat`
 * with `ollama`, and `bedrock` when AWS credentials are passed through.
 */
export function configuredProviders(values: Record<string, string>): Set<string> {
  const providers = new Set<string>();
  for (const [name, value] of Object.entries(values)) {
    if (value.trim() === '') continue;
    const p = providerTarget(name);
    const provider = p && p.kind !== 'API_VERSION' ? p.provider.toLowerCase() : name.startsWith(PASS_THROUGH_PREFIX) ? CREDENTIALS[name.slice(PASS_THROUGH_PREFIX.length)] : undefined;
    if (provider) for (const q of [provider, ...(SAME_SETTINGS[provider] ?? [])]) providers.add(q);
  }
  return providers;
}

/** Providers that need an API base, not a key (local runtimes), and the variable that gives it. */
const KEYLESS: Record<string, string> = {
  ollama: 'LITELLM_OLLAMA_API_BASE',
  ollama_chat: 'LITELLM_OLLAMA_API_BASE',
  hosted_vllm: 'LITELLM_HOSTED_VLLM_API_BASE',
  lm_studio: 'LITELLM_LM_STUDIO_API_BASE',
  llamafile: 'LITELLM_LLAMAFILE_API_BASE',
};

/**
 * The `.env` variables still empty although a model of a key names their provider
 * (`openai/gpt-4o-mini` → LITELLM_OPENAI_API_KEY, `ollama/llama3` → LITELLM_OLLAMA_API_BASE,
 * `bedrock/...` → LITELLM_PROXY_ENV_AWS_ACCESS_KEY_ID). When no model names a provider and no
 * provider is configured at all, the generic name. Sorted, unique.
 */
export function missingProviderKeys(values: Record<string, string>, models: readonly string[]): string[] {
  const configured = configuredProviders(values);
  const missing = new Set<string>();
  let named = false;
  for (const model of models) {
    const provider = /^([A-Za-z0-9_-]+)\//.exec(model)?.[1]?.toLowerCase();
    if (!provider) continue;
    named = true;
    if (configured.has(provider)) continue;
    if (KEYLESS[provider]) missing.add(KEYLESS[provider]);
    else if (provider === 'bedrock') missing.add(`${PASS_THROUGH_PREFIX}AWS_ACCESS_KEY_ID`);
    else missing.add(`LITELLM_${provider.toUpperCase().replace(/-/g, '_')}_API_KEY`);
  }
  if (!named && configured.size === 0) missing.add('LITELLM_<PROVIDER>_API_KEY');
  return [...missing].sort();
}

/** `gemini/gemini-2.5-flash` → `gemini`; undefined for a bare name. */
export function providerOf(model: string): string | undefined {
  return /^([A-Za-z0-9_-]+)\/./.exec(model)?.[1]?.toLowerCase();
}

/** The proxy's variable for a provider's setting: `vertex-ai` → `VERTEX_AI_API_KEY`. */
export function providerVariable(provider: string, what: 'API_KEY' | 'API_BASE'): string {
  return `${provider.toUpperCase().replace(/-/g, '_')}_${what}`;
}
