/**
 * The team steps: creates and updates (the kind's apply, before the keys that join them), at most
 * `concurrency` requests in flight; removals in the kind's prune (after the keys were moved out or
 * pruned). A team is removed only when it holds no key: LiteLLM's /team/delete deletes the team's
 * keys with it (team_endpoints.delete_team, "DELETE ASSOCIATED KEYS"), and a key someone else put
 * into a team of ours is not ours to delete. Each step is repeatable: a kill anywhere leaves the
 * next run to finish (the deterministic team_id makes a second /team/new fail, not duplicate).
 */
import { firstFailure, settleAll } from '../../batch.ts';
import { asMaster } from '../../proxy/as-master.ts';
import { TeamIdTakenError } from '../../proxy/errors.ts';
import { removeWhenEmpty, type RosterContext, type RosterReport } from '../roster.ts';
import { describeTeamStep, type TeamStep } from './plan.ts';

export type TeamApplyContext = RosterContext;
export type TeamReport = RosterReport;

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
  await removeWhenEmpty(
    'team',
    removals.map((step) => ({
      step,
      name: step.alias,
      fields: { team: step.alias, teamId: step.teamId },
      keys: () => ctx.client.keysOfTeam(step.teamId),
      remove: () => ctx.client.deleteTeam(step.teamId),
    })),
    report,
    ctx,
    describeTeamStep,
  );
}
