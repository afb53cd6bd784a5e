/**
 * Reading our keys in pages (/key/list, scoped by the declared keys' user_id) when a run has
 * several keys: once without retries as the warm path's readiness proof, then with retries.
 */
import type { KeySpec } from './spec.ts';
import type { ProxyClient } from '../../proxy/client.ts';
import { RouteRefusedError } from '../../proxy/errors.ts';
import { KeyIndex } from '../../proxy/key-list.ts';
import { asMaster } from '../../proxy/as-master.ts';
import type { ObserveContext } from './observe.ts';

const userIdsOf = (keys: KeySpec[]) => keys.flatMap((k) => (k.userId === undefined ? [] : [k.userId]));

/** One attempt per page, no retries: the warm path's readiness proof for several keys. */
export function loadIndex(client: ProxyClient, keys: KeySpec[], concurrency: number): Promise<KeyIndex> {
  return KeyIndex.load(client, userIdsOf(keys), { concurrency, keyCount: keys.length });
}

/**
 * The listing with retries and the master-key checks of every other call. A proxy that
 * refuses it otherwise (a 4xx: an older or restricted proxy) is read key by key instead.
 */
export async function loadIndexRetrying(client: ProxyClient, keys: KeySpec[], concurrency: number, ctx: ObserveContext): Promise<KeyIndex | undefined> {
  try {
    return await KeyIndex.load(client, userIdsOf(keys), { concurrency, keyCount: keys.length, call: (what, fn) => asMaster(what, fn, ctx) });
  } catch (err) {
    if (err instanceof RouteRefusedError) {
      ctx.log.info({ status: Number(err.answered.status) }, 'the proxy does not list keys; reading them one by one');
      return undefined;
    }
    throw err;
  }
}
