/**
 * Before a model is registered on demand (a key's `<provider>/<model>` whose provider key `.env`
 * sets), LiteLLM is asked whether it knows that model: its model cost map (client.modelCostMap).
 * A name it does not list for that provider is never registered: exit 2 naming the model, the
 * setting it came from and the closest names LiteLLM knows, before anything is changed (a key
 * scoped to a mistyped model is no use to the agent, and a model registered under a typo answers
 * errors only when the agent calls it).
 *
 * Not checked: declared models (the keys file says exactly what to call), a model with an API
 * base (a self-hosted or compatible backend serves whatever names it has), a provider the map
 * lists nothing for, and a proxy that serves no cost map (a warning says the check was skipped).
 */
import { ConfigError } from '../../errors.ts';
import type { Logger } from '../../log/log.ts';
import { asMaster } from '../../proxy/as-master.ts';
import type { ProxyClient } from '../../proxy/client.ts';
import { closestKnown, isKnownModel, type CostMap } from '../../proxy/model-catalog.ts';
import type { ModelStep } from './plan.ts';

/** What a key is read for here (the keys kind's spec, as the models kind sees it in the desired state). */
interface KeyModels {
  alias: string;
  models: readonly string[];
  source?: string;
}

interface Context {
  client: ProxyClient;
  deadline: number;
  log: Logger;
  dbReported?: boolean;
}

/** One request per run at most (a run that looks again asks no more). */
const asked = new WeakMap<ProxyClient, Promise<CostMap | undefined>>();

function costMap(ctx: Context): Promise<CostMap | undefined> {
  let pending = asked.get(ctx.client);
  if (pending === undefined) {
    pending = asMaster("reading LiteLLM's model list (its model cost map)", () => ctx.client.modelCostMap(), ctx).catch((err: unknown) => {
      ctx.log.warn({ reason: (err as Error).message }, "could not read LiteLLM's model list: the names of models registered on demand are not checked in this run");
      return undefined;
    });
    asked.set(ctx.client, pending);
  }
  return pending;
}

/** Where a key's models come from, as the user would fix them. */
function settingOf(spec: KeyModels | undefined): string {
  if (spec?.source === undefined) return 'its key';
  return spec.source === 'the LITELLM_DEFAULT_* settings' ? 'LITELLM_DEFAULT_MODELS (or LITELLM_MODEL)' : spec.source;
}

export async function assertKnownModels(steps: readonly { kind: string }[], keys: readonly KeyModels[], ctx: Context): Promise<void> {
  const onDemand = steps.filter((s): s is Extract<ModelStep, { kind: 'model-register' }> => s.kind === 'model-register').filter((s) => s.spec.origin === 'on-demand' && s.spec.params['api_base'] === undefined);
  if (onDemand.length === 0) return;
  const map = await costMap(ctx);
  if (map === undefined) {
    ctx.log.warn("the proxy serves no model list (GET /public/litellm_model_cost_map, /get/litellm_model_cost_map): the names of models registered on demand are not checked in this run");
    return;
  }
  const problems: string[] = [];
  for (const { spec } of onDemand) {
    if (isKnownModel(map, spec.name) !== false) continue;
    const holders = keys.filter((k) => k.models.includes(spec.name));
    const from = [...new Set(holders.map(settingOf))].join(', ');
    const aliases = holders.map((k) => JSON.stringify(k.alias)).join(', ');
    const closest = closestKnown(map, spec.name);
    problems.push(`model ${JSON.stringify(spec.name)} (key ${aliases}, from ${from}) is not a model LiteLLM knows${closest.length ? `; closest known: ${closest.map((c) => JSON.stringify(c)).join(', ')}` : ''}`);
  }
  if (problems.length === 0) return;
  throw new ConfigError(`${problems.join('; ')}; nothing was registered, no key issued or changed`, {
    hint: 'fix the model name (models are separated by commas or spaces); a model LiteLLM does not list yet, or a self-hosted one, can be declared under models: in the keys file (docs/configuration.md)',
  });
}
