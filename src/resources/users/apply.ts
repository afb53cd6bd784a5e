/**
 * The user steps: creates and updates in the kind's apply (before the keys issued to them), at most
 * `concurrency` requests in flight; removals in the kind's prune (after the keys). A user is removed
 * only when it holds no key: LiteLLM's /user/delete deletes the user's keys with it
 * (internal_user_endpoints.delete_user). Each step is repeatable: /user/new of a user_id that
 * exists leaves the row as it is (insert_data upserts with update={}), so a kill anywhere leaves the
 * next run to finish.
 */
import { firstFailure, settleAll } from '../../batch.ts';
import type { Logger } from '../../log/log.ts';
import { asMaster } from '../../proxy/as-master.ts';
import type { ProxyClient } from '../../proxy/client.ts';
import { describeUserStep, type UserStep } from './plan.ts';

export interface UserApplyContext {
  client: ProxyClient;
  log: Logger;
  deadline: number;
  dbReported: boolean;
  concurrency: number;
}

export interface UserReport {
  created: string[];
  updated: string[];
  removed: string[];
  kept: string[];
}

export const emptyUserReport = (): UserReport => ({ created: [], updated: [], removed: [], kept: [] });

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
  const results = await settleAll(removals, ctx.concurrency, async (step) => {
    const keys = await asMaster(`listing the keys of user ${JSON.stringify(step.userId)}`, () => ctx.client.keysOfUser(step.userId, () => true), ctx);
    if (keys.length > 0) {
      ctx.log.warn(
        { user: step.userId, keys: keys.length },
        `user ${JSON.stringify(step.userId)} is no longer declared but still holds ${keys.length} key(s) (LiteLLM would delete them with it): left in place; move or delete those keys and run again`,
      );
      report.kept.push(step.userId);
      return;
    }
    ctx.log.info({ step: step.kind }, describeUserStep(step));
    await asMaster(`removing user ${JSON.stringify(step.userId)}`, () => ctx.client.deleteUser(step.userId), ctx);
    report.removed.push(step.userId);
  });
  const failure = firstFailure(results);
  if (failure !== undefined) throw failure;
}
