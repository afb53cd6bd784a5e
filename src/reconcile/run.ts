/**
 * One run of the reconciler: observe → plan → (lock, re-observe) → apply → report.
 */
import { resolve } from 'node:path';
import { BootstrapError, DriftError, ConfigError } from '../errors.ts';
import { resolveSettings, type CliArgs, type Settings } from '../config/settings.ts';
import { desiredConfig } from '../config/keys.ts';
import type { KeySpec } from '../config/key-spec.ts';
import { createLogger, type Logger } from '../log/log.ts';
import { registerSecret } from '../log/redact.ts';
import { ProxyClient, type KeyInfo } from '../proxy/client.ts';
import { waitForProxy } from '../proxy/wait.ts';
import { readEnvFile, readGeneratedFileIfAny, type EnvFileState } from '../store/env-files.ts';
import { guardSecrets } from './secrets.ts';
import { FileKeyStore } from '../store/file-key-store.ts';
import { cleanupStaleTemps, staleTemps } from '../store/fs-atomic.ts';
import { StoreConflictError, type KeyStore } from '../store/key-store.ts';
import { Ledger } from '../store/ledger.ts';
import type { Lock } from '../store/lock.ts';
import { assertPassThrough, proxyEnvSecrets, proxyTarget, reservedNames } from '../store/mirror.ts';
import pLimit from 'p-limit';
import type { Report } from './apply.ts';
import { assertWritable, planFiles, readLitellmEnv, recoverTornEnvFile, takeLock } from './files.ts';
import { loadIndex, loadIndexRetrying } from './listing.ts';
import { isAbsent, observeKey, probeKey, type ObserveContext } from '../resources/keys/observe.ts';
import { plan as decide, describeStep, type Plan } from './plan.ts';
import { observeModels } from '../resources/models/observe.ts';
import { describeUnserved } from '../resources/models/plan.ts';
import { onDemandFrom, type ModelSpec } from '../resources/models/spec.ts';
import { agentFileWillChange, emptyReport, finishRun, mergeReports, summarize } from './report.ts';

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

function rotateFilter(args: CliArgs, keys: KeySpec[]): (spec: KeySpec) => boolean {
  if (args.rotate === false) return () => false;
  if (args.rotate === true) return () => true;
  const alias = args.rotate;
  if (!keys.some((k) => k.alias === alias)) {
    throw new ConfigError(`--rotate=${alias}: no declared key has that alias (declared: ${keys.map((k) => JSON.stringify(k.alias)).join(', ')})`);
  }
  return (spec) => spec.alias === alias;
}

/** One run with the parsed command line (`--help` and `--version` are the CLI's, see src/cli/main.ts). */
export async function run(io: RunIO, args: CliArgs, version: string): Promise<RunResult> {
  // Settings come from flags, the environment, then the .env file, so read it first.
  // Secret mode (Kubernetes) has no .env: settings come from flags and the environment only.
  const secretMode = (args.settings.LITELLM_KEY_SECRET ?? io.env.LITELLM_KEY_SECRET ?? '').trim() !== '';
  if (secretMode && args.mirrorOnly) {
    throw new ConfigError('--mirror-only writes the proxy\'s env file from .env; with LITELLM_KEY_SECRET there is neither', { hint: 'on Kubernetes the proxy reads provider keys from a Secret (environmentSecrets): docs/kubernetes.md' });
  }
  const envFilePath = resolve(io.cwd, args.settings.ENV_FILE_PATH || io.env.ENV_FILE_PATH || DEFAULT_ENV_FILE);
  // Zero-config start: the step before the proxy starts creates a missing .env from the template.
  const created = args.mirrorOnly && args.mode === 'apply' ? (await import('../store/env-init.ts')).createEnvFileIfMissing(envFilePath) : undefined;
  const recovered = secretMode ? 'none' : await recoverTornEnvFile(envFilePath);
  let mainEnv = secretMode ? undefined : await readEnvFile(envFilePath);
  const fileValues = mainEnv?.doc.values() ?? {};
  const settingsFrom = (env: EnvFileState | undefined): Settings =>
    resolveSettings({
      flags: { ...args.settings, ENV_FILE_PATH: envFilePath },
      env: io.env,
      file: env && { path: envFilePath, values: env.doc.values(), lineOf: (name) => env.doc.assignments(name).at(-1)?.line },
      isTTY: io.isTTY,
      cwd: io.cwd,
    });
  let settings = settingsFrom(mainEnv);
  registerSecret(settings.masterKey);
  registerSecret(decodeURIComponent(new URL(settings.proxyBaseUrl).password));
  // An HTTP proxy's password (HTTP_PROXY=http://user:pass@host) is as secret.
  for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) registerSecret(proxyPassword(io.env[name]));
  // Everything the proxy's env file gets (provider keys and settings, pass-throughs, the salt key, OTEL_*): never a log.
  for (const { value, credential } of [...proxyEnvSecrets(fileValues), { value: io.env.LITELLM_SALT_KEY ?? '', credential: true }]) registerSecret(value, { pieces: credential });
  const log = await createLogger({ level: settings.logLevel, format: settings.logFormat });
  io.onLogger?.(log);
  if (recovered === 'restored') log.warn({ file: envFilePath }, `an interrupted in-place write of ${envFilePath} was undone: its previous content is back`);
  // Published or weak secrets: refused before any request, and before --mirror-only hands them to the proxy.
  const guarded = await guardSecrets({ settings, mainEnv, env: io.env, fill: args.mirrorOnly && args.mode === 'apply', log });
  if (guarded.generated.length > 0) {
    mainEnv = guarded.mainEnv;
    settings = settingsFrom(mainEnv);
    registerSecret(settings.masterKey);
    for (const name of guarded.generated) registerSecret(mainEnv?.doc.get(name));
  }
  if (args.mirrorOnly && mainEnv) {
    const { mirrorOnly } = await import('./mirror-only.ts');
    const result = await mirrorOnly({ settings, mainEnv, mode: args.mode, created: created?.created ? { from: created.from } : undefined, generated: guarded.generated, log, stdout: io.stdout });
    return { ...result, log };
  }

  // The other files the bootstrap writes may have been torn the same way (bind mounts).
  if (mainEnv) for (const file of [settings.litellmEnvFilePath, Ledger.pathFor(envFilePath)]) await recoverTornEnvFile(file, envFilePath);
  const { keys, models: declaredModels } = await desiredConfig(settings);
  for (const spec of keys) if (!spec.secret && spec.file !== envFilePath) await recoverTornEnvFile(spec.file, envFilePath);
  // A LITELLM_PROXY_ENV_* line aimed at a name of ours: exit 2 before the proxy is asked anything (again under the lock: observeAndPlan).
  if (mainEnv) assertPassThrough(envFilePath, mainEnv.doc, reservedNames(settings.defaultKeyEnvName, keys));
  for (const spec of keys) {
    const target = proxyTarget(spec.env);
    if (target !== undefined) {
      throw new ConfigError(`${spec.source}: the key cannot be written to ${spec.env}, which the bootstrap copies to the proxy (as ${target}): it holds upstream provider secrets and settings`);
    }
    if (secretMode && !spec.secret) {
      throw new ConfigError(`${spec.source}: in Secret mode (LITELLM_KEY_SECRET) every key goes to a Secret, but this one names a file`, { hint: 'replace file: with secret: in the keys file' });
    }
  }
  const rotate = rotateFilter(args, keys);
  const deadline = Date.now() + settings.waitSeconds * 1000;
  let storeDeadline = deadline;
  const client = new ProxyClient({ baseUrl: settings.proxyBaseUrl, masterKey: settings.masterKey, timeoutMs: settings.requestTimeoutMs, env: io.env });
  // Keys in Secrets: the Kubernetes client loads only then.
  const secretStore = keys.some((k) => k.secret) ? await openSecretStore(io.env, settings, log, version, () => storeDeadline) : undefined;
  const lockPath = `${envFilePath}.lock`;
  let lock: Lock | undefined;
  try {
    // A run that will surely write takes the lock before looking, so it looks once (env files only:
    // Secrets are written with resourceVersion preconditions instead).
    const willWrite = mainEnv !== undefined && args.mode === 'apply' && (args.rotate !== false || keys.some((k) => !k.secret && k.file === envFilePath && isAbsent(mainEnv.doc.get(k.env), settings.placeholderKey)));
    if (willWrite) lock = await takeLock(lockPath, deadline, log);

    // Several keys: read ours in pages. A listing the master key gets was read from the database:
    // the proxy is ready, no readiness wait (one attempt; on any failure the run waits, then lists again).
    const many = keys.length > 1;
    const index = many && !willWrite ? await loadIndex(client, keys, settings.maxConcurrency).catch(() => undefined) : undefined;
    // A key already stored whose row the proxy reads (by hash, master key) shows the proxy ready: no readiness wait (one request per warm run).
    const known = new Map<string, KeyInfo>();
    let present: string | undefined;
    if (!willWrite && !many) {
      for (const k of keys) {
        const value = k.secret ? (await secretStore!.read(k)).raw : k.file === envFilePath ? mainEnv?.doc.get(k.env) : undefined;
        if (!isAbsent(value, settings.placeholderKey)) {
          present = value!.trim();
          break;
        }
      }
    }
    const probed = present === undefined ? undefined : await probeKey(client, present);
    if (probed !== undefined) known.set(present!, probed);
    // A key that reads itself was looked up in the database: there is one, and it is connected.
    const { dbReported } = probed || index ? { dbReported: true } : await waitForProxy(client, { deadline, waitSeconds: settings.waitSeconds, log });
    // After the wait, API calls get at least 15 s of retries even if the wait used the whole budget.
    const apiDeadline = Math.max(deadline, Date.now() + 15_000);
    storeDeadline = apiDeadline;
    const owner = mainEnv ? { uid: mainEnv.uid, gid: mainEnv.gid } : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    const fileStore = mainEnv && new FileKeyStore(await Ledger.load(envFilePath), { backupPath: `${settings.envFilePath}.bootstrap-backup`, owner, snapshot: lock ? undefined : mainEnv });
    const storeFor = (spec: KeySpec): KeyStore => (spec.secret ? secretStore! : fileStore!);
    const ledger = { has: (token: string) => (fileStore?.has(token) ?? false) || (secretStore?.has(token) ?? false) };
    const ctx: ObserveContext = { client, ledger, dbReported, placeholder: settings.placeholderKey, deadline: apiDeadline, log, rotate, known };
    const listKeys = async () => (many ? loadIndexRetrying(client, keys, settings.maxConcurrency, ctx) : undefined);
    ctx.index = index ?? (await listKeys());
    const lookAgain = async () => {
      known.clear(); // looking again means asking again
      fileStore?.refresh();
      secretStore?.refresh();
      ctx.index = await listKeys();
      return observeAndPlan(keys, declaredModels, settings, ctx, storeFor, fileStore, lifetime);
    };

    // Renewals keep the old key for the grace period; `--rotate` only when `--grace` is on its command line.
    const lifetime = { rotationGrace: args.rotateGrace ? settings.gracePeriod : undefined, renewalGrace: settings.gracePeriod, stores: [fileStore, secretStore].filter((x): x is NonNullable<typeof x> => x !== undefined) as KeyStore[] };
    let thePlan = await observeAndPlan(keys, declaredModels, settings, ctx, storeFor, fileStore, lifetime);
    if (args.mode !== 'apply') {
      for (const note of thePlan.notes) log.warn(note);
      const lines = thePlan.steps.map((s) => `- ${describeStep(s)}`);
      const kinds: string[] = thePlan.steps.map((s) => s.kind);
      // A key's model nobody serves and the run cannot register is drift too.
      for (const u of thePlan.unserved) {
        lines.push(`- (cannot be done by this run) ${describeUnserved(u)}`);
        kinds.push('model-unserved');
      }
      if (mainEnv && settings.agentEnvFilePath && (await agentFileWillChange(settings, keys, mainEnv, thePlan))) {
        lines.push(`- write ${settings.agentEnvFilePath} (the agent's key alone)`);
        kinds.push('agent-file');
      }
      io.stdout(lines.length ? `Plan (${lines.length} step(s)):\n${lines.join('\n')}\n` : 'Plan: nothing to do, everything is in place.\n');
      if (args.mode === 'check' && lines.length > 0) {
        throw new DriftError(`drift: ${lines.length} step(s) needed (${kinds.join(', ')})`, { hint: 'run the bootstrap without --check to apply them' });
      }
      return { summary: lines.length ? `dry run: ${lines.length} step(s) would run; nothing changed` : 'check: nothing to do, everything is in place', exitCode: 0, log };
    }
    // A killed run may have left a temp file (a copy of .env, secrets included): it must not outlive this run.
    const leftovers = lock || !mainEnv ? [] : await staleTemps(envFilePath);
    if (mainEnv && (thePlan.steps.length > 0 || leftovers.length > 0) && lock === undefined) {
      // Someone else may be doing the same work: take the lock, then look again.
      lock = await takeLock(lockPath, apiDeadline, log);
      if (thePlan.steps.length > 0) thePlan = await lookAgain();
    }
    if (lock) {
      const removed = await cleanupStaleTemps(envFilePath).catch(() => []);
      if (removed.length > 0) log.info({ files: removed }, 'removed temp files left by an interrupted run');
    }
    const agentFile = mainEnv && settings.agentEnvFilePath ? [settings.agentEnvFilePath] : [];
    const litellmBefore = thePlan.steps.some((s) => s.kind === 'mirror') ? readGeneratedFileIfAny(settings.litellmEnvFilePath).content : undefined;
    // Secrets have no lock: a write that loses a race (resourceVersion) means looking again and re-planning.
    const reports: Report[] = [];
    let modelsFailure: unknown;
    // What this run learnt of /key/regenerate (refused once: not asked again in a later round).
    const regenerate = { refused: false };
    for (let round = 1; ; round++) {
      for (const note of thePlan.notes) log.warn(note);
      for (const u of thePlan.unserved) log.warn({ model: u.model, aliases: u.aliases, closest: u.closest }, describeUnserved(u));
      await assertWritable(planFiles(thePlan), agentFile);
      // A warm run has nothing to apply: the applier loads only when there is something to do.
      if (thePlan.steps.length === 0) {
        reports.push(emptyReport(thePlan.reused));
        break;
      }
      const { Applier, ModelStepsFailed } = await import('./apply.ts');
      const applier = new Applier({ client, store: storeFor, stores: lifetime.stores, regenerate, log, deadline: apiDeadline, dbReported, owner, concurrency: settings.maxConcurrency });
      try {
        reports.push(await applier.apply(thePlan));
        break;
      } catch (err) {
        // Models come last: a proxy that cannot store them (or refuses one) still gets the keys
        // written, the agent's file too, and the failure says what was done before it.
        if (err instanceof ModelStepsFailed) {
          reports.push(applier.report);
          modelsFailure = err.failure;
          break;
        }
        if (!(err instanceof StoreConflictError) || round >= MAX_STORE_ROUNDS) throw err;
        reports.push(applier.report);
        log.info({ round, reason: err.message }, 'another run changed the key store meanwhile; looking again');
        // A random pause, growing, so racing runs stop meeting each other.
        await new Promise((r) => setTimeout(r, Math.round(Math.random() * 100 * round)));
        thePlan = await lookAgain();
      }
    }
    const report = mergeReports(reports);
    const after = mainEnv ? await finishRun({ settings, keys, declared: declaredModels.map((m) => m.name), report, thePlan, litellmBefore, owner, log }) : [];
    const summary = [summarize(report, thePlan, mainEnv !== undefined), ...after].join('; ');
    if (modelsFailure !== undefined) {
      if (!(modelsFailure instanceof BootstrapError)) throw modelsFailure;
      throw new BootstrapError(`${modelsFailure.message}; done before: ${summary.replace(/^done: /, '')}`, modelsFailure.exitCode, { hint: modelsFailure.hint, cause: modelsFailure });
    }
    return { summary, exitCode: 0, log };
  } finally {
    await lock?.release().catch(() => undefined);
    await client.close().catch(() => undefined);
    await secretStore?.close().catch(() => undefined);
  }
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

async function observeAndPlan(
  keys: KeySpec[],
  declared: ModelSpec[],
  settings: Settings,
  ctx: ObserveContext,
  storeFor: (spec: KeySpec) => KeyStore,
  fileStore: FileKeyStore | undefined,
  lifetime: { rotationGrace: string | undefined; renewalGrace: string; stores: KeyStore[] },
): Promise<Plan> {
  const mainEnv = fileStore && (await fileStore.state(settings.envFilePath));
  if (mainEnv) assertPassThrough(settings.envFilePath, mainEnv.doc, reservedNames(settings.defaultKeyEnvName, keys));
  for (const spec of keys) await storeFor(spec).read(spec);
  // Keys not found in a listing (or every key, without one) are asked about at most `maxConcurrency` at a time.
  const limit = pLimit(settings.maxConcurrency);
  const observations = await Promise.all(keys.map((spec) => limit(async () => observeKey(spec, await storeFor(spec).read(spec), ctx))));
  const litellmEnv = mainEnv && (await readLitellmEnv(settings.litellmEnvFilePath));
  const retired = lifetime.stores.flatMap((store) => store.retired());
  // Models: one /model/info. On demand only where .env says which provider keys the proxy gets (not
  // in Secret mode: there the proxy's environment is the chart's, which the bootstrap cannot see).
  const proxy = await observeModels(ctx);
  const values = mainEnv?.doc.values();
  const models = { declared, keys: keys.map((k) => ({ alias: k.alias, models: k.models })), proxy, onDemand: onDemandFrom(values), onDemandPossible: values !== undefined };
  return decide({ keys: observations, mainEnv, litellmEnv, rotate: ctx.rotate, rotationGrace: lifetime.rotationGrace, renewalGrace: lifetime.renewalGrace, retired, models });
}

