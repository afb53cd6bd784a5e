/**
 * The users kind: LiteLLM internal users declared in the keys file's `users:` section. Applied
 * before the keys (a key's `user_id` joins a declared user, which then exists with its budget and
 * limits before the key is issued), pruned after them. Asks the proxy (`GET /user/list`, in pages)
 * only when the file writes `users:`.
 */
import type { ProxyUser } from '../../proxy/client.ts';
import { newInstallationId } from '../../store/installation.ts';
import { emptyRosterReport, mergeRosterReports, rosterSummary } from '../roster.ts';
import type { KindPlan, KindSession, ResourceKind, RunContext } from '../kind.ts';
import { applyUsers, pruneUsers, type UserReport } from './apply.ts';
import { asMaster } from '../../proxy/as-master.ts';
import { describeUserStep, planUsers, type UserStep } from './plan.ts';
import { usersSection, type UserSpec } from './spec.ts';

class UsersSession implements KindSession<ProxyUser[] | undefined, UserStep, UserReport> {
  private readonly fallbackId = newInstallationId();

  constructor(
    private readonly run: RunContext,
    private readonly declared: UserSpec[] | undefined,
  ) {}

  async observe(): Promise<ProxyUser[] | undefined> {
    if (this.declared === undefined) return undefined;
    const proxy = this.run.proxy!;
    return asMaster("listing the proxy's users", () => proxy.client.users(), { ...proxy, log: this.run.log });
  }

  plan(observed: ProxyUser[] | undefined): KindPlan<UserStep> {
    if (observed === undefined) return { steps: [], notes: [], unresolved: [], removes: new Set() };
    const installation = this.run.installation ?? { id: this.fallbackId, takeOver: false };
    const planned = planUsers({ declared: this.declared ?? [], proxy: observed, installation, prune: true });
    return { steps: planned.steps, notes: planned.notes, unresolved: [], removes: planned.removes };
  }

  describe(step: UserStep): string {
    return describeUserStep(step);
  }

  files(): { files: string[] } {
    return { files: [] };
  }

  newReport(): UserReport {
    return emptyRosterReport();
  }

  private context() {
    return { ...this.run.proxy!, log: this.run.log, concurrency: this.run.settings.maxConcurrency };
  }

  async apply(plan: KindPlan<UserStep>, report: UserReport): Promise<void> {
    await applyUsers(plan.steps, report, this.context());
  }

  async prune(plan: KindPlan<UserStep>, report: UserReport): Promise<void> {
    await pruneUsers(plan.steps, report, this.context());
  }

  merge(reports: UserReport[]): UserReport {
    return mergeRosterReports(reports);
  }

  summary(report: UserReport): string[] {
    return rosterSummary('user', report);
  }
}

export const usersKind: ResourceKind = {
  name: 'users',
  // Keys are issued to users: users are created and updated before them, removed after the keys left them.
  before: ['keys'],
  section: usersSection,
  usesProxy: true,
  enabled: ({ mirrorOnly }) => !mirrorOnly,
  open: async (run) => new UsersSession(run, run.desired['users'] as UserSpec[] | undefined),
};
