/**
 * Observe the models kind: one `GET /model/info` (master key) per look. Best effort, as the
 * served-model check of keys always was: a proxy that will not list its models leaves the
 * models kind out of this run (a warning says so) and never fails the keys.
 */
import { asMaster } from '../../proxy/as-master.ts';
import type { ProxyClient, ProxyModel } from '../../proxy/client.ts';
import type { Logger } from '../../log/log.ts';

export async function observeModels(ctx: { client: ProxyClient; deadline: number; log: Logger; dbReported?: boolean }): Promise<ProxyModel[] | undefined> {
  try {
    return await asMaster("listing the proxy's models", () => ctx.client.models(), ctx);
  } catch (err) {
    ctx.log.warn({ reason: (err as Error).message }, "could not list the proxy's models: models are not checked nor registered in this run");
    return undefined;
  }
}
