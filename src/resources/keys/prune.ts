/**
 * Keys dropped from the keys file: keys this installation's ledger recorded issuing under an alias
 * no longer declared are retired. Observed here (read-only), planned as one `prune` step per
 * alias, applied in the key kind's `prune` (after every kind's apply, by KeyApplier.prune): the key deleted from the proxy at once, then the variable
 * that still holds it emptied, then the ledger entry forgotten (each step repeatable, so a kill
 * anywhere leaves the next run to finish). Only keys this installation issued: the candidates come
 * from its own ledger, and a key that now names another installation is not deleted. A key made
 * by hand is never in the ledger, so never a candidate.
 *
 * A warm run whose ledger holds no undeclared alias asks nothing.
 */
import pLimit from 'p-limit';
import type { KeyInfo } from '../../proxy/client.ts';
import { NotFoundError } from '../../proxy/errors.ts';
import { asMaster } from '../../proxy/as-master.ts';
import type { KeySpec } from './spec.ts';
import type { KeyStore, RecordedKey } from '../../store/key-store.ts';
import { installationOf } from '../../store/installation.ts';
import type { KeyObservation, ObserveContext } from './observe.ts';
import { ownerOf } from './ownership.ts';

/** A recorded key whose alias is no longer declared, and what the proxy has of it. */
export interface DroppedKey {
  entry: RecordedKey;
  /** The proxy's row; undefined: already gone (deleted by hand, or by a run killed before it forgot). */
  info: KeyInfo | undefined;
  /** The row names another installation (taken over since): not deleted, only forgotten here. */
  foreign: string | undefined;
}

/** Keys recorded in the stores' ledgers under aliases no key declares any more, looked up on the proxy. */
export async function observeDropped(keys: readonly KeySpec[], observations: readonly KeyObservation[], stores: readonly KeyStore[], ctx: ObserveContext, concurrency: number): Promise<DroppedKey[]> {
  const declared = new Set(keys.map((k) => k.alias));
  // A key a declared store holds is never dropped (an alias renamed in the settings, a restored backup).
  const held = new Set(observations.flatMap((o) => (o.state.kind === 'absent' ? [] : [o.state.token])));
  // Keys in their grace period are the purge's (lifetime.ts).
  const retired = new Set(stores.flatMap((s) => s.retired().map((r) => r.token)));
  const seen = new Set<string>();
  const candidates = stores.flatMap((store) =>
    store.issued().filter((e) => {
      if (declared.has(e.alias) || held.has(e.token) || retired.has(e.token) || seen.has(e.token)) return false;
      seen.add(e.token);
      return true;
    }),
  );
  if (candidates.length === 0) return [];
  const limit = pLimit(concurrency);
  return Promise.all(
    candidates.map((entry) =>
      limit(async (): Promise<DroppedKey> => {
        const info = ctx.index?.get(entry.token) ?? (await lookUp(entry.token, ctx));
        const foreign = info && ownerOf(info, ctx, entry.token) === 'foreign' ? installationOf(info.metadata) : undefined;
        return { entry, info, foreign };
      }),
    ),
  );
}

async function lookUp(token: string, ctx: ObserveContext): Promise<KeyInfo | undefined> {
  try {
    return await asMaster('looking up a key no longer declared', () => ctx.client.keyInfoByHash(token), ctx);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** One step per dropped alias: the keys of ours to delete from the proxy, and every entry to forget. */
export type PruneStep = { kind: 'prune'; alias: string; delete: string[]; forget: RecordedKey[]; variables: string[] };

export function planPrune(dropped: readonly DroppedKey[], notes: string[]): PruneStep[] {
  const steps: PruneStep[] = [];
  for (const [alias, group] of Map.groupBy(dropped, (d) => d.entry.alias)) {
    for (const d of group) if (d.foreign) notes.push(`key ${JSON.stringify(alias)} is no longer declared, but the proxy's key now belongs to another installation (${d.foreign}): it is left alone and forgotten here`);
    const variables = [...new Set(group.flatMap((d) => (d.entry.env ? [d.entry.secret ? `data.${d.entry.env} of Secret ${d.entry.secret}` : d.entry.env] : [])))];
    steps.push({ kind: 'prune', alias, delete: group.filter((d) => d.info && !d.foreign).map((d) => d.entry.token), forget: group.map((d) => d.entry), variables });
  }
  return steps;
}

export function describePrune(step: PruneStep): string {
  const where = step.variables.length ? `; empty ${step.variables.join(', ')} if it still holds it` : '';
  if (step.delete.length === 0) return `forget key ${JSON.stringify(step.alias)} (no longer declared; already gone from the proxy)${where}`;
  return `retire key ${JSON.stringify(step.alias)} (no longer declared): delete ${step.delete.length} key(s) from the proxy, revoked at once${where}`;
}
