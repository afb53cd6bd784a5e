/**
 * Container-test plumbing: the Docker CLI, the images built once per run (by
 * test/support/docker-global-setup.ts, handed to tests with vitest's provide/inject),
 * the proxy the bootstrap container talks to (the LiteLLM stand-in, or real LiteLLM +
 * postgres when LITELLM_IMAGE is set), one-shot `docker run`s of the bootstrap, and the
 * Compose v2 CLI (`docker compose`).
 *
 * Everything a test starts is named `lpb-test-<run>-…` and labelled
 * `io.llm-proxy-bootstrap.test=<run>`, so .ci/docker-teardown.sh can remove leftovers.
 */
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';

export { REPO_ROOT } from './process.ts';
import { REPO_ROOT } from './process.ts';
export const NAME_PREFIX = 'lpb-test';
export const TEST_LABEL = 'io.llm-proxy-bootstrap.test';
export const MASTER_KEY = 'sk-container-test-master-key-0123456789';
export const TEST_MODEL = 'openai/gpt-4o-mini';

/** What the global setup hands to every container test. */
export interface DockerContext {
  /** Set when the container tests cannot run here; the reason is shown in the suite name. */
  skip: string | undefined;
  runId: string;
  docker: string;
  /** The image built from ./Dockerfile for this run. */
  bootstrapImage: string;
  /** The LiteLLM stand-in as an image (test/support/stand-in.Dockerfile). Empty in real mode. */
  standInImage: string;
  /** Image of the example agent service (a Node 24 image with a shell). */
  agentImage: string;
  /** 'stand-in', or 'real' when LITELLM_IMAGE (+ POSTGRES_IMAGE) is set. */
  mode: 'stand-in' | 'real';
  litellmImage: string;
  postgresImage: string;
  compose: ComposeCli | undefined;
  /** Why the compose test cannot run (no compose CLI), if so. */
  composeSkip: string | undefined;
}

export interface ComposeCli {
  /** argv prefix: [<docker>, 'compose']. */
  argv: string[];
  version: string;
}

/** The oldest Compose the tests accept: v2 (docs/stack.md); CI installs 2.26.1, nothing older than 2.24 is tried. */
export const MIN_COMPOSE = [2, 24] as const;

declare module 'vitest' {
  export interface ProvidedContext {
    docker: DockerContext;
  }
}

/** The context from the global setup; a skipping one when that setup is not configured. */
export function dockerContext(provided: DockerContext | undefined): DockerContext {
  return (
    provided ?? {
      skip: 'test/support/docker-global-setup.ts is not in vitest globalSetup',
      runId: 'none',
      docker: 'docker',
      bootstrapImage: '',
      standInImage: '',
      agentImage: '',
      mode: 'stand-in',
      litellmImage: '',
      postgresImage: '',
      compose: undefined,
      composeSkip: undefined,
    }
  );
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

export { dockerCliPath, exec, type ExecResult } from './process.ts';
import { exec, type ExecResult } from './process.ts';

export async function docker(ctx: Pick<DockerContext, 'docker'>, args: readonly string[], timeoutMs = 120_000): Promise<ExecResult> {
  return exec(ctx.docker, args, { timeoutMs, env: { ...process.env, DOCKER_BUILDKIT: '1' } });
}

/** Runs docker and throws with its output when it fails. */
export async function dockerOk(ctx: Pick<DockerContext, 'docker'>, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  const r = await docker(ctx, args, timeoutMs);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}:\n${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Is an engine reachable? Undefined when it is, else why not. */
export async function engineProblem(cli: string): Promise<string | undefined> {
  try {
    const r = await exec(cli, ['version', '--format', '{{.Server.Version}}'], { timeoutMs: 20_000 });
    if (r.code === 0 && r.stdout.trim() !== '') return undefined;
    return `no Docker engine reachable (${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 200) || `exit ${r.code}`})`;
  } catch (err) {
    return `no Docker CLI (${(err as Error).message})`;
  }
}

/**
 * `docker compose` (the Compose v2 CLI plugin, as users run it), when it is at least MIN_COMPOSE;
 * else why not. The Python `docker-compose` 1.x is not used.
 */
export async function findCompose(cli: string): Promise<ComposeCli | string> {
  const argv = [cli, 'compose'];
  let version = '';
  try {
    const r = await exec(cli, ['compose', 'version', '--short'], { timeoutMs: 20_000 });
    version = r.code === 0 ? r.stdout.trim().replace(/^v/, '') : '';
  } catch {
    // no docker CLI
  }
  const m = /^(\d+)\.(\d+)\./.exec(version);
  if (!m) return `no Compose v2 (\`${cli} compose version\` failed; .ci/docker-setup.sh installs it)`;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major < MIN_COMPOSE[0] || (major === MIN_COMPOSE[0] && minor < MIN_COMPOSE[1])) return `Compose ${version} is older than ${MIN_COMPOSE.join('.')}`;
  return { argv, version };
}

// ---------------------------------------------------------------------------
// Env directories
// ---------------------------------------------------------------------------

/** The uid:gid the bootstrap container runs as: ours, or 1000 when we are root. */
export function testUser(): { uid: number; gid: number } {
  const uid = process.getuid?.() ?? 1000;
  const gid = process.getgid?.() ?? 1000;
  return uid === 0 ? { uid: 1000, gid: 1000 } : { uid, gid };
}

/** A temp dir holding `.env`, owned by the test user (the container rewrites files in it). */
export async function makeEnvDir(envText: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `${NAME_PREFIX}-env-`));
  const file = path.join(dir, '.env');
  await writeFile(file, envText, { mode: 0o600 });
  const { uid, gid } = testUser();
  if (process.getuid?.() === 0) {
    await chown(dir, uid, gid);
    await chown(file, uid, gid);
  }
  await chmod(dir, 0o700);
  return dir;
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** `NAME=value` of a dotenv text (last wins; quotes stripped). */
export function envValue(text: string, name: string): string | undefined {
  let value: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && m[1] === name) value = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return value;
}

// ---------------------------------------------------------------------------
// The proxy the bootstrap talks to
// ---------------------------------------------------------------------------

export interface StandInState {
  requests: { method: string; path: string; auth: string; status: number; at: number }[];
  keys: { token: string; key_alias: string | null; models: string[] }[];
}

export interface ProxyUnderTest {
  /** Base URL reachable from the test process. */
  url: string;
  /** Stand-in only: its request log and stored keys. */
  state(): Promise<StandInState | undefined>;
  stop(): Promise<void>;
}

export function labels(ctx: Pick<DockerContext, 'runId'>): Record<string, string> {
  return { [TEST_LABEL]: ctx.runId };
}

export async function startNetwork(ctx: DockerContext, name: string): Promise<StartedNetwork> {
  return new Network({ nextUuid: () => `${NAME_PREFIX}-${ctx.runId}-${name}` }).start();
}

/**
 * The proxy on `network` under the alias `llm-proxy` (the bootstrap's default URL):
 * the stand-in, or real LiteLLM + postgres (alias `llm-proxy-db`) in real mode.
 */
export async function startProxy(ctx: DockerContext, network: StartedNetwork, name: string): Promise<ProxyUnderTest> {
  const started: StartedTestContainer[] = [];
  const stop = async (): Promise<void> => {
    for (const c of started.reverse()) await c.stop({ remove: true, removeVolumes: true }).catch(() => undefined);
  };
  try {
    if (ctx.mode === 'stand-in') {
      const c = await new GenericContainer(ctx.standInImage)
        .withName(`${NAME_PREFIX}-${ctx.runId}-${name}-stand-in`)
        .withLabels(labels(ctx))
        .withNetwork(network)
        .withNetworkAliases('llm-proxy')
        .withEnvironment({ LITELLM_MASTER_KEY: MASTER_KEY, STAND_IN_MODELS: TEST_MODEL })
        .withExposedPorts(4000)
        .withWaitStrategy(Wait.forLogMessage(/stand-in listening on/))
        .withStartupTimeout(30_000)
        .start();
      started.push(c);
      const url = `http://${c.getHost()}:${c.getMappedPort(4000)}`;
      return {
        url,
        stop,
        async state() {
          const res = await fetch(`${url}/__stand-in/state`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
          if (!res.ok) throw new Error(`stand-in state answered ${res.status}`);
          return (await res.json()) as StandInState;
        },
      };
    }
    const db = await new GenericContainer(ctx.postgresImage)
      .withName(`${NAME_PREFIX}-${ctx.runId}-${name}-db`)
      .withLabels(labels(ctx))
      .withNetwork(network)
      .withNetworkAliases('llm-proxy-db')
      .withEnvironment({ POSTGRES_USER: 'litellm', POSTGRES_PASSWORD: 'litellm', POSTGRES_DB: 'litellm' })
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .withStartupTimeout(120_000)
      .start();
    started.push(db);
    const proxy = await new GenericContainer(ctx.litellmImage)
      .withName(`${NAME_PREFIX}-${ctx.runId}-${name}-litellm`)
      .withLabels(labels(ctx))
      .withNetwork(network)
      .withNetworkAliases('llm-proxy')
      .withEnvironment({
        LITELLM_MASTER_KEY: MASTER_KEY,
        LITELLM_SALT_KEY: 'sk-container-test-salt-key',
        DATABASE_URL: 'postgresql://litellm:litellm@llm-proxy-db:5432/litellm',
        STORE_MODEL_IN_DB: 'True',
      })
      .withBindMounts([{ source: path.join(REPO_ROOT, 'volumes/litellm/proxy_config.yaml'), target: '/etc/litellm/proxy_config.yaml', mode: 'ro' }])
      .withCommand(['--config', '/etc/litellm/proxy_config.yaml', '--port', '4000'])
      .withExposedPorts(4000)
      .withWaitStrategy(Wait.forHttp('/health/liveliness', 4000).forStatusCode(200))
      .withStartupTimeout(300_000)
      .start();
    started.push(proxy);
    return { url: `http://${proxy.getHost()}:${proxy.getMappedPort(4000)}`, stop, state: async () => undefined };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** How many keys carry `alias`, per the proxy's own /key/list (master key). */
export async function keysWithAlias(proxyUrl: string, alias: string): Promise<number> {
  const res = await fetch(`${proxyUrl}/key/list?key_alias=${encodeURIComponent(alias)}&return_full_object=true&size=100`, {
    headers: { authorization: `Bearer ${MASTER_KEY}` },
  });
  if (!res.ok) throw new Error(`/key/list answered ${res.status}`);
  const body = (await res.json()) as { keys: ({ key_alias?: string | null } | string)[] };
  return body.keys.filter((k) => typeof k === 'object' && k.key_alias === alias).length;
}

/** GET /v1/models with `key`: the status and the model ids. */
export async function modelsWithKey(proxyUrl: string, key: string): Promise<{ status: number; ids: string[] }> {
  const res = await fetch(`${proxyUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  const body = res.ok ? ((await res.json()) as { data: { id: string }[] }) : { data: [] };
  return { status: res.status, ids: body.data.map((m) => m.id) };
}

// ---------------------------------------------------------------------------
// One-shot bootstrap runs
// ---------------------------------------------------------------------------

export interface BootstrapRun extends ExecResult {
  /** Container start → exit as the engine recorded it (State.StartedAt → FinishedAt). */
  containerMs: number;
}

let runCounter = 0;

/**
 * `docker run` of the bootstrap image the way compose runs it: the env dir bind-mounted
 * read-write at /bootstrap/env, a non-root uid, read-only root filesystem, no capabilities.
 */
export async function runBootstrap(
  ctx: DockerContext,
  opts: { network: StartedNetwork; envDir: string; args?: string[]; env?: Record<string, string>; tmpfs?: boolean },
): Promise<BootstrapRun> {
  const name = `${NAME_PREFIX}-${ctx.runId}-bootstrap-${++runCounter}`;
  const { uid, gid } = testUser();
  const args = [
    'run',
    '--name', name,
    '--label', `${TEST_LABEL}=${ctx.runId}`,
    '--network', opts.network.getName(),
    '--user', `${uid}:${gid}`,
    '--read-only',
    '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges:true',
    '-v', `${opts.envDir}:/bootstrap/env`,
    ...(opts.tmpfs ? ['--tmpfs', '/tmp'] : []),
    ...Object.entries({ LITELLM_PROXY_WAIT_SECONDS: '60', ...opts.env }).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    ctx.bootstrapImage,
    ...(opts.args ?? []),
  ];
  try {
    const r = await docker(ctx, args, 180_000);
    const inspect = await docker(ctx, ['inspect', '--format', '{{.State.StartedAt}} {{.State.FinishedAt}}', name]);
    const [startedAt, finishedAt] = inspect.stdout.trim().split(' ');
    const containerMs = startedAt && finishedAt ? isoMs(finishedAt) - isoMs(startedAt) : Number.NaN;
    return { ...r, containerMs };
  } finally {
    await docker(ctx, ['rm', '-f', name]).catch(() => undefined);
  }
}

/** Docker's RFC 3339 timestamps carry nanoseconds; keep the sub-millisecond part. */
function isoMs(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return Date.parse(ts);
  return Date.parse(`${m[1]}${m[3]}`) + Number(`0.${m[2] ?? '0'}`) * 1000;
}

export function describeRun(r: ExecResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

// ---------------------------------------------------------------------------
// Compose
// ---------------------------------------------------------------------------

/** Runs the compose CLI with the project's files and environment. */
export async function compose(
  cli: ComposeCli,
  project: { name: string; files: string[]; env: Record<string, string>; projectDir: string },
  args: string[],
  timeoutMs = 300_000,
): Promise<ExecResult> {
  const argv = [
    ...cli.argv.slice(1),
    '--project-name', project.name,
    '--project-directory', project.projectDir,
    ...project.files.flatMap((f) => ['-f', f]),
    ...args,
  ];
  return exec(cli.argv[0]!, argv, { env: { ...process.env, ...project.env }, timeoutMs, cwd: project.projectDir });
}

/** Id of the (possibly exited) container of `service` in compose project `project`. */
export async function composeContainer(ctx: DockerContext, project: string, service: string): Promise<string> {
  const out = await dockerOk(ctx, [
    'ps', '-aq',
    '--filter', `label=com.docker.compose.project=${project}`,
    '--filter', `label=com.docker.compose.service=${service}`,
  ]);
  const id = out.trim().split('\n')[0];
  if (!id) throw new Error(`no container for service ${service} in project ${project}`);
  return id;
}

export async function containerState(ctx: DockerContext, id: string): Promise<{ status: string; exitCode: number; startedAt: number; finishedAt: number }> {
  const out = await dockerOk(ctx, ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}} {{.State.StartedAt}} {{.State.FinishedAt}}', id]);
  const [status = '', exitCode = '', startedAt = '', finishedAt = ''] = out.trim().split(' ');
  return { status, exitCode: Number(exitCode), startedAt: isoMs(startedAt), finishedAt: isoMs(finishedAt) };
}
