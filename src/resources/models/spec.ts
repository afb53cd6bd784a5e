/**
 * The models kind: what a model the run must converge to is (declared in the keys file's
 * `models:` section, or registered on demand for a key's `<provider>/<model>`), its schema, and
 * the marker that makes a proxy model ours. A secret's value never appears here: every
 * credential parameter is an `os.environ/NAME` reference the proxy resolves from its environment.
 */
import * as z from 'zod';
import type { SpecSection } from '../kind.ts';
import { PROVISIONED_BY } from '../../config/ownership.ts';
import { sha256 } from '../../store/ledger.ts';
import { configuredProviders, providerOf, providerVariable, SAME_SETTINGS } from '../../config/providers.ts';

export type ParamValue = string | number | boolean;

export interface ModelSpec {
  /** `model_name`: the name agents (and keys' `models`) use. */
  name: string;
  /** `litellm_params` as sent to the proxy: credentials only as `os.environ/NAME`. */
  params: Record<string, ParamValue>;
  /** Where it comes from, for messages: `keys.yaml line 12`, or `model of key "task-agent default"`. */
  source: string;
  origin: 'declared' | 'on-demand';
}

/** Every model the bootstrap registers has a deterministic id: a retried or racing /model/new fails instead of adding a second deployment. */
export const MODEL_ID_PREFIX = 'llm-proxy-bootstrap-';

export function modelId(name: string): string {
  return `${MODEL_ID_PREFIX}${sha256(name).slice(0, 24)}`;
}

/** JSON with sorted keys: the same params always hash the same. */
function canonical(params: Record<string, ParamValue>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** /model/info never shows api_key: the hash of what we sent lets a run see a changed reference. */
export function paramsHash(params: Record<string, ParamValue>): string {
  return sha256(canonical(params));
}

/** The marker in `model_info` of every model the bootstrap registers. */
export function desiredModelInfo(spec: ModelSpec): Record<string, unknown> {
  return {
    id: modelId(spec.name),
    provisioned_by: PROVISIONED_BY,
    bootstrap_params: paramsHash(spec.params),
    bootstrap_param_names: Object.keys(spec.params).sort(),
  };
}

/** `os.environ/NAME`: how LiteLLM reads a value from its own environment. */
export const ENV_REFERENCE = /^os\.environ\/[A-Za-z_][A-Za-z0-9_]*$/;
/** Parameters that carry a credential (api_key, apikey, api-key, aws_secret_access_key, vertex_credentials, ...). */
const CREDENTIAL_PARAM = /(^|[_-])(api[_-]?key|apikey|key|secret|secret[_-]access[_-]key|token|password|passwd|credentials?)$/i;

export function isCredentialParam(name: string): boolean {
  return CREDENTIAL_PARAM.test(name);
}

/**
 * The proxy's own settings, which no model may read (`os.environ/LITELLM_MASTER_KEY` as an api_key
 * would make the proxy send its master key to the model's api_base): LiteLLM's master and salt keys
 * and every other LITELLM_* setting (no provider credential is named so), its database (DATABASE_URL,
 * DIRECT_URL, and DATABASE_HOST/USERNAME/PASSWORD/NAME it builds DATABASE_URL from), its cache
 * (REDIS_*), its admin UI login (UI_USERNAME, UI_PASSWORD), the OpenTelemetry exporter's (OTEL_*),
 * and the stack's database (POSTGRES_*).
 */
const PROXY_OWN_SETTING = /^(LITELLM_\w+|DATABASE_\w+|DIRECT_URL|REDIS_\w+|UI_USERNAME|UI_PASSWORD|OTEL_\w+|POSTGRES_\w+)$/;

export function isProxyOwnSetting(name: string): boolean {
  return PROXY_OWN_SETTING.test(name);
}

/** `scheme://user:password@host`: credentials in a URL. */
const URL_USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i;

/** One entry of the keys file's `models:` section. */
export const modelEntrySchema = z.strictObject({
  model_name: z.string().trim().min(1, { error: 'must not be empty' }),
  litellm_params: z
    .object({ model: z.string().trim().min(1, { error: 'must name the model LiteLLM calls, e.g. ollama/llama3' }) })
    .catchall(z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' }))
    .superRefine((params, ctx) => {
      for (const [name, value] of Object.entries(params)) {
        if (typeof value !== 'string') continue;
        const reference = ENV_REFERENCE.test(value) ? value.slice('os.environ/'.length) : undefined;
        if (reference !== undefined && isProxyOwnSetting(reference)) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `must not read ${reference}, a setting of the proxy itself: the proxy would send it to whatever the model calls (use the provider's variable, e.g. os.environ/OPENAI_API_KEY)`,
          });
          continue;
        }
        if (reference === undefined && URL_USERINFO.test(value)) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'must not carry credentials in the URL (user:password@): a secret never goes into this file nor to the proxy (give the provider its key as os.environ/NAME)',
          });
          continue;
        }
        if (!isCredentialParam(name) || reference !== undefined) continue;
        // Never the value itself in the message: it may be a real secret.
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'must be a reference os.environ/NAME, not a value: a secret never goes into this file nor to the proxy (put it in the proxy\'s environment, e.g. LITELLM_<PROVIDER>_API_KEY in .env, mirrored as <PROVIDER>_API_KEY)',
        });
      }
    }),
});
export type ModelEntry = z.output<typeof modelEntrySchema>;

/**
 * The model registered for a key's `<provider>/<model>` the proxy does not serve: exactly that
 * model (not `<provider>/*`: /model/info expands a wildcard into every model LiteLLM knows for the
 * provider, and an exact entry can be removed precisely when no key needs it any more), its key
 * read from the proxy's environment.
 */
export function onDemandSpec(model: string, alias: string, refs: { apiKey?: string | undefined; apiBase?: string | undefined } = { apiKey: providerVariable(providerOf(model)!, 'API_KEY') }): ModelSpec {
  const params: Record<string, ParamValue> = { model };
  if (refs.apiKey) params['api_key'] = `os.environ/${refs.apiKey}`;
  if (refs.apiBase) params['api_base'] = `os.environ/${refs.apiBase}`;
  return { name: model, params, source: `model of key ${JSON.stringify(alias)}`, origin: 'on-demand' };
}

/**
 * On-demand registration as `.env` allows it: a `<provider>/<model>` whose provider the bootstrap
 * configures on the proxy (config/providers.ts configuredProviders: `LITELLM_<PROVIDER>_API_KEY` or
 * `_API_BASE` set, Bedrock's credentials passed through). Each of the provider's key and API base
 * that `.env` sets is referenced (`os.environ/<PROVIDER>_API_KEY`, `..._API_BASE`; `ollama_chat` reads
 * Ollama's); a provider configured otherwise (Bedrock: AWS_* read by LiteLLM itself) gets the model
 * alone. Without `.env` (Secret mode) nothing is registered on demand.
 */
export function onDemandFrom(values: Record<string, string> | undefined): (model: string, alias: string) => ModelSpec | undefined {
  if (values === undefined) return () => undefined;
  const providers = configuredProviders(values);
  const set = (name: string) => (values[`LITELLM_${name}`] ?? '').trim() !== '';
  return (model, alias) => {
    const provider = providerOf(model)?.replace(/-/g, '_');
    if (provider === undefined || !providers.has(provider)) return undefined;
    // The provider whose variables it reads (ollama_chat → ollama).
    const owner = Object.entries(SAME_SETTINGS).find(([, sharing]) => sharing.includes(provider))?.[0] ?? provider;
    const key = providerVariable(owner, 'API_KEY');
    const base = providerVariable(owner, 'API_BASE');
    return onDemandSpec(model, alias, { apiKey: set(key) ? key : undefined, apiBase: set(base) ? base : undefined });
  };
}

/** The models kind's section of the keys file: `models:`, models the bootstrap registers on the proxy (a local runtime, an alias of a self-hosted backend, ...). */
export const modelsSection: SpecSection<ModelSpec, ModelEntry> = {
  name: 'models',
  schema: z.array(modelEntrySchema).optional(),
  specs(entries, { file: keysFile, problems }) {
    const models: ModelSpec[] = [];
    const seenModel = new Map<string, number>();
    for (const { value: entry, line } of entries) {
      const seen = seenModel.get(entry.model_name);
      if (seen !== undefined) problems.push(`line ${line}: model_name ${JSON.stringify(entry.model_name)} is already declared at line ${seen}`);
      seenModel.set(entry.model_name, line);
      models.push({ name: entry.model_name, params: entry.litellm_params, source: `declared at ${keysFile} line ${line}`, origin: 'declared' });
    }
    return models;
  },
};
