/**
 * Decide the model steps: compare the models the keys file declares and the models the keys
 * need with what the proxy serves. Pure (no I/O). A proxy model is ours when it is stored
 * (db_model) and carries our marker (model_info.provisioned_by); a model that is not ours is
 * never changed, even when its name matches (a note says so).
 */
import { PROVISIONED_BY } from '../../config/ownership.ts';
import type { ProxyModel } from '../../proxy/client.ts';
import { closestModel, isKeyWildcard, isServed } from '../../proxy/models.ts';
import { missingProviderKeys, providerOf } from '../../config/providers.ts';
import { modelId, paramsHash, type ModelSpec } from './spec.ts';
import { NULL_CLEARS_MODEL_PARAM_SINCE } from '../../proxy/versions-known.ts';

export type ModelStep =
  | { kind: 'model-register'; spec: ModelSpec }
  /**
   * PATCH /model/{id}/update; `replace`: a parameter was dropped (`dropped`), which a merge cannot do:
   * cleared with an explicit null where the proxy supports it (see versions-known.ts), else delete, then register.
   */
  | { kind: 'model-update'; spec: ModelSpec; id: string; fields: string[]; replace: boolean; dropped?: string[] }
  | { kind: 'model-remove'; name: string; id: string; reason: 'no longer declared or needed' | 'a second deployment of ours' };

/** A key's model the proxy does not serve, that the run cannot register. */
export interface Unserved {
  model: string;
  aliases: string[];
  closest: string | undefined;
  /** The provider key that would have it registered on demand (undefined: no provider in the name, or Secret mode). */
  providerKey: string | undefined;
}

export interface ModelPlanInput {
  /** From the keys file's `models:` section. */
  declared: ModelSpec[];
  /** Every key of the run and the models it is scoped to. */
  keys: { alias: string; models: string[] }[];
  /** What /model/info lists; undefined when it could not be read (the models kind then plans nothing). */
  proxy: ProxyModel[] | undefined;
  /**
   * The spec that registers a key's unserved `<provider>/<model>` on demand, or undefined when
   * the provider is not configured (no LITELLM_<PROVIDER>_API_KEY; always in Secret mode).
   */
  onDemand: (model: string, alias: string) => ModelSpec | undefined;
  /** Whether on-demand registration can happen at all (not in Secret mode), for the unserved hint. */
  onDemandPossible: boolean;
}

export interface ModelPlan {
  steps: ModelStep[];
  notes: string[];
  unserved: Unserved[];
}

export function isOurs(model: ProxyModel): boolean {
  return model.dbModel && model.info['provisioned_by'] === PROVISIONED_BY;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What changed between a model of ours and its spec, by the visible params and the hash of all of them. */
function changes(spec: ModelSpec, proxy: ProxyModel): { fields: string[]; replace: boolean } | undefined {
  if (proxy.info['bootstrap_params'] === paramsHash(spec.params)) return undefined;
  const fields = Object.keys(spec.params).filter((k) => k in proxy.params && !sameJson(proxy.params[k], spec.params[k]));
  // api_key (and other hidden params) never come back: a changed hash with nothing visible changed is one of them.
  for (const k of Object.keys(spec.params)) if (!(k in proxy.params) && !fields.includes(k)) fields.push(k);
  const before = Array.isArray(proxy.info['bootstrap_param_names']) ? (proxy.info['bootstrap_param_names'] as unknown[]).map(String) : [];
  const dropped = before.filter((k) => !(k in spec.params));
  return { fields: [...fields, ...dropped.map((k) => `${k} (removed)`)], replace: dropped.length > 0, ...(dropped.length > 0 ? { dropped } : {}) };
}

export function planModels(input: ModelPlanInput): ModelPlan {
  const steps: ModelStep[] = [];
  const notes: string[] = [];
  const unserved: Unserved[] = [];
  if (input.proxy === undefined) return { steps, notes, unserved };
  const ours = input.proxy.filter(isOurs);
  const others = input.proxy.filter((m) => !isOurs(m));
  const otherNames = [...new Set(others.map((m) => m.name))];
  const desired = new Map<string, ModelSpec>();
  /** Names whose models of ours are left as they are (a model not ours has the name too). */
  const untouchable = new Set<string>();
  for (const spec of input.declared) {
    if (otherNames.includes(spec.name)) {
      notes.push(`model ${JSON.stringify(spec.name)} (${spec.source}) is already served by a model the bootstrap does not own (proxy_config.yaml, or added by hand): left as it is, not registered`);
      untouchable.add(spec.name);
      continue;
    }
    desired.set(spec.name, spec);
  }
  const served = [...otherNames, ...input.declared.map((s) => s.name)];
  const missing = new Map<string, Unserved>();
  for (const key of input.keys) {
    for (const model of key.models) {
      if (isKeyWildcard(model) || desired.has(model) || isServed(model, served)) continue;
      const spec = input.onDemand(model, key.alias);
      if (spec) {
        desired.set(model, spec);
        continue;
      }
      const entry = missing.get(model);
      if (entry) {
        if (!entry.aliases.includes(key.alias)) entry.aliases.push(key.alias);
        continue;
      }
      const provider = providerOf(model);
      missing.set(model, {
        model,
        aliases: [key.alias],
        closest: closestModel(model, [...served, ...desired.keys()]),
        // What .env would need (LITELLM_GEMINI_API_KEY, LITELLM_OLLAMA_API_BASE, ...), as the mirror names it.
        providerKey: provider && input.onDemandPossible ? missingProviderKeys({}, [model])[0] : undefined,
      });
    }
  }
  unserved.push(...missing.values());

  const kept = new Set<ProxyModel>();
  for (const spec of desired.values()) {
    const id = modelId(spec.name);
    const mine = ours.find((m) => m.name === spec.name && m.id === id);
    if (mine === undefined) {
      steps.push({ kind: 'model-register', spec });
      continue;
    }
    kept.add(mine);
    const change = changes(spec, mine);
    if (change) steps.push({ kind: 'model-update', spec, id, ...change });
  }
  for (const model of ours) {
    if (kept.has(model) || untouchable.has(model.name) || model.id === undefined) continue;
    steps.push({ kind: 'model-remove', name: model.name, id: model.id, reason: desired.has(model.name) ? 'a second deployment of ours' : 'no longer declared or needed' });
  }
  return { steps, notes, unserved };
}

/** One secret-free line per step. */
export function describeModelStep(step: ModelStep): string {
  switch (step.kind) {
    case 'model-register':
      return `register model ${JSON.stringify(step.spec.name)} on the proxy (${step.spec.source}; litellm_params.model ${JSON.stringify(step.spec.params['model'])})`;
    case 'model-update':
      return step.replace
        ? `re-register model ${JSON.stringify(step.spec.name)} (${step.fields.join(', ')}): cleared in place (keeping its id) where the proxy clears a parameter with null (LiteLLM ${NULL_CLEARS_MODEL_PARAM_SINCE.join('.')} and newer), else delete it, then register it again`
        : `update model ${JSON.stringify(step.spec.name)}: ${step.fields.join(', ')}`;
    case 'model-remove':
      return `remove model ${JSON.stringify(step.name)} (registered by the bootstrap, ${step.reason}); LiteLLM answers "no healthy deployments" for that name until it restarts`;
  }
}

/** The line for a key's model nobody serves, for warnings, --dry-run and --check. */
export function describeUnserved(u: Unserved): string {
  const keys = u.aliases.map((a) => JSON.stringify(a)).join(', ');
  const fix = u.providerKey
    ? `set ${u.providerKey} in .env to have it registered, or declare it under models: in the keys file`
    : 'declare it under models: in the keys file, or add it to the proxy';
  return `model ${JSON.stringify(u.model)} of key ${keys} is not served by the proxy${u.closest ? ` (closest configured: ${JSON.stringify(u.closest)})` : ' (it serves no models yet)'}: ${fix}`;
}
