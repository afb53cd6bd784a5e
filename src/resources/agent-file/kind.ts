/**
 * The agent-file kind: the agent's env file (AGENT_ENV_FILE_PATH), the keys of `.env` alone,
 * rewritten from `.env` as it is after every other kind applied (so it follows a rotation). Its
 * plan lists it for --dry-run and --check (a key issued or rotated into `.env`, or the file differs);
 * an applied run syncs it when it finishes, nothing to lock or look again for.
 */
import { agentFileContent, agentFileStale, syncAgentFile } from '../../store/agent-file.ts';
import type { KindPlan, KindSession, ResourceKind, RunContext } from '../kind.ts';

type AgentFileStep = { kind: 'agent-file'; path: string };

class AgentFileSession implements KindSession<{ stale: boolean }, AgentFileStep, { written: boolean }> {
  constructor(
    private readonly run: RunContext,
    private readonly path: string,
  ) {}

  /** The variables of `.env` that keys are written to. */
  private names(): string[] {
    const { settings } = this.run;
    return ((this.run.desired['keys'] ?? []) as { file: string; secret?: string; env: string }[]).filter((k) => !k.secret && k.file === settings.envFilePath).map((k) => k.env);
  }

  async observe(): Promise<{ stale: boolean }> {
    const { run } = this;
    if (run.args.mode === 'apply') return { stale: false }; // synced when the run finishes
    const values = (await run.fileStore!.state(run.settings.envFilePath)).doc.values();
    return { stale: agentFileStale(this.path, agentFileContent(values, this.names(), run.settings.placeholderKey)) };
  }

  plan(observed: { stale: boolean }, planned: ReadonlyMap<string, KindPlan>): KindPlan<AgentFileStep> {
    const writes = [...planned.values()].map((p) => p.writes?.get(this.run.settings.envFilePath) ?? {});
    const rewritten = this.names().some((name) => writes.some((w) => name in w && w[name] === undefined));
    const steps: AgentFileStep[] = this.run.args.mode !== 'apply' && (rewritten || observed.stale) ? [{ kind: 'agent-file', path: this.path }] : [];
    return { steps, notes: [], unresolved: [] };
  }

  describe(step: AgentFileStep): string {
    return `write ${step.path} (the agent's key alone)`;
  }

  /** Its directory is created when missing: the nearest existing one must be writable. */
  files(): { files: string[]; created: string[] } {
    return { files: [], created: [this.path] };
  }

  newReport(): { written: boolean } {
    return { written: false };
  }

  async apply(): Promise<void> {}

  merge(reports: { written: boolean }[]): { written: boolean } {
    return { written: reports.some((r) => r.written) };
  }

  summary(): string[] {
    return [];
  }

  async finish(): Promise<string[]> {
    const { run } = this;
    const names = this.names();
    const content = agentFileContent((await run.mainEnvNow()).doc.values(), names, run.settings.placeholderKey);
    if (!(await syncAgentFile(this.path, content, run.owner))) return [];
    run.log.info({ file: this.path }, `wrote the agent's env file ${this.path} (${names.join(', ')})`);
    return ["agent's env file written"];
  }
}

export const agentFileKind: ResourceKind = {
  name: 'agent-file',
  after: ['keys'],
  usesProxy: false,
  enabled: ({ secretMode, mirrorOnly, settings }) => !secretMode && !mirrorOnly && settings.agentEnvFilePath !== undefined,
  open: async (run) => new AgentFileSession(run, run.settings.agentEnvFilePath!),
};
