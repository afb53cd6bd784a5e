/**
 * One run of the reconciler: start (settings, `.env`, the secret guard), then observe → plan →
 * apply → report over the kinds of the registry that take part (src/resources/registry.ts), each
 * done once (again only after a lost race for a Secret). `--dry-run` and `--check` stop after the
 * plan; `--mirror-only` is the same run with the kinds that ask the proxy nothing (the proxy's env
 * file), before the proxy starts. This module names no kind.
 */
import { resolve } from 'node:path';
import { ConfigError, DriftError } from '../errors.ts';
import { proxyEnvSecrets } from '../config/providers.ts';
import { resolveSettings, type CliArgs, type Settings } from '../config/settings.ts';
import { createLogger, type Logger } from '../log/log.ts';
import { registerSecret } from '../log/redact.ts';
import { ProxyClient } from '../proxy/client.ts';
import { waitForProxy } from '../proxy/wait.ts';
import { desiredSpec } from '../resources/desired.ts';
import type { DesiredSpec, RunContext } from '../resources/kind.ts';
import { KINDS } from '../resources/registry.ts';
import { readEnvFile, recoverTornEnvFile, type EnvFileState } from '../store/env-files.ts';
import { GENERATED, listed } from '../store/env-init.ts';
import { FileKeyStore } from '../store/file-key-store.ts';
import { cleanupStaleTemps, staleTemps } from '../store/fs-atomic.ts';
import { StoreConflictError, type KeyStore } from '../store/key-store.ts';
import { resolveInstallation } from '../store/installation.ts';
import { Ledger } from '../store/ledger.ts';
import type { Lock } from '../store/lock.ts';
import { assertWritable, guardFiles, ownFiles, takeLock } from './files.ts';
import { applyPlan, checkBeforeWriting, doneSoFar, observeAndPlan, report, type KindFailure, type OpenKind, type RunPlan } from './pipeline.ts';
import { guardSecrets } from './secrets.ts';
import { enterPhase } from './progress.ts';
import { noteRunFiles } from '../store/file-origins.ts';
import { duplicateAssignmentNotes } from '../store/duplicates.ts';

export interface RunIO {
  env: NodeJS.ProcessEnv;
  cwd: string;
  isTTY: boolean;
  /** Plans and help go to stdout. */
  stdout: (text: string) => void;
  /** Receives the logger as soon as settings allow making it, so failures are logged in the chosen format. */
  onLogger?: (log: Logger) => void;
}

export interface RunResult {
  /** The one-line summary the CLI ends with. */
  summary: string;
  exitCode: 0 | 5;
  log: Logger;
}

export const DEFAULT_ENV_FILE = '/bootstrap/env/.env';

interface Started {
  settings: Settings;
  mainEnv: EnvFileState | undefined;
  log: Logger;
  secretMode: boolean;
  /** What the start did that the summary says: `.env` created from the template, secrets generated. */
  done: string[];
}

/** Settings (from flags, the environment, then `.env`), the logger, and the master and salt keys judged. */
async function start(io: RunIO, args: CliArgs): Promise<Started> {
  // Settings come from flags, the environment, then the .env file, so read it first.
  // Secret mode (Kubernetes) has no .env: settings come from flags and the environment only.
  const secretMode = (args.settings.LITELLM_KEY_SECRET ?? io.env.LITELLM_KEY_SECRET ?? '').trim() !== '';
  if (secretMode && args.mirrorOnly) {
    throw new ConfigError('--mirror-only writes the proxy\'s env file from .env; with LITELLM_KEY_SECRET there is neither', { hint: 'on Kubernetes the proxy reads provider keys from a Secret (environmentSecrets): docs/kubernetes.md' });
  }
  const envFilePath = resolve(io.cwd, args.settings.ENV_FILE_PATH || io.env.ENV_FILE_PATH || DEFAULT_ENV_FILE);
  const givenOutside = (name: string) => Boolean((args.settings as Record<string, string | undefined>)[name]?.trim() || io.env[name]?.trim());
  noteRunFiles(envFilePath, givenOutside);
  // Zero-config start: the step before the proxy starts creates a missing .env from the template.
  const created = args.mirrorOnly && args.mode === 'apply' ? (await import('../store/env-init.ts')).createEnvFileIfMissing(envFilePath) : undefined;
  const recovered = secretMode ? 'none' : await recoverTornEnvFile(envFilePath);
  let mainEnv = secretMode ? undefined : await readEnvFile(envFilePath);
  const fileValues = mainEnv?.doc.values() ?? {};
  const firstEnv = mainEnv;
  // Resolved once: a first start's generated secrets change only the master key among them (below).
  let settings = resolveSettings({
    flags: { ...args.settings, ENV_FILE_PATH: envFilePath },
    env: io.env,
    file: firstEnv && { path: envFilePath, values: fileValues, lineOf: (name) => firstEnv.doc.assignments(name).at(-1)?.line },
    isTTY: io.isTTY,
    cwd: io.cwd,
  });
  noteRunFiles(envFilePath, (name) => givenOutside(name) || Boolean(mainEnv?.doc.get(name)?.trim()), settings);
  registerSecret(settings.masterKey);
  registerSecret(decodeURIComponent(new URL(settings.proxyBaseUrl).password));
  // An HTTP proxy's password (HTTP_PROXY=http://user:pass@host) is as secret.
  for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) registerSecret(proxyPassword(io.env[name]));
  // Everything the proxy's env file gets (provider keys and settings, pass-throughs, the salt key, OTEL_*): never a log.
  for (const { value, credential } of [...proxyEnvSecrets(fileValues), { value: io.env.LITELLM_SALT_KEY ?? '', credential: true }]) registerSecret(value, { pieces: credential });
  const log = await createLogger({ level: settings.logLevel, format: settings.logFormat });
  io.onLogger?.(log);
  if (mainEnv) for (const warning of guardFiles(settings, envFilePath)) log.warn(warning);
  // The agent's key variable has its own warning (resources/keys/plan.ts).
  if (mainEnv) for (const note of duplicateAssignmentNotes(mainEnv.doc, envFilePath, new Set([settings.defaultKeyEnvName]))) log.warn(note);
  if (recovered === 'restored') log.warn({ file: envFilePath }, `an interrupted in-place write of ${envFilePath} was undone: its previous content is back`);
  // Published or weak secrets: refused before any request, and before --mirror-only hands them to the proxy.
  const guarded = await guardSecrets({ settings, mainEnv, env: io.env, fill: args.mirrorOnly && args.mode === 'apply', log });
  if (guarded.generated.length > 0) {
    mainEnv = guarded.mainEnv;
    // The salt key and the database password are no settings of this run; the master key is one when
    // .env is where it came from (its line, edited in place, is where it still comes from).
    const masterKey = mainEnv?.doc.get('LITELLM_MASTER_KEY')?.trim();
    if (guarded.generated.includes('LITELLM_MASTER_KEY') && settings.masterKeySource.startsWith(envFilePath) && masterKey) settings = { ...settings, masterKey };
    registerSecret(settings.masterKey);
    for (const name of guarded.generated) registerSecret(mainEnv?.doc.get(name));
  }
  const done: string[] = [];
  if (created?.created) done.push(`created ${settings.envFilePath} from ${created.from} with a fresh random ${listed(GENERATED)}`);
  if (guarded.generated.length > 0) done.push(`first start: a fresh random ${listed(guarded.generated)} replaced the template's published placeholder in ${settings.envFilePath}`);
  return { settings, mainEnv, log, secretMode, done };
}

/** Does a spec of any kind live in a Kubernetes Secret (`secret: <name>`)? Then the Secret store opens. */
const namesSecrets = (desired: DesiredSpec) => Object.values(desired).some((specs) => specs.some((s) => typeof (s as { secret?: unknown }).secret === 'string'));

/** One run with the parsed command line (`--help` and `--version` are the CLI's, see src/cli/main.ts). */
export async function run(io: RunIO, args: CliArgs, version: string): Promise<RunResult> {
  const { settings, mainEnv, log, secretMode, done } = await start(io, args);
  const envFilePath = settings.envFilePath;
  // The ledger may have been torn the same way (bind mounts).
  if (mainEnv && !args.mirrorOnly) await recoverTornEnvFile(Ledger.pathFor(envFilePath), envFilePath);
  // --mirror-only carries on without a readable keys file (the main run reports it); a kind that needs it says so.
  let desired: DesiredSpec = {};
  let desiredProblem: Error | undefined;
  try {
    desired = await desiredSpec(settings);
  } catch (err) {
    if (!args.mirrorOnly) throw err;
    desiredProblem = err as Error;
  }
  const kinds = KINDS.filter((k) => k.enabled({ secretMode, mirrorOnly: args.mirrorOnly, settings }));
  const usesProxy = kinds.some((k) => k.usesProxy);
  let envNow: Promise<EnvFileState> | undefined;
  const ctx: RunContext = {
    settings,
    args,
    log,
    desired,
    desiredProblem,
    mainEnv,
    owner: mainEnv ? { uid: mainEnv.uid, gid: mainEnv.gid } : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    storeFor: (target) => (target.secret ? secretStore! : fileStore!),
    stores: [],
    fileStore: undefined,
    proxy: undefined,
    installation: undefined,
    mainEnvNow: () => (envNow ??= readEnvFile(envFilePath)),
  };
  // Each kind checks what it can before the proxy is asked anything (exit 2).
  const open: OpenKind[] = [];
  for (const kind of kinds) open.push({ kind, session: await kind.open(ctx) });

  const deadline = Date.now() + settings.waitSeconds * 1000;
  let storeDeadline = deadline;
  const client = usesProxy ? new ProxyClient({ baseUrl: settings.proxyBaseUrl, masterKey: settings.masterKey, timeoutMs: settings.requestTimeoutMs, env: io.env }) : undefined;
  // Keys in Secrets: the Kubernetes client loads only then.
  const secretStore = namesSecrets(desired) ? await openSecretStore(io.env, settings, log, version, () => storeDeadline) : undefined;
  let fileStore: FileKeyStore | undefined;
  const lockPath = `${envFilePath}.lock`;
  let lock: Lock | undefined;
  try {
    // A run that will surely write takes the lock before looking, so it looks once (env files only:
    // Secrets are written with resourceVersion preconditions instead).
    const willWrite = open.some((k) => k.session.surelyWrites?.() ?? false);
    if (willWrite) enterPhase({ what: `waiting for the lock ${lockPath}`, changes: false });
    if (willWrite) lock = await takeLock(lockPath, deadline, log);
    if (client) {
      enterPhase({ what: `waiting for the proxy at ${client.baseUrl}`, changes: false });
      // A cheap read of a kind that shows the proxy ready (a stored key's row, a page of our keys): no readiness wait.
      let ready = false;
      for (const k of willWrite ? [] : open) if (!ready && k.session.proveReady) ready = await k.session.proveReady(client, deadline);
      const { dbReported } = ready ? { dbReported: true } : await waitForProxy(client, { deadline, waitSeconds: settings.waitSeconds, log });
      // After the wait, API calls get at least 15 s of retries even if the wait used the whole budget.
      ctx.proxy = { client, deadline: Math.max(deadline, Date.now() + 15_000), dbReported };
      enterPhase({ what: `reading the keys and models on the proxy at ${client.baseUrl}`, changes: false });
    }
    const apiDeadline = ctx.proxy?.deadline ?? Math.max(deadline, Date.now() + 15_000);
    storeDeadline = apiDeadline;
    // The key stores: for kinds that ask the proxy (--mirror-only reads no ledger).
    const ledger = mainEnv && usesProxy ? await Ledger.load(envFilePath) : undefined;
    // This installation's id: the first run that writes records it in the ledger, under the lock,
    // before anything carrying it is issued; what the kinds read before the lock, they read again.
    if (ledger !== undefined && ledger.installation() === undefined && args.mode === 'apply' && lock === undefined) {
      lock = await takeLock(lockPath, apiDeadline, log);
      for (const k of open) k.session.forget?.();
    }
    if (usesProxy) ctx.installation = await resolveInstallation({ ledger, secretStore, keySecret: settings.keySecret, record: args.mode === 'apply', takeOver: args.takeOverAlias, owner: ctx.owner });
    fileStore = ledger && new FileKeyStore(ledger, { backupPath: `${envFilePath}.bootstrap-backup`, owner: ctx.owner, snapshot: lock ? undefined : mainEnv, mainEnvPath: envFilePath });
    ctx.fileStore = fileStore;
    ctx.stores = [fileStore, secretStore].filter((s): s is NonNullable<typeof s> => s !== undefined) as KeyStore[];
    const lookAgain = async () => {
      for (const k of open) k.session.forget?.();
      fileStore?.refresh();
      secretStore?.refresh();
      return observeAndPlan(open);
    };

    // Observe and plan.
    let plan = await observeAndPlan(open);
    const label = args.mirrorOnly ? 'done (mirror only)' : 'done';
    if (args.mode !== 'apply') {
      for (const note of plan.notes) log.warn(note);
      // What the proxy would refuse before any write refuses the plan too: a plan printed is the plan that would run.
      await checkBeforeWriting(plan);
      return { ...showPlan(plan, args.mode, io.stdout), log };
    }

    // Apply. A killed run may have left a temp file (a copy of .env, secrets included): it must not outlive this run.
    // Temp files carry no pid: a locked run removes those of every file it may write, whatever pid wrote them.
    const leftovers = lock || !mainEnv ? [] : await staleTemps(ownFiles(settings, envFilePath, desired));
    // Every write holds the lock, a file written when the run finishes too (the agent's).
    const finishing = lock === undefined && mainEnv !== undefined && plan.stepCount === 0 && (await plan.finishWrites());
    if (mainEnv && (plan.stepCount > 0 || leftovers.length > 0 || finishing) && lock === undefined) {
      // Someone else may be doing the same work: take the lock, then look again.
      lock = await takeLock(lockPath, apiDeadline, log);
      if (plan.stepCount > 0) plan = await lookAgain();
    }
    if (lock) {
      const removed = await cleanupStaleTemps(ownFiles(settings, envFilePath, desired)).catch(() => []);
      if (removed.length > 0) log.info({ files: removed }, 'removed temp files left by an interrupted run');
    }
    // Secrets have no lock: a write that loses a race (resourceVersion) means looking again and re-planning.
    const rounds: Map<string, unknown>[] = [];
    let failure: KindFailure | undefined;
    for (let round = 1; ; round++) {
      for (const note of plan.notes) log.warn(note);
      for (const k of open) for (const u of plan.plans.get(k.kind.name)!.unresolved) log.warn(...u.log);
      const files = plan.files();
      await assertWritable(files.files, files.created);
      // What the proxy would refuse of the plan, where it tells beforehand (its version): exit 2 before any write.
      await checkBeforeWriting(plan);
      const reports = new Map<string, unknown>();
      rounds.push(reports);
      enterPhase({ what: 'applying the plan', changes: true, planned: plan.stepCount, done: () => doneSoFar(open, plan, rounds) });
      try {
        failure = await applyPlan(plan, reports, log);
        break;
      } catch (err) {
        if (!(err instanceof StoreConflictError) || round >= MAX_STORE_ROUNDS) throw err;
        log.info({ round, reason: err.message }, 'another run changed the key store meanwhile; looking again');
        // A random pause, growing, so racing runs stop meeting each other.
        await new Promise((r) => setTimeout(r, Math.round(Math.random() * 100 * round)));
        plan = await lookAgain();
      }
    }
    // Report.
    return { summary: await report({ kinds: open, plan, rounds, label, prefix: done, failure }), exitCode: 0, log };
  } finally {
    await lock?.release().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await secretStore?.close().catch(() => undefined);
  }
}

/** --dry-run and --check: the plan on stdout (once the proxy's policy allows it); --check fails (exit 5) when it is not empty. */
function showPlan(plan: RunPlan, mode: CliArgs['mode'], stdout: (text: string) => void): { summary: string; exitCode: 0 } {
  const lines = plan.lines();
  stdout(lines.length ? `Plan (${lines.length} step(s)):\n${lines.map((l) => `- ${l.line}`).join('\n')}\n` : 'Plan: nothing to do, everything is in place.\n');
  if (mode === 'check' && lines.length > 0) {
    throw new DriftError(`drift: ${lines.length} step(s) needed (${lines.map((l) => l.kind).join(', ')})`, { hint: 'run the bootstrap without --check to apply them' });
  }
  return { summary: lines.length ? `dry run: ${lines.length} step(s) would run; nothing changed` : 'check: nothing to do, everything is in place', exitCode: 0 };
}

/** How many times a run re-plans after losing a race for a Secret before it gives up (exit 3). */
const MAX_STORE_ROUNDS = 8;

async function openSecretStore(env: NodeJS.ProcessEnv, settings: Settings, log: Logger, version: string, deadline: () => number) {
  const [{ inClusterConfig }, { KubeClient }, { SecretKeyStore }] = await Promise.all([import('../kube/in-cluster.ts'), import('../kube/client.ts'), import('../store/secret-store.ts')]);
  const kube = await KubeClient.open(inClusterConfig(env), { timeoutMs: settings.requestTimeoutMs, log, userAgent: `llm-proxy-bootstrap/${version}` });
  const store = new SecretKeyStore(kube, { deadline, log });
  return Object.assign(store, { close: () => kube.close() });
}

function proxyPassword(url: string | undefined): string | undefined {
  try {
    return url ? decodeURIComponent(new URL(url).password) : undefined;
  } catch {
    return undefined;
  }
}

