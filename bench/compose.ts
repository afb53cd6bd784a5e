/**
 * Ready → agent in the compose stack as shipped (issue 10): the real docker-compose.yml with the
 * LiteLLM stand-in in the proxy's place (test/container/docker-compose.stand-in.yml), whose
 * ready moment is known: it listens at once and reports db "connected" 1.5 s later, as LiteLLM
 * answers HTTP before its database is connected. Per run:
 *   - readySince: when the stand-in could first answer ready (its /__stand-in/state, epoch ms),
 *   - the bootstrap's exit and the agent's start (docker inspect; the engine's clock is the host's),
 *   - `docker compose up -d` → the agent's exit, as the user waits for it.
 * and each wait of compose's own ordering (issue 17): from a dependency being ready (exited 0, or
 * its first healthy probe: `docker events` health_status, the engine's clock) to its dependant's
 * State.StartedAt, per depends_on edge, and the database's start → healthy (its healthcheck interval).
 * `gate: 'healthy'` measures the ordering issue 10 replaced (the bootstrap waiting for the proxy's
 * healthcheck, every 5 s as shipped) and `gate: 'db5s'` the database healthcheck issue 17 replaced
 * (every 5 s), each through one more override file, for comparison.
 */
import { spawn } from 'node:child_process';
import { chown, copyFile, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { exec as execWith } from '../test/support/process.ts';
import { exec, isoMs, stats, type Row } from './lib.ts';

export interface ComposeBenchOptions {
  docker: string;
  root: string;
  scratch: string;
  runs: number;
  gates: Gate[];
  bootstrapImage: string;
  standInImage: string;
  agentImage: string;
  progress: (msg: string) => void;
}

export type Gate = 'started' | 'healthy' | 'db5s';

/** Each wait of compose's ordering, ms (see WAITS). */
export type Waits = Record<(typeof WAITS)[number]['id'], number>;

export interface ComposeSample {
  gate: Gate;
  readyToAgentMs: number;
  readyToBootstrapExitMs: number;
  upToAgentExitMs: number;
  waits: Waits;
}

/** The depends_on edges of docker-compose.yml, and the database's healthcheck delay. */
const WAITS = [
  { id: 'initToProxy', figure: 'init exited → proxy started (also waits for the db)' },
  { id: 'dbHealthyToProxy', figure: 'db healthy → proxy started (also waits for init)' },
  { id: 'lastDepToProxy', figure: "proxy's last dependency ready → proxy started" },
  { id: 'proxyToBootstrap', figure: 'proxy started → bootstrap started' },
  { id: 'bootstrapToAgent', figure: 'bootstrap exited → agent started' },
  { id: 'dbStartToHealthy', figure: 'db started → db healthy (its first probe that passed)' },
  // The same edges up to when the engine began starting the dependant (its network `connect` event):
  // compose's own waiting, without the engine's container start.
  { id: 'lastDepToProxyStart', figure: "proxy's last dependency ready → compose starts the proxy" },
  { id: 'proxyToBootstrapStart', figure: 'proxy started → compose starts the bootstrap' },
  { id: 'bootstrapToAgentStart', figure: 'bootstrap exited → compose starts the agent' },
  { id: 'engineStart', figure: 'the engine starting a container (network connect → StartedAt), per container' },
] as const;
/**
 * Compose's waits between a service's last dependency being ready and its starting the service
 * (issue 17: none over 1 s). The proxy has two dependencies: only the later one's wait is compose's.
 * The engine's own start of the container comes on top (reported: 0.3-0.9 s on a loaded 2-core machine).
 */
const EDGE_WAITS: readonly (keyof Waits)[] = ['lastDepToProxyStart', 'proxyToBootstrapStart', 'bootstrapToAgentStart'];

const MASTER = 'sk-bench-compose-master-0123456789';
const PROVIDER = 'sk-bench-compose-upstream-openai-0123456789';

/** The ordering before issue 10: the bootstrap waits for the proxy's healthcheck, at the shipped 5 s interval. */
const HEALTHY_GATE = `services:
  llm-proxy-bootstrap:
    depends_on: !override
      llm-proxy:
        condition: service_healthy
  llm-proxy:
    healthcheck:
      interval: 5s
      start_period: 30s
`;

/** The database healthcheck before issue 17: every 5 s. */
const DB_5S = `services:
  llm-proxy-db:
    healthcheck:
      interval: 5s
`;

export async function composeBench(o: ComposeBenchOptions): Promise<{ rows: Row[]; samples: ComposeSample[] }> {
  const samples: ComposeSample[] = [];
  const healthyFile = path.join(o.scratch, 'compose-healthy-gate.yml');
  await writeFile(healthyFile, HEALTHY_GATE);
  const db5sFile = path.join(o.scratch, 'compose-db-5s.yml');
  await writeFile(db5sFile, DB_5S);
  const label: Record<Gate, string> = {
    started: 'as shipped',
    healthy: 'bootstrap gated on proxy healthy (before #10)',
    db5s: 'db probed every 5 s (before #17)',
  };
  const uid = process.getuid?.() === 0 ? 1000 : (process.getuid?.() ?? 1000);
  const gid = process.getuid?.() === 0 ? 1000 : (process.getgid?.() ?? 1000);
  for (let i = 0; i < o.runs; i++) {
    for (const gate of o.gates) {
      o.progress(`compose stack: run ${i + 1}/${o.runs}, ${label[gate]}`);
      samples.push(await oneStack(o, gate, gate === 'healthy' ? [healthyFile] : gate === 'db5s' ? [db5sFile] : [], { uid, gid }, i));
    }
  }
  const rows: Row[] = [];
  for (const gate of o.gates) {
    const s = samples.filter((x) => x.gate === gate);
    const l = label[gate];
    rows.push({ id: `compose.${gate}.readyToAgent`, figure: `compose: proxy ready → agent started, ${l}`, unit: 'ms', stats: stats(s.map((x) => x.readyToAgentMs)), ...(gate === 'started' ? { goal: 'median ≤ 1500 ms', pass: stats(s.map((x) => x.readyToAgentMs)).median <= 1500 } : {}) });
    rows.push({ id: `compose.${gate}.readyToBootstrapExit`, figure: `compose: proxy ready → bootstrap exit, ${l}`, unit: 'ms', stats: stats(s.map((x) => x.readyToBootstrapExitMs)) });
    rows.push({ id: `compose.${gate}.upToAgentExit`, figure: `compose: \`up -d\` → agent exit, ${l}`, unit: 'ms', stats: stats(s.map((x) => x.upToAgentExitMs)) });
    for (const w of WAITS) {
      const st = stats(s.map((x) => x.waits[w.id]));
      const edge = EDGE_WAITS.includes(w.id);
      rows.push({
        id: `compose.${gate}.wait.${w.id}`,
        figure: `wait: ${w.figure}, ${l}`,
        unit: 'ms',
        stats: st,
        ...(edge && gate === 'started' ? { goal: 'max ≤ 1000 ms', pass: st.max <= 1000 } : {}),
      });
    }
  }
  return { rows, samples };
}

async function oneStack(o: ComposeBenchOptions, gate: ComposeSample['gate'], extraFiles: string[], owner: { uid: number; gid: number }, i: number): Promise<ComposeSample> {
  const envDir = await mkdtemp(path.join(o.scratch, 'compose-env-'));
  const template = path.join(o.root, 'volumes/env/.env.template');
  const own = async (p: string) => {
    if (process.getuid?.() === 0) await chown(p, owner.uid, owner.gid);
  };
  const text = (await readFile(template, 'utf8'))
    .replace(/^LITELLM_MASTER_KEY=.*$/m, `LITELLM_MASTER_KEY=${MASTER}`)
    .replace(/^LITELLM_OPENAI_API_KEY=.*$/m, `LITELLM_OPENAI_API_KEY=${PROVIDER}`);
  await copyFile(template, path.join(envDir, '.env.template'));
  await writeFile(path.join(envDir, '.env'), text, { mode: 0o600 });
  for (const f of ['.env.template', '.env', '']) await own(path.join(envDir, f));
  await chmod(envDir, 0o700);
  const project = `lpb-test-bench-${process.pid}-${gate}-${i}`;
  const files = [path.join(o.root, 'docker-compose.yml'), path.join(o.root, 'test/container/docker-compose.stand-in.yml'), ...extraFiles];
  const env = {
    ...process.env,
    LLM_PROXY_ENV_DIR: envDir,
    UID: String(owner.uid),
    GID: String(owner.gid),
    LLM_PROXY_PORT: '',
    LLM_PROXY_BOOTSTRAP_IMAGE: o.bootstrapImage,
    STAND_IN_IMAGE: o.standInImage,
    AGENT_IMAGE: o.agentImage,
    // The key the upstream provider (played by the stand-in) issued: the agent's completion needs it.
    STAND_IN_UPSTREAM_KEYS: PROVIDER,
  };
  const compose = (args: string[], timeoutMs = 300_000) =>
    execWith(o.docker, ['compose', '--project-name', project, '--project-directory', o.root, ...files.flatMap((f) => ['-f', f]), ...args], { env, timeoutMs, cwd: o.root });
  const events = watchEvents(o.docker, project, env);
  try {
    const started = Date.now();
    const up = await compose(['up', '-d', '--no-build']);
    if (up.code !== 0) throw new Error(`docker compose up failed (exit ${up.code}): ${(up.stderr || up.stdout).trim().split('\n').slice(-5).join('\n')}`);
    const id = async (service: string) => (await compose(['ps', '-a', '-q', service])).stdout.trim();
    const agent = await id('example-agent');
    const waited = await exec(o.docker, ['wait', agent], 180_000);
    const upToAgentExitMs = Date.now() - started;
    if (waited.stdout.trim() !== '0') throw new Error(`the example agent exited ${waited.stdout.trim()}: ${(await exec(o.docker, ['logs', agent])).stderr.trim().slice(-300)}`);
    const state = async (cid: string) => {
      const out = (await exec(o.docker, ['inspect', '--format', '{{.State.StartedAt}} {{.State.FinishedAt}}', cid])).stdout.trim().split(' ');
      return { startedAt: isoMs(out[0] ?? ''), finishedAt: isoMs(out[1] ?? '') };
    };
    const port = (await exec(o.docker, ['port', await id('llm-proxy'), '4000'])).stdout.trim().split('\n')[0]?.split(':').pop();
    const res = await fetch(`http://127.0.0.1:${port}/__stand-in/state`, { headers: { authorization: `Bearer ${MASTER}` } });
    const readySince = ((await res.json()) as { readySince: number }).readySince;
    const bootstrap = await state(await id('llm-proxy-bootstrap'));
    const agentState = await state(agent);
    const ids = { init: await id('llm-proxy-init'), proxy: await id('llm-proxy'), db: await id('llm-proxy-db'), bootstrap: await id('llm-proxy-bootstrap'), agent };
    const init = await state(ids.init);
    const proxy = await state(ids.proxy);
    const db = await state(ids.db);
    const dbHealthy = events.healthyAt('llm-proxy-db');
    if (dbHealthy === undefined) throw new Error('no health_status: healthy event of llm-proxy-db was seen');
    const startBegan = (cid: string) => {
      const t = events.connectedAt(cid);
      if (t === undefined) throw new Error(`no network connect event of container ${cid.slice(0, 12)} was seen`);
      return t;
    };
    const began = { proxy: startBegan(ids.proxy), bootstrap: startBegan(ids.bootstrap), agent: startBegan(agent) };
    const waits: Waits = {
      initToProxy: proxy.startedAt - init.finishedAt,
      dbHealthyToProxy: proxy.startedAt - dbHealthy,
      lastDepToProxy: proxy.startedAt - Math.max(init.finishedAt, dbHealthy),
      proxyToBootstrap: bootstrap.startedAt - proxy.startedAt,
      bootstrapToAgent: agentState.startedAt - bootstrap.finishedAt,
      dbStartToHealthy: dbHealthy - db.startedAt,
      lastDepToProxyStart: began.proxy - Math.max(init.finishedAt, dbHealthy),
      proxyToBootstrapStart: began.bootstrap - proxy.startedAt,
      bootstrapToAgentStart: began.agent - bootstrap.finishedAt,
      engineStart: ((proxy.startedAt - began.proxy) + (bootstrap.startedAt - began.bootstrap) + (agentState.startedAt - began.agent)) / 3,
    };
    return { gate, readyToAgentMs: agentState.startedAt - readySince, readyToBootstrapExitMs: bootstrap.finishedAt - readySince, upToAgentExitMs, waits };
  } finally {
    events.stop();
    await compose(['down', '--volumes', '--timeout', '0'], 120_000).catch(() => undefined);
    await rm(envDir, { recursive: true, force: true });
  }
}

interface EngineEvent {
  status?: string;
  Action?: string;
  timeNano?: number;
  Actor?: { Attributes?: Record<string, string> };
}

/** `docker events <filters>` as they come, one JSON object each, until stop(). */
function followEvents(docker: string, filters: string[], env: NodeJS.ProcessEnv, onEvent: (e: EngineEvent) => void): { stop(): void } {
  const child = spawn(docker, ['events', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{json .}}'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        onEvent(JSON.parse(line) as EngineEvent);
      } catch {
        /* not an event line */
      }
    }
  });
  child.on('error', () => undefined);
  return { stop: () => child.kill() };
}

/**
 * The engine's events for the project while it runs (its clock, ns): when each service first
 * reported healthy (State.Health.Log keeps only the last 5 probes, so by the time the agent exited
 * the first healthy one may be gone from it), and when the engine began starting each container
 * (it connects the container to the project's network first; StartedAt follows once the process runs).
 */
function watchEvents(docker: string, project: string, env: NodeJS.ProcessEnv): { healthyAt(service: string): number | undefined; connectedAt(containerId: string): number | undefined; stop(): void } {
  const healthy = new Map<string, number>();
  const connected = new Map<string, number>();
  const containers = followEvents(docker, ['type=container', `label=com.docker.compose.project=${project}`], env, (e) => {
    const service = e.Actor?.Attributes?.['com.docker.compose.service'];
    if (e.status === 'health_status: healthy' && service && e.timeNano && !healthy.has(service)) healthy.set(service, e.timeNano / 1e6);
  });
  const network = followEvents(docker, ['type=network', `network=${project}_default`], env, (e) => {
    const cid = e.Actor?.Attributes?.['container'];
    if (e.Action === 'connect' && cid && e.timeNano && !connected.has(cid)) connected.set(cid, e.timeNano / 1e6);
  });
  return {
    healthyAt: (service) => healthy.get(service),
    connectedAt: (cid) => connected.get(cid),
    stop: () => {
      containers.stop();
      network.stop();
    },
  };
}
