/**
 * The teams kind: LiteLLM teams declared in the keys file's `teams:` section. Planned and applied
 * before the keys (a key joins a team by its alias: `team:`; the keys' plan reads this plan's
 * `resolved` team_ids, planned ones included), pruned after them (a team dropped from the file is
 * removed once its keys were moved or pruned). Asks the proxy only when the file writes `teams:`
 * or a key joins a team.
 */
import type { ProxyTeam } from '../../proxy/client.ts';
import { newInstallationId } from '../../store/installation.ts';
import { emptyRosterReport, mergeRosterReports, rosterSummary } from '../roster.ts';
import type { KindPlan, KindSession, ResourceKind, RunContext } from '../kind.ts';
import { applyTeams, pruneTeams, type TeamReport } from './apply.ts';
import { observeTeams } from './observe.ts';
import { describeTeamStep, planTeams, type TeamStep } from './plan.ts';
import { teamsSection, type TeamSpec } from './spec.ts';

/** What a key of the keys file says of its team (the keys kind's spec, read structurally). */
interface KeyTeamRef {
  team?: string | undefined;
}

class TeamsSession implements KindSession<ProxyTeam[] | undefined, TeamStep, TeamReport> {
  /** An installation for a run that knows none (no key store): nothing on the proxy is ours then. */
  private readonly fallbackId = newInstallationId();

  constructor(
    private readonly run: RunContext,
    private readonly declared: TeamSpec[] | undefined,
  ) {}

  /** Does this run look at teams at all? */
  private get looks(): boolean {
    return this.declared !== undefined || ((this.run.desired['keys'] ?? []) as KeyTeamRef[]).some((k) => k.team !== undefined);
  }

  async observe(): Promise<ProxyTeam[] | undefined> {
    if (!this.looks) return undefined;
    return observeTeams({ ...this.run.proxy!, log: this.run.log });
  }

  plan(observed: ProxyTeam[] | undefined): KindPlan<TeamStep> {
    if (observed === undefined) return { steps: [], notes: [], unresolved: [], resolved: new Map(), removes: new Set() };
    const installation = this.run.installation ?? { id: this.fallbackId, takeOver: false };
    const planned = planTeams({ declared: this.declared ?? [], proxy: observed, installation, prune: this.declared !== undefined });
    return { steps: planned.steps, notes: planned.notes, unresolved: [], resolved: planned.resolved, removes: planned.removes };
  }

  describe(step: TeamStep): string {
    return describeTeamStep(step);
  }

  files(): { files: string[] } {
    return { files: [] };
  }

  newReport(): TeamReport {
    return emptyRosterReport();
  }

  private context() {
    const proxy = this.run.proxy!;
    return { ...proxy, log: this.run.log, concurrency: this.run.settings.maxConcurrency };
  }

  async apply(plan: KindPlan<TeamStep>, report: TeamReport): Promise<void> {
    await applyTeams(plan.steps, report, this.context());
  }

  async prune(plan: KindPlan<TeamStep>, report: TeamReport): Promise<void> {
    await pruneTeams(plan.steps, report, this.context());
  }

  merge(reports: TeamReport[]): TeamReport {
    return mergeRosterReports(reports);
  }

  summary(report: TeamReport): string[] {
    return rosterSummary('team', report);
  }
}

export const teamsKind: ResourceKind = {
  name: 'teams',
  // Keys join teams: teams are created and updated before them, removed after the keys left them.
  before: ['keys'],
  section: teamsSection,
  usesProxy: true,
  enabled: ({ mirrorOnly }) => !mirrorOnly,
  open: async (run) => new TeamsSession(run, run.desired['teams'] as TeamSpec[] | undefined),
};
