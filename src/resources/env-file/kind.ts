/**
 * The env-file kind: the proxy's env file (`.env.litellm`, 0600), mirrored from `.env` as it will be
 * after the kinds planned before it (a user's upstream key moved to its own line by the keys kind).
 * Not in Secret mode: there the proxy's provider keys come from a Secret its Deployment loads.
 * `--mirror-only` is the run with this kind alone: it asks the proxy nothing.
 */
import { missingProviderKeys, PASS_THROUGH_PREFIX } from '../../config/providers.ts';
import type { Settings } from '../../config/settings.ts';
import { writeFileAtomic } from '../../store/fs-atomic.ts';
import { readEnvFile, readGeneratedFile, readGeneratedFileIfAny, recoverTornEnvFile, type EnvFileState } from '../../store/env-files.ts';
import type { KindPlan, KindSession, ResourceKind, RunContext } from '../kind.ts';
import { assertPassThrough, changedVariables, mirrorContent, mirroredSummary, PROXY_APPLY_COMMAND, reservedNames } from './mirror.ts';

export type MirrorStep = {
  kind: 'mirror';
  path: string;
  content: string;
  /** Provider secrets written (`<PROVIDER>_API_KEY`). */
  names: string[];
  /** Provider settings and passed-through variables written (`AZURE_API_BASE`, `AWS_REGION_NAME`, ...). */
  settings: string[];
  /** Settings copied as they are (LITELLM_MASTER_KEY, OTEL_*, ...). */
  passed: string[];
  /** Variables whose value differs from the file as it is (names only, for --dry-run/--check). */
  changed: string[];
};

interface EnvFileObserved {
  mainEnv: EnvFileState;
  litellmEnv: { path: string; content: string | null; mode: number | null };
}

interface EnvFileReport {
  /** Provider secrets in the proxy's env file, when it was written. */
  mirrored: string[] | undefined;
  settings: string[];
  /** The file's content before it was written. */
  before: string | null | undefined;
  content: string | undefined;
}

/** "still to set in .env: …" or undefined when every provider a model names is configured (its key or API base). */
export function stillToSet(values: Record<string, string>, models: readonly string[], envFile: string): string | undefined {
  const missing = missingProviderKeys(values, models);
  if (missing.length === 0) return undefined;
  return `still to set in ${envFile}: ${missing.join(', ')} (the proxy cannot reach that provider without it), then apply it with \`${PROXY_APPLY_COMMAND}\``;
}

/** The step that makes the proxy's env file mirror `values` (`.env` as it will be), if it does not already, 0600. Pure. */
export function planMirror(values: Record<string, string>, litellmEnv: EnvFileObserved['litellmEnv']): MirrorStep[] {
  const mirror = mirrorContent(values);
  if (mirror.content === litellmEnv.content && litellmEnv.mode === 0o600) return [];
  return [{ kind: 'mirror', path: litellmEnv.path, content: mirror.content, names: mirror.names, settings: mirror.settings, passed: mirror.passed, changed: changedVariables(litellmEnv.content, mirror.content) }];
}

/** One secret-free line; `--mirror-only` also names what is copied as it is. */
export function describeMirrorStep(step: MirrorStep, mirrorOnly = false): string {
  if (mirrorOnly) {
    return `write ${step.path} (${step.names.length} provider secret(s): ${step.names.join(', ') || 'none'}; provider settings: ${step.settings.join(', ') || 'none'}; also ${step.passed.join(', ') || 'nothing else'})`;
  }
  const settings = step.settings.length ? `; provider settings: ${step.settings.join(', ')}` : '';
  return `write ${step.path} (${step.names.length} provider secret(s): ${step.names.join(', ') || 'none'}${settings}${step.changed.length ? `; changed: ${step.changed.join(', ')}` : ''})`;
}

/** The variables keys are written to (a pass-through may not take them); none when the keys file is unreadable. */
const keyTargets = (run: RunContext) => (run.desired['keys'] ?? []) as { env: string; source: string; models: string[] }[];

/**
 * Refuses (exit 2, nothing written) a `LITELLM_PROXY_ENV_*` line aimed at a name of ours. Without a
 * readable keys file its `env:` names are unknown: a pass-through cannot be checked, so the keys
 * file's problem is reported now.
 */
function checkPassThrough(run: RunContext, state: EnvFileState): void {
  const { settings } = run;
  if (run.desiredProblem && settings.keysFile !== undefined && Object.entries(state.doc.values()).some(([n, v]) => n.startsWith(PASS_THROUGH_PREFIX) && v.trim() !== '')) throw run.desiredProblem;
  assertPassThrough(settings.envFilePath, state.doc, reservedNames(settings.defaultKeyEnvName, keyTargets(run)));
}

class EnvFileSession implements KindSession<EnvFileObserved, MirrorStep, EnvFileReport> {
  constructor(private readonly run: RunContext) {}

  private get settings(): Settings {
    return this.run.settings;
  }

  /** Looking again (under the lock): `.env` is read again, not taken from the start of the run. */
  private again = false;

  forget(): void {
    this.again = true;
  }

  async observe(): Promise<EnvFileObserved> {
    const { run } = this;
    // Through the file key store when the run has one (it reads .env once per look); else (--mirror-only) itself.
    const mainEnv = run.fileStore ? await run.fileStore.state(this.settings.envFilePath) : this.again ? await readEnvFile(this.settings.envFilePath) : run.mainEnv!;
    checkPassThrough(run, mainEnv);
    const path = this.settings.litellmEnvFilePath;
    return { mainEnv, litellmEnv: { path, ...(run.args.mirrorOnly ? readGeneratedFileIfAny(path) : readGeneratedFile(path)) } };
  }

  plan(observed: EnvFileObserved, planned: ReadonlyMap<string, KindPlan>): KindPlan<MirrorStep> {
    // .env as it will be after the kinds before: their values whose value is known now.
    const moved: Record<string, string> = {};
    for (const p of planned.values()) for (const [name, value] of Object.entries(p.writes?.get(this.settings.envFilePath) ?? {})) if (value !== undefined) moved[name] = value;
    this.before = observed.litellmEnv.content;
    return { steps: planMirror({ ...observed.mainEnv.doc.values(), ...moved }, observed.litellmEnv), notes: [], unresolved: [] };
  }

  private before: string | null | undefined;

  describe(step: MirrorStep): string {
    return describeMirrorStep(step, this.run.args.mirrorOnly);
  }

  files(plan: KindPlan<MirrorStep>): { files: string[] } {
    return { files: plan.steps.map((s) => s.path) };
  }

  newReport(): EnvFileReport {
    return { mirrored: undefined, settings: [], before: this.before, content: undefined };
  }

  async apply(plan: KindPlan<MirrorStep>, report: EnvFileReport): Promise<void> {
    for (const step of plan.steps) {
      this.run.log.info({ step: step.kind }, this.describe(step));
      await writeFileAtomic(step.path, step.content, { mode: 0o600, ...this.run.owner });
      Object.assign(report, { mirrored: step.names, settings: step.settings, before: this.before, content: step.content });
    }
  }

  merge(reports: EnvFileReport[]): EnvFileReport {
    return reports.findLast((r) => r.mirrored) ?? reports.at(-1) ?? this.newReport();
  }

  summary(report: EnvFileReport): string[] {
    return [report.mirrored ? mirroredSummary(report.mirrored, report.settings) : 'proxy env file unchanged'];
  }

  /** That a running proxy must be restarted to see changed provider keys, and which provider keys are still empty. */
  async finish(report: EnvFileReport): Promise<string[]> {
    const { run } = this;
    const notes: string[] = [];
    if (report.content !== undefined && report.before !== null && report.before !== undefined && report.before !== report.content) {
      const changed = changedVariables(report.before, report.content).join(', ');
      notes.push(
        run.args.mirrorOnly
          ? `the proxy's env file changed (${changed}): llm-proxy reads it when it starts; if it is running, apply it with \`${PROXY_APPLY_COMMAND}\``
          : `the proxy's env file changed (${changed}): a running llm-proxy keeps the old values until \`${PROXY_APPLY_COMMAND}\``,
      );
    }
    // The keys file's own models need no provider key of .env.
    const declared = ((run.desired['models'] ?? []) as { name: string }[]).map((m) => m.name);
    const models = run.desiredProblem ? (this.settings.defaultModels ?? []) : keyTargets(run).flatMap((k) => k.models).filter((m) => !declared.includes(m));
    const todo = stillToSet((await run.mainEnvNow()).doc.values(), models, this.settings.envFilePath);
    if (todo) notes.push(todo);
    return notes;
  }
}

export const envFileKind: ResourceKind = {
  name: 'env-file',
  // Mirrors .env as the keys leave it.
  after: ['keys'],
  usesProxy: false,
  enabled: ({ secretMode }) => !secretMode,
  async open(run) {
    // A LITELLM_PROXY_ENV_* line aimed at a name of ours: exit 2 before the proxy is asked anything (again when observing).
    checkPassThrough(run, run.mainEnv!);
    // The file may have been torn by a killed in-place write (bind mounts).
    if (!run.args.mirrorOnly) await recoverTornEnvFile(run.settings.litellmEnvFilePath, run.settings.envFilePath);
    return new EnvFileSession(run);
  },
};
