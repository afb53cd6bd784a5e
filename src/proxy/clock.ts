/**
 * The proxy's clock. A key's `expires` and `created_at` are the proxy's times, and LiteLLM
 * decides expiry by its own clock: whether a key is due for renewal, expired, or past a grace
 * is judged against the proxy's "now", read from the `Date` header of its answers (uvicorn
 * sends one with every answer). A header counts whole seconds, so clocks within a few seconds
 * are taken as agreeing; without a header the local clock is used.
 */

/** Below this the difference is the header's rounding and the request's time, not a clock apart. */
const AGREE_MS = 5_000;

export class ProxyClock {
  private offsetMs = 0;

  /** Records the proxy's time from an answer's Date header, received at local time `localMs`. */
  observe(date: string | string[] | undefined, localMs: number): void {
    const value = Array.isArray(date) ? date[0] : date;
    if (value === undefined) return;
    const proxyMs = Date.parse(value);
    if (!Number.isFinite(proxyMs)) return;
    const offset = proxyMs - localMs;
    this.offsetMs = Math.abs(offset) < AGREE_MS ? 0 : offset;
  }

  /** The proxy's "now" (epoch ms), as far as its answers tell. */
  now(): number {
    return Date.now() + this.offsetMs;
  }
}

/** The proxy's "now" for a client that may not read the proxy's clock (a test double). */
export function proxyNow(client: { clock?: ProxyClock } | undefined): number {
  return client?.clock?.now() ?? Date.now();
}
