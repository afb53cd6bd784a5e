/**
 * What the proxy's own policy will refuse of the key steps, checked before the run's first write
 * where the proxy tells it: its LiteLLM version (readiness, or its details with the master key).
 * Read only when a step depends on it, so a run with nothing to write asks nothing more.
 * LiteLLM exposes no route that reads `key_alias_pattern` or `upperbound_key_generate_params`
 * back: those refusals come mid-run and are named then (see proxy/refusals.ts keyWriteRefusal).
 */
import { ConfigError } from '../../errors.ts';
import type { ProxyClient } from '../../proxy/client.ts';
import { MONTHS_ON_GENERATE_SINCE, olderThan } from '../../proxy/versions-known.ts';
import type { KeyStep } from './plan.ts';
import { lifetimeSettings } from './lifetime.ts';

/** A key duration in months other than 1 (`2mo`, `12mo`): its number of months, else undefined. */
export function manyMonths(duration: string | undefined): number | undefined {
  const m = duration === undefined ? null : /^(\d+)mo$/.exec(duration);
  return m && Number(m[1]) > 1 ? Number(m[1]) : undefined;
}

/** Exit 2 before any write when the proxy's version refuses what a key step would send. */
export async function checkKeyPolicy(steps: readonly { kind: string }[], client: Pick<ProxyClient, 'litellmVersion'>): Promise<void> {
  const issuing = steps.filter((s): s is Extract<KeyStep, { kind: 'issue' | 'rotate' }> => s.kind === 'issue' || s.kind === 'rotate');
  const months = issuing.filter((s) => manyMonths(s.spec.duration) !== undefined);
  if (months.length === 0) return;
  const version = await client.litellmVersion();
  if (!olderThan(version, ...MONTHS_ON_GENERATE_SINCE)) return;
  const spec = months[0]!.spec;
  const n = manyMonths(spec.duration)!;
  throw new ConfigError(
    `${lifetimeSettings(spec).duration} ${spec.duration}: the proxy (LiteLLM ${version}) issues keys for months only as 1mo ("Monthly resets currently only support 1 month intervals"); nothing was changed`,
    { hint: `use days instead, e.g. ${n * 30}d (LiteLLM ${MONTHS_ON_GENERATE_SINCE.join('.')} and newer take ${spec.duration})` },
  );
}
