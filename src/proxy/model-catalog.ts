/**
 * Whether LiteLLM knows a `<provider>/<model>`, by its model cost map (client.modelCostMap):
 * the names LiteLLM prices and routes. As LiteLLM's get_llm_provider reads a name, the map lists
 * a model under its full name (`gemini/gemini-2.5-flash`) or its bare name with the provider in
 * `litellm_provider` (`gpt-4o-mini`, provider `openai`; `gemini-pro`, `vertex_ai-language-models`).
 */
import { distance } from './models.ts';

export type CostMap = ReadonlyMap<string, string | undefined>;

/** `vertex_ai-language-models` belongs to `vertex_ai`, `text-completion-openai` to `openai`. */
function ofProvider(litellmProvider: string | undefined, provider: string): boolean {
  if (litellmProvider === undefined) return false;
  const p = litellmProvider.toLowerCase();
  return p === provider || p.startsWith(`${provider}-`) || p.endsWith(`-${provider}`);
}

/** The names the map lists for a provider, as `<provider>/<model>`. */
export function knownForProvider(map: CostMap, provider: string): string[] {
  const names = new Set<string>();
  for (const [name, owner] of map) {
    if (name.toLowerCase().startsWith(`${provider}/`)) names.add(name);
    else if (ofProvider(owner, provider)) names.add(`${provider}/${name}`);
  }
  return [...names];
}

/** True when the map lists the model; undefined when it lists nothing for its provider (it cannot tell). */
export function isKnownModel(map: CostMap, model: string): boolean | undefined {
  const slash = model.indexOf('/');
  if (slash <= 0) return undefined;
  const provider = model.slice(0, slash).toLowerCase();
  const rest = model.slice(slash + 1);
  if (map.has(model) || ofProvider(map.get(rest), provider)) return true;
  return knownForProvider(map, provider).length === 0 ? undefined : false;
}

/** Up to `n` names of the model's provider closest to it. */
export function closestKnown(map: CostMap, model: string, n = 3): string[] {
  const provider = model.slice(0, Math.max(0, model.indexOf('/'))).toLowerCase();
  const lower = model.toLowerCase();
  return knownForProvider(map, provider)
    .map((name) => ({ name, d: distance(lower, name.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || (a.name < b.name ? -1 : 1))
    .slice(0, n)
    .map((x) => x.name);
}
