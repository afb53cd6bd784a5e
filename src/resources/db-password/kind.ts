/**
 * The db-password kind: the compose stack's database password file (DB_PASSWORD_FILE_PATH, set on
 * `llm-proxy-init` only), `.env`'s LLM_PROXY_DB_PASSWORD alone, 0600 in a 0700 directory, for postgres
 * (POSTGRES_PASSWORD_FILE). The start (src/reconcile/secrets.ts) has already judged the password and,
 * on a provable first start, generated it; this kind only keeps the file equal to `.env`. Not in
 * Secret mode. It asks the proxy nothing, so it takes part in `--mirror-only`.
 */
import { dbPasswordFileStale, dbPasswordOf, writeDbPasswordFile } from '../../store/db-password-file.ts';
import { readEnvFile } from '../../store/env-files.ts';
import type { KindPlan, KindSession, ResourceKind, RunContext } from '../kind.ts';

type DbPasswordStep = { kind: 'db-password'; path: string; password: string };

class DbPasswordSession implements KindSession<{ password: string | undefined }, DbPasswordStep, { written: boolean }> {
  constructor(
    private readonly run: RunContext,
    private readonly path: string,
  ) {}

  /** Looking again (under the lock): `.env` is read again, not taken from the start of the run. */
  private again = false;

  forget(): void {
    this.again = true;
  }

  async observe(): Promise<{ password: string | undefined }> {
    const { run } = this;
    // Through the file key store when the run has one (it reads .env once per look); else (--mirror-only) itself.
    const mainEnv = run.fileStore ? await run.fileStore.state(run.settings.envFilePath) : this.again ? await readEnvFile(run.settings.envFilePath) : run.mainEnv!;
    return { password: dbPasswordOf(mainEnv.doc.values()) };
  }

  plan(observed: { password: string | undefined }): KindPlan<DbPasswordStep> {
    const { password } = observed;
    const steps: DbPasswordStep[] = password !== undefined && dbPasswordFileStale(this.path, password) ? [{ kind: 'db-password', path: this.path, password }] : [];
    return { steps, notes: [], unresolved: [] };
  }

  describe(step: DbPasswordStep): string {
    return `write ${step.path} (the database password alone, for postgres)`;
  }

  /** Its directory is created when missing: the nearest existing one must be writable. */
  files(plan: KindPlan<DbPasswordStep>): { files: string[]; created: string[] } {
    return { files: [], created: plan.steps.map((s) => s.path) };
  }

  newReport(): { written: boolean } {
    return { written: false };
  }

  async apply(plan: KindPlan<DbPasswordStep>, report: { written: boolean }): Promise<void> {
    for (const step of plan.steps) {
      this.run.log.info({ step: step.kind }, this.describe(step));
      await writeDbPasswordFile(step.path, step.password, this.run.owner);
      report.written = true;
    }
  }

  merge(reports: { written: boolean }[]): { written: boolean } {
    return { written: reports.some((r) => r.written) };
  }

  summary(report: { written: boolean }): string[] {
    return report.written ? [`wrote the database password file ${this.path}`] : [];
  }
}

export const dbPasswordKind: ResourceKind = {
  name: 'db-password',
  usesProxy: false,
  enabled: ({ secretMode, settings }) => !secretMode && settings.dbPasswordFilePath !== undefined,
  open: async (run) => new DbPasswordSession(run, run.settings.dbPasswordFilePath!),
};
