/**
 * A key's life after it is issued, decided from what the proxy reports (pure, no I/O): renewal
 * before its expiry, the marks a rotation leaves in the keys' metadata while it runs, and the
 * signs that the proxy rotated a key itself (LiteLLM's auto_rotate, PR #14877).
 */
import { durationMs } from '../../config/duration.ts';
import type { KeySpec } from './spec.ts';
import type { KeyInfo } from '../../proxy/client.ts';

/**
 * A rotation issues the new key without an alias (aliases are unique, and an alias
 * of our own making could fail an operator's key_alias_pattern), marked with this
 * metadata field until it takes the alias over.
 */
export const ROTATION_MARK = 'bootstrap_rotation';
/** On a rotation's new key while it is pending: the grace the old key gets (absent: the old key is revoked at once). */
export const GRACE_MARK = 'bootstrap_grace';
/** On a key a renewal replaced: until when it keeps working (ISO); a later run deletes it. */
export const RETIRED_MARK = 'bootstrap_retired_until';

/** The marks a finished rotation drops from the new key. */
export const PENDING_MARKS = [ROTATION_MARK, GRACE_MARK] as const;

/** The expiry the proxy reports, if it is within the key's renew window at `now`. */
export function renewalDue(spec: Pick<KeySpec, 'renewBefore'>, info: Pick<KeyInfo, 'expires'>, now: number): boolean {
  if (spec.renewBefore === undefined || info.expires === null) return false;
  const expires = Date.parse(info.expires);
  return Number.isFinite(expires) && expires - now <= durationMs(spec.renewBefore);
}

/** A key a renewal replaced and left to run out its grace. */
export function isRetired(info: Pick<KeyInfo, 'metadata'>): boolean {
  return typeof info.metadata[RETIRED_MARK] === 'string';
}

/**
 * The proxy's rotation record of a key, when it rotates it: rotation_count > 0 or a
 * last_rotation_at (LiteLLM counts only for keys with a rotation_interval), or auto_rotate on
 * (its job regenerates every auto_rotate key that is due, interval or not).
 */
export function proxyRotation(info: Pick<KeyInfo, 'rotation'>): { count: number | null; lastAt: string | null } | undefined {
  const r = info.rotation;
  if (!r) return undefined;
  return (r.count ?? 0) > 0 || r.lastAt !== null || r.autoRotate === true ? { count: r.count || null, lastAt: r.lastAt } : undefined;
}

/** The metadata that retires a key until `until`: the others' fields kept (/key/update replaces metadata whole). */
export function retiredMetadata(metadata: Record<string, unknown>, until: string): Record<string, unknown> {
  const others = Object.fromEntries(Object.entries(metadata).filter(([k]) => !(PENDING_MARKS as readonly string[]).includes(k)));
  return { ...others, [RETIRED_MARK]: until };
}

/** When a grace that starts now ends (ISO). */
export function graceEnd(grace: string, now: number): string {
  return new Date(now + durationMs(grace)).toISOString();
}
