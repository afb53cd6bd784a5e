/**
 * Observe the teams kind: one `GET /team/list` (master key), only when the keys file writes a
 * `teams:` section or a key joins a team by its alias; otherwise nothing is asked (the default
 * single-key run stays at two requests).
 */
import { asMaster } from '../../proxy/as-master.ts';
import type { ProxyClient, ProxyTeam } from '../../proxy/client.ts';
import type { Logger } from '../../log/log.ts';

export async function observeTeams(ctx: { client: ProxyClient; deadline: number; log: Logger; dbReported?: boolean }): Promise<ProxyTeam[]> {
  return asMaster("listing the proxy's teams", () => ctx.client.teams(), ctx);
}
