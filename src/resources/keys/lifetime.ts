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

/**
 * The life the proxy gave the key (its expiry after its issue, both by the proxy's clock) fits
 * inside the renew window: LiteLLM 1.77 rounds a new key's expiry to the calendar boundaries of
 * budget resets (`3h` issued at 16:17 expires at 18:00), so a renewal, issuing a key the same
 * way, would get the same expiry back and be due again at once. Such a key is not renewed: its
 * exact lifetime is set with /key/update instead (1.77 adds exact seconds there), once.
 */
export function bornInsideWindow(spec: Pick<KeySpec, 'renewBefore'>, info: Pick<KeyInfo, 'expires' | 'createdAt'>): boolean {
  if (spec.renewBefore === undefined || info.expires === null || !info.createdAt) return false;
  const life = Date.parse(info.expires) - Date.parse(info.createdAt);
  return Number.isFinite(life) && life <= durationMs(spec.renewBefore);
}

/**
 * What keeping the key alive takes at `now`: nothing, a renewal (a new key), or, for a key the
 * proxy gave a life shorter than its renew window (see bornInsideWindow), setting its exact
 * lifetime (`extend`), which moves the expiry later where a renewal would not.
 */
export function renewal(spec: Pick<KeySpec, 'renewBefore' | 'duration'>, info: Pick<KeyInfo, 'expires' | 'createdAt'>, now: number): 'renew' | 'extend' | undefined {
  if (!renewalDue(spec, info, now)) return undefined;
  return spec.duration !== undefined && bornInsideWindow(spec, info) ? 'extend' : 'renew';
}

/**
 * The proxy gave a new key less life than its duration asks: LiteLLM 1.77 rounds a new key's
 * expiry down to the calendar boundaries of budget resets (`3h` at 16:17 expires at 18:00, `1d` at
 * midnight). Read from the answer (its expiry after its issue, both the proxy's times; without a
 * `created_at`, `issuedAt` by the proxy's clock); a few ms of the proxy's own bookkeeping, up to
 * 1% of the duration (at most a minute), do not count. Month durations are calendar months on
 * every version (never rounded down by more than the month's own length): not judged here.
 */
export function lifeShortened(spec: Pick<KeySpec, 'duration'>, answer: { expires: string | null; createdAt?: string | null | undefined }, issuedAt: number): boolean {
  if (spec.duration === undefined || spec.duration.endsWith('mo') || answer.expires === null) return false;
  const created = answer.createdAt ? Date.parse(answer.createdAt) : issuedAt;
  const life = Date.parse(answer.expires) - (Number.isFinite(created) ? created : issuedAt);
  const wanted = durationMs(spec.duration);
  return Number.isFinite(life) && life < wanted - Math.min(60_000, wanted / 100);
}

/** The names of a key's lifetime settings, for messages: the LITELLM_DEFAULT_* variables or the keys-file fields. */
export function lifetimeSettings(spec: Pick<KeySpec, 'source'>): { duration: string; renewBefore: string } {
  if (spec.source === 'the LITELLM_DEFAULT_* settings') return { duration: 'LITELLM_DEFAULT_KEY_DURATION', renewBefore: 'LITELLM_DEFAULT_KEY_RENEW_BEFORE' };
  return { duration: `duration (${spec.source})`, renewBefore: `renew_before (${spec.source})` };
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
