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

/** Levenshtein distance, for "did you mean" on model names (and the cost map's closest names). */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

export function closestModel(model: string, served: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of served) {
    const score = distance(model.toLowerCase(), candidate.toLowerCase());
    if (score < bestScore) [best, bestScore] = [candidate, score];
  }
  return best;
}

/** Models of a key the proxy does not route (see proxy/models.ts: wildcards like `openai/*` serve `openai/gpt-4o-mini`). */
export function unservedModels(models: string[], served: string[]): { model: string; closest: string | undefined }[] {
  return models.filter((m) => !isKeyWildcard(m) && !isServed(m, served)).map((model) => ({ model, closest: closestModel(model, served) }));
}
