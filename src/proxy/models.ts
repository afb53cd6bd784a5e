/**
 * Whether the proxy serves a model name, matched the way LiteLLM's router does
 * (router_utils/pattern_match_deployments.py): a model_name with `*` is a pattern,
 * re.escape(pattern) with every `*` turned into `(.*)`, tried with re.match
 * (anchored at the start only). So a proxy serving `openai/*` serves
 * `openai/gpt-4o-mini`. The router also tries `<provider>/<model>` for a bare name
 * whose provider LiteLLM knows (`gpt-4o-mini` → `openai/gpt-4o-mini`); the
 * bootstrap does not carry LiteLLM's model list, so a bare name on a proxy with
 * provider wildcards counts as served (no warning rather than a false one).
 */

const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');

function patternOf(servedName: string): RegExp {
  return new RegExp(`^${servedName.split('*').map(escape).join('(.*)')}`);
}

/** Names in a key's `models` that grant several models: they are never "not served". */
export function isKeyWildcard(model: string): boolean {
  return model.includes('*') || model === 'all-proxy-models';
}

export function isServed(model: string, served: readonly string[]): boolean {
  if (served.includes(model)) return true;
  const patterns = served.filter((s) => s.includes('*'));
  if (patterns.some((p) => patternOf(p).test(model))) return true;
  // A bare name may reach a provider wildcard through LiteLLM's provider lookup.
  return !model.includes('/') && patterns.some((p) => /^[^*/]+\/\*$/.test(p));
}
