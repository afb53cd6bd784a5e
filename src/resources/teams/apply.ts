/**
 * The team steps: creates and updates (the kind's apply, before the keys that join them), at most
 * `concurrency` requests in flight; removals in the kind's prune (after the keys were moved out or
 * pruned). A team is removed only when it holds no key: LiteLLM's /team/delete deletes the team's
 * keys with it (team_endpoints.delete_team, "DELETE ASSOCIATED KEYS"), and a key someone else put
 * into a team of ours is not ours to delete. Each step is repeatable: a kill anywhere leaves the
 * next run to finish (the deterministic team_id makes a second /team/new fail, not duplicate).
 */
import { firstFailure, settleAll } from '../../batch.ts';
import type { Logger } from '../../log/log.ts';
import { asMaster } from '../../proxy/as-master.ts';
import type { ProxyClient } from '../../proxy/client.ts';
import { TeamIdTakenError } from '../../proxy/errors.ts';
import { describeTeamStep, type TeamStep } from './plan.ts';

export interface TeamApplyContext {
  client: ProxyClient;
  log: Logger;
  deadline: number;
  dbReported: boolean;
  concurrency: number;
}

export interface TeamReport {
  created: string[];
  updated: string[];
  removed: string[];
  /** Teams no longer declared left in place: they still hold keys. */
  kept: string[];
}

export const emptyTeamReport = (): TeamReport => ({ created: [], updated: [], removed: [], kept: [] });

export async function applyTeams(steps: readonly TeamStep[], report: TeamReport, ctx: TeamApplyContext): Promise<void> {
  const writes = steps.filter((s) => s.kind !== 'team-remove');
  for (const step of writes) ctx.log.info({ step: step.kind }, describeTeamStep(step));
  const results = await settleAll(writes, ctx.concurrency, async (step) => {
    if (step.kind === 'team-create') {
      try {
        await asMaster(`creating team ${JSON.stringify(step.spec.alias)}`, () => ctx.client.createTeam(step.body), ctx);
      } catch (err) {
        // Our team_id exists: an earlier attempt whose answer was lost, or another run meanwhile; the next look compares it.
        if (!(err instanceof TeamIdTakenError)) throw err;
        ctx.log.info({ team: step.spec.alias, teamId: step.teamId }, `team ${JSON.stringify(step.spec.alias)} was created already (team_id ${step.teamId})`);
      }
      report.created.push(step.spec.alias);
    } else if (step.kind === 'team-update') {
      await asMaster(`updating team ${JSON.stringify(step.spec.alias)}`, () => ctx.client.updateTeam(step.body), ctx);
      report.updated.push(step.spec.alias);
    }
  });
  const failure = firstFailure(results);
  if (failure !== undefined) throw failure;
}

export async function pruneTeams(steps: readonly TeamStep[], report: TeamReport, ctx: TeamApplyContext): Promise<void> {
  const removals = steps.filter((s): s is Extract<TeamStep, { kind: 'team-remove' }> => s.kind === 'team-remove');
  const results = await settleAll(removals, ctx.concurrency, async (step) => {
    const keys = await asMaster(`listing the keys of team ${JSON.stringify(step.alias)}`, () => ctx.client.keysOfTeam(step.teamId), ctx);
    if (keys.length > 0) {
      ctx.log.warn(
        { team: step.alias, teamId: step.teamId, keys: keys.length },
        `team ${JSON.stringify(step.alias)} is no longer declared but still holds ${keys.length} key(s) (LiteLLM would delete them with it): left in place; move or delete those keys and run again`,
      );
      report.kept.push(step.alias);
      return;
    }
    ctx.log.info({ step: step.kind }, describeTeamStep(step));
    await asMaster(`removing team ${JSON.stringify(step.alias)}`, () => ctx.client.deleteTeam(step.teamId), ctx);
    report.removed.push(step.alias);
  });
  const failure = firstFailure(results);
  if (failure !== undefined) throw failure;
}
