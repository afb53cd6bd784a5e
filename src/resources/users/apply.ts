/**
 * The user steps: creates and updates in the kind's apply (before the keys issued to them), at most
 * `concurrency` requests in flight; removals in the kind's prune (after the keys). A user is removed
 * only when it holds no key: LiteLLM's /user/delete deletes the user's keys with it
 * (internal_user_endpoints.delete_user). Each step is repeatable: /user/new of a user_id that
 * exists leaves the row as it is (insert_data upserts with update={}), so a kill anywhere leaves the
 * next run to finish.
 */
import { firstFailure, settleAll } from '../../batch.ts';
import { asMaster } from '../../proxy/as-master.ts';
import { removeWhenEmpty, type RosterContext, type RosterReport } from '../roster.ts';
import { describeUserStep, type UserStep } from './plan.ts';

export type UserApplyContext = RosterContext;
export type UserReport = RosterReport;

export async function applyUsers(steps: readonly UserStep[], report: UserReport, ctx: UserApplyContext): Promise<void> {
  const writes = steps.filter((s) => s.kind !== 'user-remove');
  for (const step of writes) ctx.log.info({ step: step.kind }, describeUserStep(step));
  const results = await settleAll(writes, ctx.concurrency, async (step) => {
    if (step.kind === 'user-create') {
      await asMaster(`creating user ${JSON.stringify(step.spec.userId)}`, () => ctx.client.createUser(step.body), ctx);
      report.created.push(step.spec.userId);
    } else if (step.kind === 'user-update') {
      await asMaster(`updating user ${JSON.stringify(step.spec.userId)}`, () => ctx.client.updateUser(step.body), ctx);
      report.updated.push(step.spec.userId);
    }
  });
  const failure = firstFailure(results);
  if (failure !== undefined) throw failure;
}

export async function pruneUsers(steps: readonly UserStep[], report: UserReport, ctx: UserApplyContext): Promise<void> {
  const removals = steps.filter((s): s is Extract<UserStep, { kind: 'user-remove' }> => s.kind === 'user-remove');
  await removeWhenEmpty(
    'user',
    removals.map((step) => ({
      step,
      name: step.userId,
      fields: { user: step.userId },
      keys: () => ctx.client.keysOfUser(step.userId, () => true),
      remove: () => ctx.client.deleteUser(step.userId),
    })),
    report,
    ctx,
    describeUserStep,
  );
}
