/**
 * Ready → agent in the compose stack as shipped (issue 10): the real docker-compose.yml with the
 * LiteLLM stand-in in the proxy's place (test/container/docker-compose.stand-in.yml), whose
 * ready moment is known: it listens at once and reports db "connected" 1.5 s later, as LiteLLM
 * answers HTTP before its database is connected. Per run:
 *   - readySince: when the stand-in could first answer ready (its /__stand-in/state, epoch ms),
 *   - the bootstrap's exit and the agent's start (docker inspect; the engine's clock is the host's),
 *   - `docker compose up -d` → the agent's exit, as the user waits for it.
 * `gate: 'healthy'` measures the ordering this replaced (the bootstrap waiting for the proxy's
 * healthcheck, every 5 s as shipped) through one more override file, for comparison.
 */
import { chown, copyFile, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { exec as execWith } from '../test/support/process.ts';
import { exec, isoMs, stats, type Row } from './lib.ts';

export interface ComposeBenchOptions {
  docker: string;
  root: string;
  scratch: string;
  runs: number;
  gates: ('started' | 'healthy')[];
  bootstrapImage: string;
  standInImage: string;
  agentImage: string;
  progress: (msg: string) => void;
}

export interface ComposeSample {
  gate: 'started' | 'healthy';
  readyToAgentMs: number;
  readyToBootstrapExitMs: number;
  upToAgentExitMs: number;
}

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

export async function composeBench(o: ComposeBenchOptions): Promise<{ rows: Row[]; samples: ComposeSample[] }> {
  const samples: ComposeSample[] = [];
  const healthyFile = path.join(o.scratch, 'compose-healthy-gate.yml');
  await writeFile(healthyFile, HEALTHY_GATE);
  const uid = process.getuid?.() === 0 ? 1000 : (process.getuid?.() ?? 1000);
  const gid = process.getuid?.() === 0 ? 1000 : (process.getgid?.() ?? 1000);
  for (let i = 0; i < o.runs; i++) {
    for (const gate of o.gates) {
      o.progress(`compose stack: run ${i + 1}/${o.runs}, bootstrap gated on ${gate === 'started' ? 'the proxy started (as shipped)' : 'the proxy healthy (before)'}`);
      samples.push(await oneStack(o, gate, gate === 'healthy' ? [healthyFile] : [], { uid, gid }, i));
    }
  }
  const rows: Row[] = [];
  for (const gate of o.gates) {
    const s = samples.filter((x) => x.gate === gate);
    const label = gate === 'started' ? 'as shipped' : 'healthcheck-gated (before)';
    rows.push({ id: `compose.${gate}.readyToAgent`, figure: `compose: proxy ready → agent started, ${label}`, unit: 'ms', stats: stats(s.map((x) => x.readyToAgentMs)), ...(gate === 'started' ? { goal: 'median ≤ 1500 ms', pass: stats(s.map((x) => x.readyToAgentMs)).median <= 1500 } : {}) });
    rows.push({ id: `compose.${gate}.readyToBootstrapExit`, figure: `compose: proxy ready → bootstrap exit, ${label}`, unit: 'ms', stats: stats(s.map((x) => x.readyToBootstrapExitMs)) });
    rows.push({ id: `compose.${gate}.upToAgentExit`, figure: `compose: \`up -d\` → agent exit, ${label}`, unit: 'ms', stats: stats(s.map((x) => x.upToAgentExitMs)) });
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
  };
  const compose = (args: string[], timeoutMs = 300_000) =>
    execWith(o.docker, ['compose', '--project-name', project, '--project-directory', o.root, ...files.flatMap((f) => ['-f', f]), ...args], { env, timeoutMs, cwd: o.root });
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
    return { gate, readyToAgentMs: agentState.startedAt - readySince, readyToBootstrapExitMs: bootstrap.finishedAt - readySince, upToAgentExitMs };
  } finally {
    await compose(['down', '--volumes', '--timeout', '0'], 120_000).catch(() => undefined);
    await rm(envDir, { recursive: true, force: true });
  }
}
