/**
 * The real docker-compose.yml on a real engine with Compose v2 (`docker compose`, as users run it),
 * brought up with test/container/docker-compose.stand-in.yml, which swaps only LiteLLM (and
 * postgres) for the stand-in image. The stand-in keeps the base file's entrypoint wrapper: it
 * learns its master key and the upstream provider keys only from .env.litellm, read when it
 * starts, and answers a chat completion only when its own environment holds an upstream key the
 * provider it plays issued (STAND_IN_UPSTREAM_KEYS, its table). So the example agent's completion fails if the proxy starts without the
 * provider keys, or holds the agent's key or the placeholder instead.
 *
 * Each story is its own compose project with its own env dir (LLM_PROXY_ENV_DIR, a temp dir made
 * from volumes/env/.env.template), brought up with `up -d --no-build` and the image this run built
 * as LLM_PROXY_BOOTSTRAP_IMAGE. Real LiteLLM (LITELLM_IMAGE) is not used here: a completion
 * would need an upstream provider, and there is no network.
 */
import { chown, copyFile, mkdtemp, readdir, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  MASTER_KEY,
  NAME_PREFIX,
  REPO_ROOT,
  TEST_MODEL,
  compose,
  composeContainer,
  containerState,
  describeRun,
  dockerContext,
  docker,
  dockerOk,
  envValue,
  modelsWithKey,
  removeDir,
  testUser,
  type ExecResult,
} from '../support/docker.ts';

const ctx = dockerContext(inject('docker'));
const skip =
  ctx.skip ?? ctx.composeSkip ?? (ctx.mode === 'stand-in' ? undefined : 'real LiteLLM cannot answer a completion without an upstream provider');
const PROVIDER_KEY = 'sk-test-openai-provider-key-not-real';
const NEW_PROVIDER_KEY = 'sk-test-openai-provider-key-changed';
const GEMINI_KEY = 'AIza-test-gemini-provider-key-not-real';
const PLACEHOLDER = 'sk-proxy-default';
const TEMPLATE = path.join(REPO_ROOT, 'volumes/env/.env.template');
const APPLY_PROVIDER_KEY = ['up', '-d', '--no-build', '--force-recreate', 'llm-proxy']; // docs/stack.md
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** Where the stack's bootstrap writes the agent's key (AGENT_ENV_FILE_PATH) and the agent reads it. */
const AGENT_FILE = (stack: { envDir: string }) => path.join(stack.envDir, 'agent', '.env.agent');

/** The shipped template with the values a user sets. */
async function envFromTemplate(values: Record<string, string>): Promise<string> {
  let text = await readFile(TEMPLATE, 'utf8');
  for (const [name, value] of Object.entries(values)) text = text.replace(new RegExp(`^${name}=.*$`, 'm'), `${name}=${value}`);
  return text;
}

/** A compose project of docker-compose.yml + the stand-in override, in its own env dir. */
class Stack {
  readonly name: string;
  envDir = '';
  env: Record<string, string> = {};
  readonly files = [path.join(REPO_ROOT, 'docker-compose.yml'), path.join(REPO_ROOT, 'test/container/docker-compose.stand-in.yml')];

  constructor(story: string) {
    this.name = `${NAME_PREFIX}-${ctx.runId}-${story}`;
  }

  /** The env dir as a fresh clone has it (the template), plus `.env` when given. */
  async prepare(envText: string | undefined): Promise<void> {
    this.envDir = await mkdtemp(path.join(tmpdir(), `${NAME_PREFIX}-env-`));
    const { uid, gid } = testUser();
    const own = async (p: string) => {
      if (process.getuid?.() === 0) await chown(p, uid, gid);
    };
    await copyFile(TEMPLATE, path.join(this.envDir, '.env.template'));
    await own(path.join(this.envDir, '.env.template'));
    if (envText !== undefined) {
      await writeFile(path.join(this.envDir, '.env'), envText, { mode: 0o600 });
      await own(path.join(this.envDir, '.env'));
    }
    await chmod(this.envDir, 0o700);
    await own(this.envDir);
    this.env = {
      LLM_PROXY_ENV_DIR: this.envDir,
      UID: String(uid),
      GID: String(gid),
      LLM_PROXY_PORT: '', // a random host port
      LLM_PROXY_BOOTSTRAP_IMAGE: ctx.bootstrapImage,
      AGENT_IMAGE: ctx.agentImage,
      STAND_IN_IMAGE: ctx.standInImage,
      // The keys the upstream provider (played by the stand-in) issued.
      STAND_IN_UPSTREAM_KEYS: [PROVIDER_KEY, NEW_PROVIDER_KEY, GEMINI_KEY].join(','),
    };
  }

  compose(args: string[], timeoutMs = 300_000): Promise<ExecResult> {
    return compose(ctx.compose!, { name: this.name, files: this.files, env: this.env, projectDir: REPO_ROOT }, args, timeoutMs);
  }

  async up(...extra: string[]): Promise<ExecResult> {
    const r = await this.compose(['up', '-d', '--no-build', ...extra]);
    expect(r.code, describeRun(r)).toBe(0);
    return r;
  }

  container(service: string): Promise<string> {
    return composeContainer(ctx, this.name, service);
  }

  /** Waits for a one-shot service to exit: its exit code and logs (stdout + stderr). */
  async finished(service: string): Promise<{ code: number; logs: string }> {
    const id = await this.container(service);
    const waited = await dockerOk(ctx, ['wait', id], 180_000);
    const logs = await docker(ctx, ['logs', id]);
    return { code: Number(waited.trim()), logs: logs.stdout + logs.stderr };
  }

  async proxyUrl(): Promise<string> {
    const out = await dockerOk(ctx, ['port', await this.container('llm-proxy'), '4000']);
    return `http://127.0.0.1:${out.trim().split('\n')[0]!.split(':').pop()}`;
  }

  /** Waits until the (re)started proxy answers, then its URL. */
  async proxyLive(): Promise<string> {
    for (let i = 0; i < 120; i++) {
      const url = await this.proxyUrl().catch(() => '');
      if (url && (await fetch(`${url}/health/liveliness`).then((r) => r.ok, () => false))) return url;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${this.name}: llm-proxy did not come up`);
  }

  /** When the stand-in in the proxy's place could first answer ready (epoch ms; the engine's clock is the host's). */
  async proxyReadySince(): Promise<number> {
    const res = await fetch(`${await this.proxyUrl()}/__stand-in/state`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    const state = (await res.json()) as { readySince: number | null };
    if (typeof state.readySince !== 'number') throw new Error(`${this.name}: the stand-in reports no readySince`);
    return state.readySince;
  }

  /** The environment of the proxy's process: the init's (PID 1) child, which the wrapper exec'ed into. */
  async proxyProcessEnv(): Promise<Record<string, string>> {
    // A process may end between the listing of /proc and the read (a healthcheck's exec): read as empty.
    const find = "const fs = require('fs'); const read = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return ''; } }; const pid = fs.readdirSync('/proc').find((p) => /^\\d+$/.test(p) && p !== '1' && /^PPid:\\s+1$/m.test(read('/proc/' + p + '/status'))); process.stdout.write(fs.readFileSync('/proc/' + pid + '/environ'));";
    const raw = await dockerOk(ctx, ['exec', await this.container('llm-proxy'), 'node', '-e', find]);
    const env: Record<string, string> = {};
    for (const entry of raw.split('\0').filter(Boolean)) {
      const eq = entry.indexOf('=');
      env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  }

  /** The environment the engine starts the proxy's container with (compose's `environment:`, the image's ENV). */
  async proxyContainerEnv(): Promise<string[]> {
    return JSON.parse(await dockerOk(ctx, ['inspect', '--format', '{{json .Config.Env}}', await this.container('llm-proxy')])) as string[];
  }

  readEnv(): Promise<string> {
    return readFile(path.join(this.envDir, '.env'), 'utf8');
  }

  async agentKey(): Promise<string> {
    return envValue(await this.readEnv(), 'OPENAI_API_KEY') ?? '';
  }

  async down(): Promise<void> {
    if (this.envDir) await this.compose(['down', '--volumes', '--timeout', '0'], 120_000).catch(() => undefined);
    await removeDir(this.envDir);
  }
}

/** A chat completion through the proxy with `key`: status, body, and which upstream key the stand-in used. */
async function complete(url: string, key: string, model = TEST_MODEL): Promise<{ status: number; body: any; upstreamKeySha256: string | null }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
  });
  return { status: res.status, body: await res.json(), upstreamKeySha256: res.headers.get('x-stand-in-upstream-key-sha256') };
}

/** No variable of the proxy's process may hold the agent's key, a key the proxy issued, or the placeholder. */
function expectNoKeyOfOurs(env: Record<string, string>, agentKey: string): void {
  for (const [name, value] of Object.entries(env)) {
    expect(value, `${name} in the proxy's environment`).not.toBe(agentKey);
    expect(value, `${name} in the proxy's environment`).not.toBe(PLACEHOLDER);
    expect(value, `${name} in the proxy's environment`).not.toMatch(/^sk-[A-Za-z0-9_-]{22}$/);
  }
}

describe.skipIf(skip !== undefined)(`docker-compose.yml stack (${skip ? `skipped: ${skip}` : `${ctx.mode}, compose ${ctx.compose?.version}`})`, () => {
  describe('first `docker compose up` with a provider key set', () => {
    const stack = new Stack('first-up');
    let up: ExecResult;

    beforeAll(async () => {
      await stack.prepare(await envFromTemplate({ LITELLM_MASTER_KEY: MASTER_KEY, LITELLM_OPENAI_API_KEY: PROVIDER_KEY, LITELLM_DEFAULT_MODELS: TEST_MODEL }));
      up = await stack.up();
    }, 600_000);
    afterAll(() => stack.down(), 120_000);

    it('the agent lists its models and gets a chat completion through the proxy: no restart, no recreate', async () => {
      const agent = await stack.finished('example-agent');
      expect(agent.code, agent.logs).toBe(0);
      expect(agent.logs).toContain(`agent: key works; models: ${TEST_MODEL}`);
      expect(agent.logs).toMatch(new RegExp(`agent: ${TEST_MODEL} answered: "Hello`));

      // Start order: init done → proxy started; bootstrap done → agent started.
      const init = await containerState(ctx, await stack.container('llm-proxy-init'));
      const proxy = await containerState(ctx, await stack.container('llm-proxy'));
      const bootstrap = await containerState(ctx, await stack.container('llm-proxy-bootstrap'));
      const agentState = await containerState(ctx, await stack.container('example-agent'));
      expect([init.exitCode, bootstrap.exitCode]).toEqual([0, 0]);
      expect(proxy.startedAt).toBeGreaterThanOrEqual(init.finishedAt);
      expect(agentState.startedAt).toBeGreaterThanOrEqual(bootstrap.finishedAt);
      expect(up.stdout + up.stderr).not.toContain(PROVIDER_KEY);

      // The bootstrap starts with the proxy and waits for readiness itself: it finished only after
      // the proxy's database was ready (the stand-in is ready 1.5 s after it listens), and
      // the agent started after it. How long that took is a figure, not an assertion (npm run bench).
      const readySince = await stack.proxyReadySince();
      expect(bootstrap.startedAt).toBeLessThan(readySince);
      expect(bootstrap.finishedAt).toBeGreaterThanOrEqual(readySince);
      console.info(`[compose] proxy ready → agent started: ${agentState.startedAt - readySince} ms (bootstrap exit at +${bootstrap.finishedAt - readySince} ms)`);
    }, 240_000);

    it("the proxy's process holds the provider and master keys, never the agent's key; the agent reads only its own key", async () => {
      const agentKey = await stack.agentKey();
      expect(agentKey).toMatch(/^sk-/);
      expect(agentKey).not.toBe(PLACEHOLDER);
      const env = await stack.proxyProcessEnv();
      expect(env['OPENAI_API_KEY']).toBe(PROVIDER_KEY);
      expect(env['LITELLM_MASTER_KEY']).toBe(MASTER_KEY);
      expect(env['ANTHROPIC_API_KEY']).toBeUndefined(); // empty in .env: unset, not ""
      expectNoKeyOfOurs(env, agentKey);
      expect((await stack.proxyContainerEnv()).join('\n')).not.toContain(agentKey);

      // The agent's container mounts agent/ (a directory holding .env.agent, its key alone), not .env.
      const mounts = JSON.parse(await dockerOk(ctx, ['inspect', '--format', '{{json .Mounts}}', await stack.container('example-agent')])) as { Source: string }[];
      const fromEnvDir = mounts.map((m) => m.Source).filter((s) => s.startsWith(stack.envDir));
      expect(fromEnvDir).toEqual([path.join(stack.envDir, 'agent')]);
      expect(await readdir(path.join(stack.envDir, 'agent'))).toEqual(['.env.agent']);
      const agentFile = await readFile(AGENT_FILE(stack), 'utf8');
      expect(envValue(agentFile, 'OPENAI_API_KEY')).toBe(agentKey);
      for (const secret of [MASTER_KEY, PROVIDER_KEY]) expect(agentFile).not.toContain(secret);
      expect((await stat(AGENT_FILE(stack))).mode & 0o777).toBe(0o600);
    }, 120_000);

    it("the database password: generated on this first start into .env, postgres reads it from db/password, the proxy's DATABASE_URL carries it, and no compose file or `docker inspect` shows it", async () => {
      const password = envValue(await stack.readEnv(), 'LLM_PROXY_DB_PASSWORD') ?? '';
      expect(password).toMatch(/^sk-[0-9a-f]{48}$/); // not compose's former default `litellm`, not the template's placeholder
      const file = path.join(stack.envDir, 'db', 'password');
      expect(await readFile(file, 'utf8')).toBe(password);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
      // The stand-in database read the file at its start as root with only its compose capabilities (it logs a digest, never the value).
      const db = await docker(ctx, ['logs', await stack.container('llm-proxy-db')]);
      expect(db.stdout + db.stderr).toContain(`password file read: sha256 ${sha256(password)}`);
      expect((await stack.proxyProcessEnv())['DATABASE_URL']).toBe(`postgresql://litellm:${password}@llm-proxy-db:5432/litellm`);
      for (const service of ['llm-proxy', 'llm-proxy-db', 'llm-proxy-init', 'llm-proxy-bootstrap', 'example-agent']) {
        expect(await dockerOk(ctx, ['inspect', await stack.container(service)]), service).not.toContain(password);
      }
      expect((await stack.compose(['config'])).stdout).not.toContain(password);
    }, 120_000);

    it('every container runs with all capabilities dropped but the few its image needs, no-new-privileges, and an init as PID 1', async () => {
      const wanted: Record<string, string[]> = { 'llm-proxy': ['CAP_DAC_READ_SEARCH'], 'llm-proxy-db': ['CAP_DAC_READ_SEARCH', 'CAP_SETGID', 'CAP_SETUID'] };
      for (const service of ['llm-proxy', 'llm-proxy-db', 'llm-proxy-init', 'llm-proxy-bootstrap', 'example-agent']) {
        const host = JSON.parse(await dockerOk(ctx, ['inspect', '--format', '{{json .HostConfig}}', await stack.container(service)])) as { CapDrop: string[] | null; CapAdd: string[] | null; SecurityOpt: string[] | null; Init: boolean | null };
        expect(host.CapDrop, service).toEqual(['ALL']);
        expect((host.CapAdd ?? []).map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`)).sort(), service).toEqual(wanted[service] ?? []);
        expect(host.SecurityOpt, service).toContain('no-new-privileges:true');
        expect(host.Init, service).toBe(true);
      }
      // Inside the running proxy: PID 1 is Docker's init, and no process can hold a capability beyond the set.
      expect(await dockerOk(ctx, ['exec', await stack.container('llm-proxy'), 'cat', '/proc/1/cmdline'])).toMatch(/^\/sbin\/docker-init\0/);
      const status = await dockerOk(ctx, ['exec', await stack.container('llm-proxy'), 'cat', '/proc/self/status']);
      expect(/^NoNewPrivs:\s+1$/m.test(status)).toBe(true);
      expect(BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)$/m.exec(status)![1]}`) & ~(1n << 2n)).toBe(0n); // CAP_DAC_READ_SEARCH is bit 2
    }, 120_000);

    it('`docker stop` of a running agent: its SIGTERM reaches the program through the init and it ends, not SIGKILLed after the timeout', async () => {
      const started = await stack.compose(['run', '-d', '--no-deps', '-e', 'AGENT_EVERY_SECONDS=1', 'example-agent']);
      expect(started.code, describeRun(started)).toBe(0);
      const agent = started.stdout.trim().split('\n').at(-1)!;
      try {
        for (let i = 0; i < 120 && !/answered: "Hello/.test((await docker(ctx, ['logs', agent])).stdout); i++) await new Promise((r) => setTimeout(r, 500));
        await dockerOk(ctx, ['stop', '-t', '60', agent], 120_000);
        const state = JSON.parse(await dockerOk(ctx, ['inspect', '--format', '{{json .State}}', agent])) as { ExitCode: number; OOMKilled: boolean };
        // 137 would be the SIGKILL docker sends when the stop timeout ran out (PID 1 ignoring SIGTERM).
        expect(state.ExitCode).not.toBe(137);
        expect([0, 143]).toContain(state.ExitCode);
      } finally {
        await docker(ctx, ['rm', '-f', agent]);
      }
    }, 180_000);

    it("the agent's network cannot reach the database: llm-proxy-db:5432 does not even resolve from the agent, while the proxy reaches it", async () => {
      const probe = "const s = require('net').connect(5432, 'llm-proxy-db'); s.on('connect', () => { console.log('connected'); process.exit(0); }); s.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });";
      const fromAgent = await stack.compose(['run', '--rm', '--no-deps', '-T', '--entrypoint', 'node', 'example-agent', '-e', probe]);
      expect(fromAgent.code, describeRun(fromAgent)).toBe(1);
      expect(fromAgent.stdout).toMatch(/error (ENOTFOUND|EAI_AGAIN)/);
      const fromProxy = await docker(ctx, ['exec', await stack.container('llm-proxy'), 'node', '-e', probe]);
      expect(fromProxy.stdout.trim(), fromProxy.stderr).toBe('connected');
      // The bootstrap shares the agent's network: it needs the proxy only.
      const fromBootstrapNet = JSON.parse(await dockerOk(ctx, ['inspect', '--format', '{{json .NetworkSettings.Networks}}', await stack.container('llm-proxy-bootstrap')])) as Record<string, unknown>;
      expect(Object.keys(fromBootstrapNet).some((n) => n.endsWith('_llm-proxy-db'))).toBe(false);
    }, 180_000);

    it('`docker compose run --rm llm-proxy-bootstrap --rotate` issues a new key, revokes the old one, and updates .env.agent', async () => {
      const url = await stack.proxyUrl();
      const oldKey = await stack.agentKey();
      const run = await stack.compose(['run', '--rm', '-T', 'llm-proxy-bootstrap', '--rotate']);
      expect(run.code, describeRun(run)).toBe(0);
      const newKey = await stack.agentKey();
      expect(newKey).toMatch(/^sk-/);
      expect(newKey).not.toBe(oldKey);
      expect((await modelsWithKey(url, newKey)).status).toBe(200);
      expect((await modelsWithKey(url, oldKey)).status).toBe(401);
      expect(envValue(await readFile(AGENT_FILE(stack), 'utf8'), 'OPENAI_API_KEY')).toBe(newKey);
      expect((await complete(url, newKey)).status).toBe(200);
    }, 180_000);

    it('the scheduled run (deploy/compose/llm-proxy-bootstrap.service\'s command) replaces a key that expired; an agent that runs all along re-reads it and goes on', async () => {
      const url = await stack.proxyUrl();
      const unit = await readFile(path.join(REPO_ROOT, 'deploy/compose/llm-proxy-bootstrap.service'), 'utf8');
      const scheduled = /^ExecStart=\/usr\/bin\/env docker compose (.+)$/m.exec(unit)![1]!.split(' ');
      // a long-running agent: the example agent asking every second
      const started = await stack.compose(['run', '-d', '--no-deps', '-e', 'AGENT_EVERY_SECONDS=1', 'example-agent']);
      expect(started.code, describeRun(started)).toBe(0);
      const agent = started.stdout.trim().split('\n').at(-1)!;
      const logs = () => docker(ctx, ['logs', agent]).then((r) => r.stdout + r.stderr);
      const waitForLogs = async (re: RegExp) => {
        for (let i = 0; i < 120 && !re.test(await logs()); i++) await new Promise((r) => setTimeout(r, 500));
        expect(await logs()).toMatch(re);
      };
      try {
        await waitForLogs(/answered: "Hello/);
        const oldKey = await stack.agentKey();
        const expired = await fetch(`${url}/__stand-in/control`, {
          method: 'POST',
          headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ op: 'expireKey', key: oldKey }),
        });
        expect(expired.status).toBe(200);
        const run = await stack.compose(scheduled);
        expect(run.code, describeRun(run)).toBe(0);
        const newKey = await stack.agentKey();
        expect(newKey).not.toBe(oldKey);
        expect(envValue(await readFile(AGENT_FILE(stack), 'utf8'), 'OPENAI_API_KEY')).toBe(newKey);
        await waitForLogs(/refused the key \(401\)[^\n]*retrying with it\n[^\n]*answered: "Hello/);
        expect((await docker(ctx, ['inspect', '--format', '{{.State.Running}}', agent])).stdout.trim()).toBe('true');
        // a second scheduled run finds nothing to do
        const warm = await stack.compose(scheduled);
        expect(warm.code, describeRun(warm)).toBe(0);
        expect(await stack.agentKey()).toBe(newKey);
      } finally {
        await docker(ctx, ['rm', '-f', agent]);
      }
    }, 240_000);
  });

  describe('a Gemini key and a Gemini default model (no provider of proxy_config.yaml)', () => {
    const stack = new Stack('gemini');
    const GEMINI_MODEL = 'gemini/gemini-2.5-flash';

    beforeAll(async () => {
      const text = await envFromTemplate({ LITELLM_MASTER_KEY: MASTER_KEY, LITELLM_DEFAULT_MODELS: GEMINI_MODEL });
      await stack.prepare(`${text}LITELLM_GEMINI_API_KEY=${GEMINI_KEY}\n`);
      await stack.up();
    }, 600_000);
    afterAll(() => stack.down(), 120_000);

    it('one `docker compose up`: the bootstrap registers the model on the proxy, and the agent gets its completion', async () => {
      const agent = await stack.finished('example-agent');
      expect(agent.code, agent.logs).toBe(0);
      expect(agent.logs).toContain(`agent: key works; models: ${GEMINI_MODEL}`);
      expect(agent.logs).toMatch(new RegExp(`agent: ${GEMINI_MODEL} answered: "Hello`));
      const bootstrap = await stack.finished('llm-proxy-bootstrap');
      expect(bootstrap.code, bootstrap.logs).toBe(0);
      expect(bootstrap.logs).toMatch(/registered model \\"gemini\/gemini-2\.5-flash/); // in a JSON log line
      // The proxy's environment has the key (from .env.litellm) and model storage (docker-compose.yml).
      const env = await stack.proxyProcessEnv();
      expect(env['GEMINI_API_KEY']).toBe(GEMINI_KEY);
      expect(env['STORE_MODEL_IN_DB']).toBe('True');
      // What was stored names the key by reference only; proxy_config.yaml is untouched (mounted read-only).
      const res = await fetch(`${await stack.proxyUrl()}/__stand-in/state`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
      const state = (await res.json()) as { storedModels: { model_name: string; litellm_params: Record<string, unknown> }[]; requests: { path: string; body?: string }[] };
      expect(state.storedModels).toMatchObject([{ model_name: GEMINI_MODEL, litellm_params: { model: GEMINI_MODEL, api_key: 'os.environ/GEMINI_API_KEY' } }]);
      for (const r of state.requests.filter((q) => q.path.startsWith('/model/'))) expect(r.body ?? '').not.toContain(GEMINI_KEY);
      const upstream = await complete(await stack.proxyUrl(), await stack.agentKey(), GEMINI_MODEL);
      expect(upstream.upstreamKeySha256).toBe(sha256(GEMINI_KEY));
    }, 240_000);
  });

  describe('a provider key left empty, then set with the documented command', () => {
    const stack = new Stack('no-provider-key');

    beforeAll(async () => {
      await stack.prepare(await envFromTemplate({ LITELLM_MASTER_KEY: MASTER_KEY, LITELLM_DEFAULT_MODELS: TEST_MODEL }));
      await stack.up();
    }, 600_000);
    afterAll(() => stack.down(), 120_000);

    it('the stack comes up; the proxy has no OPENAI_API_KEY at all, so the completion fails cleanly with the upstream auth error', async () => {
      const agent = await stack.finished('example-agent');
      expect(agent.code, agent.logs).toBe(1);
      expect(agent.logs).toContain(`agent: key works; models: ${TEST_MODEL}`);
      expect(agent.logs).toMatch(/answered 401: litellm\.AuthenticationError: AuthenticationError: OpenAIException - The api_key client option must be set/);

      const bootstrap = await stack.finished('llm-proxy-bootstrap');
      expect(bootstrap.code, bootstrap.logs).toBe(0);
      expect(bootstrap.logs).toMatch(/still to set in \S+: LITELLM_OPENAI_API_KEY/);

      const env = await stack.proxyProcessEnv();
      expect(Object.keys(env)).not.toContain('OPENAI_API_KEY');
      expectNoKeyOfOurs(env, await stack.agentKey());
    }, 240_000);

    it('set in .env, a provider key reaches the proxy with `docker compose up -d --force-recreate llm-proxy`', async () => {
      const envText = await stack.readEnv();
      await writeFile(path.join(stack.envDir, '.env'), envText.replace(/^LITELLM_OPENAI_API_KEY=.*$/m, `LITELLM_OPENAI_API_KEY=${NEW_PROVIDER_KEY}`));
      const r = await stack.compose(APPLY_PROVIDER_KEY);
      expect(r.code, describeRun(r)).toBe(0);

      const url = await stack.proxyLive();
      const env = await stack.proxyProcessEnv();
      expect(env['OPENAI_API_KEY']).toBe(NEW_PROVIDER_KEY);
      expectNoKeyOfOurs(env, await stack.agentKey());
      // The upstream gets the new key (asked with the master key: the stand-in keeps the virtual
      // keys in memory, so a recreated stand-in has none, where LiteLLM keeps them in postgres).
      const completion = await complete(url, MASTER_KEY);
      expect(completion.status, JSON.stringify(completion.body)).toBe(200);
      expect(completion.upstreamKeySha256).toBe(sha256(NEW_PROVIDER_KEY));

      // The next `docker compose up` (the bootstrap gives the agent a key this stand-in knows) → the agent gets its answer.
      await stack.up();
      const agent = await stack.finished('example-agent');
      expect(agent.code, agent.logs).toBe(0);
      expect(agent.logs).toMatch(/answered: "Hello/);
      expect((await complete(url, await stack.agentKey())).upstreamKeySha256).toBe(sha256(NEW_PROVIDER_KEY));
    }, 300_000);
  });

  describe('provider settings beyond the key (Ollama, Azure OpenAI, Bedrock: docs/stack.md)', () => {
    const stack = new Stack('provider-settings');
    const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYcomposeSTACK';
    const settings = [
      'LITELLM_OLLAMA_API_BASE=http://host.docker.internal:11434',
      'LITELLM_AZURE_API_BASE=https://my-resource.openai.azure.com',
      'LITELLM_AZURE_API_VERSION=2024-10-21',
      'LITELLM_PROXY_ENV_AWS_REGION_NAME=eu-central-1',
      `LITELLM_PROXY_ENV_AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`,
    ];
    let up: ExecResult;

    beforeAll(async () => {
      const base = await envFromTemplate({ LITELLM_MASTER_KEY: MASTER_KEY, LITELLM_OPENAI_API_KEY: PROVIDER_KEY, LITELLM_DEFAULT_MODELS: TEST_MODEL });
      await stack.prepare(`${base}\n${settings.join('\n')}\n`);
      up = await stack.up();
    }, 600_000);
    afterAll(() => stack.down(), 120_000);

    it("after `docker compose up` the proxy's process has them under LiteLLM's names (OLLAMA_API_BASE, AZURE_API_BASE, AZURE_API_VERSION, AWS_*), and no log shows a value", async () => {
      const agent = await stack.finished('example-agent');
      expect(agent.code, agent.logs).toBe(0);
      const env = await stack.proxyProcessEnv();
      expect(env).toMatchObject({
        OLLAMA_API_BASE: 'http://host.docker.internal:11434',
        AZURE_API_BASE: 'https://my-resource.openai.azure.com',
        AZURE_API_VERSION: '2024-10-21',
        AWS_REGION_NAME: 'eu-central-1',
        AWS_SECRET_ACCESS_KEY: AWS_SECRET,
        OPENAI_API_KEY: PROVIDER_KEY,
      });
      expect(Object.keys(env).filter((n) => n.startsWith('LITELLM_PROXY_ENV_') || n.startsWith('LITELLM_AZURE') || n.startsWith('LITELLM_OLLAMA'))).toEqual([]);
      expectNoKeyOfOurs(env, await stack.agentKey());
      const init = await stack.finished('llm-proxy-init');
      expect(init.code, init.logs).toBe(0);
      expect(init.logs).toMatch(/provider settings mirrored: AWS_REGION_NAME, AWS_SECRET_ACCESS_KEY, AZURE_API_BASE, AZURE_API_VERSION, OLLAMA_API_BASE/);
      const bootstrap = await stack.finished('llm-proxy-bootstrap');
      for (const out of [init.logs, bootstrap.logs, up.stdout + up.stderr]) expect(out).not.toContain(AWS_SECRET);
    }, 240_000);
  });

  describe('a pass-through aimed at a name of ours (LITELLM_PROXY_ENV_DATABASE_URL)', () => {
    const stack = new Stack('refused-pass-through');
    let up: ExecResult;

    beforeAll(async () => {
      const base = await envFromTemplate({ LITELLM_MASTER_KEY: MASTER_KEY, LITELLM_OPENAI_API_KEY: PROVIDER_KEY, LITELLM_DEFAULT_MODELS: TEST_MODEL });
      await stack.prepare(`${base}LITELLM_PROXY_ENV_DATABASE_URL=postgresql://elsewhere/db\n`);
      up = await stack.compose(['up', '-d', '--no-build']);
    }, 600_000);
    afterAll(() => stack.down(), 120_000);

    it('`docker compose up` fails at llm-proxy-init (exit 2 naming the .env line), no .env.litellm is written and the proxy never starts', async () => {
      expect(up.code, describeRun(up)).not.toBe(0);
      const init = await stack.finished('llm-proxy-init');
      expect(init.code, init.logs).toBe(2);
      expect(init.logs).toMatch(/\/bootstrap\/env\/\.env line \d+: LITELLM_PROXY_ENV_DATABASE_URL refused, DATABASE_URL is the proxy's database connection/);
      expect(init.logs).not.toContain('postgresql://elsewhere');
      const proxy = await containerState(ctx, await stack.container('llm-proxy')).catch(() => undefined);
      // Compose may have created the container; it never ran.
      if (proxy) expect(proxy.status).toBe('created');
      await expect(stat(path.join(stack.envDir, '.env.litellm'))).rejects.toThrow(/ENOENT/);
    }, 240_000);
  });

  describe('no .env at all (a fresh clone, nothing configured)', () => {
    const stack = new Stack('zero-config');
    let up: ExecResult;

    beforeAll(async () => {
      await stack.prepare(undefined);
      up = await stack.up();
    }, 600_000);
    afterAll(() => stack.down(), 120_000);

    it('`docker compose up` creates .env (0600, owned by UID:GID) with fresh keys, comes up, and says which provider key to set', async () => {
      expect(up.code).toBe(0);
      const envPath = path.join(stack.envDir, '.env');
      const st = await stat(envPath);
      expect(st.mode & 0o777).toBe(0o600);
      expect([st.uid, st.gid]).toEqual([testUser().uid, testUser().gid]);
      const text = await stack.readEnv();
      const master = envValue(text, 'LITELLM_MASTER_KEY') ?? '';
      const salt = envValue(text, 'LITELLM_SALT_KEY') ?? '';
      expect(master).toMatch(/^sk-[0-9a-f]{48}$/);
      expect(salt).toMatch(/^sk-[0-9a-f]{48}$/);
      expect(salt).not.toBe(master);
      expect(text).toContain('LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini'); // the rest is the template

      const init = await stack.finished('llm-proxy-init');
      expect(init.code, init.logs).toBe(0);
      expect(init.logs).toMatch(/created \S+\/\.env from \S+ with a fresh random LITELLM_MASTER_KEY, LITELLM_SALT_KEY and LLM_PROXY_DB_PASSWORD/);
      expect(init.logs).toMatch(/still to set in \S+: LITELLM_OPENAI_API_KEY/);
      for (const secret of [master, salt]) expect(init.logs).not.toContain(secret);

      const bootstrap = await stack.finished('llm-proxy-bootstrap');
      expect(bootstrap.code, bootstrap.logs).toBe(0);
      expect(bootstrap.logs).toMatch(/still to set in \S+: LITELLM_OPENAI_API_KEY/);
      const url = await stack.proxyUrl();
      expect((await modelsWithKey(url, await stack.agentKey())).ids).toEqual([TEST_MODEL]);
      expect((await stack.proxyProcessEnv())['LITELLM_MASTER_KEY']).toBe(master);
    }, 240_000);

    it('the next `docker compose up` keeps that .env byte for byte (the salt key is never regenerated)', async () => {
      const before = await stack.readEnv();
      await stack.up();
      const init = await stack.finished('llm-proxy-init');
      expect(init.code, init.logs).toBe(0);
      // The container's log holds both runs: one created .env, the second did not.
      expect(init.logs.match(/created \S+\/\.env from/g)).toHaveLength(1);
      expect(init.logs.trim().split('\n').at(-1)).toMatch(/done \(mirror only\): proxy env file unchanged/);
      expect(await stack.readEnv()).toBe(before);
    }, 240_000);
  });
  describe('a .env copied from the template by hand, its published master and salt keys kept', () => {
    const stack = new Stack('copied-template');
    let templateText = '';

    beforeAll(async () => {
      templateText = await readFile(TEMPLATE, 'utf8');
      await stack.prepare(await envFromTemplate({ LITELLM_OPENAI_API_KEY: PROVIDER_KEY, LITELLM_DEFAULT_MODELS: TEST_MODEL }));
    }, 600_000);
    afterAll(() => stack.down(), 120_000);

    it('the first `up`: llm-proxy-init replaces both placeholders with fresh values (every other line kept) and the stack works with them', async () => {
      const before = await stack.readEnv();
      await stack.up();
      const init = await stack.finished('llm-proxy-init');
      expect(init.code, init.logs).toBe(0);
      expect(init.logs).toMatch(/first start: generated a fresh random LITELLM_MASTER_KEY, LITELLM_SALT_KEY and LLM_PROXY_DB_PASSWORD/);
      const text = await stack.readEnv();
      const master = envValue(text, 'LITELLM_MASTER_KEY') ?? '';
      const salt = envValue(text, 'LITELLM_SALT_KEY') ?? '';
      expect(master).toMatch(/^sk-[0-9a-f]{48}$/);
      expect(salt).toMatch(/^sk-[0-9a-f]{48}$/);
      const dbPassword = envValue(text, 'LLM_PROXY_DB_PASSWORD') ?? '';
      expect(dbPassword).toMatch(/^sk-[0-9a-f]{48}$/);
      expect(text).toBe(
        before
          .replace(envValue(templateText, 'LITELLM_MASTER_KEY')!, master)
          .replace(envValue(templateText, 'LITELLM_SALT_KEY')!, salt)
          .replace(envValue(templateText, 'LLM_PROXY_DB_PASSWORD')!, dbPassword)
          .replace(/^OPENAI_API_KEY=.*$/m, `OPENAI_API_KEY=${await stack.agentKey()}`),
      );
      for (const secret of [master, salt, dbPassword]) expect(init.logs).not.toContain(secret);
      expect((await stack.proxyProcessEnv())['LITELLM_MASTER_KEY']).toBe(master);
      const agent = await stack.finished('example-agent');
      expect(agent.code, agent.logs).toBe(0);
    }, 240_000);

    it('a placeholder put back after that: llm-proxy-init exits 2 naming the setting and line, .env is untouched, and compose does not start the proxy', async () => {
      await stack.compose(['down', '--timeout', '0']);
      const salt = envValue(templateText, 'LITELLM_SALT_KEY')!;
      const text = (await stack.readEnv()).replace(/^LITELLM_SALT_KEY=.*$/m, `LITELLM_SALT_KEY=${salt}`);
      await writeFile(path.join(stack.envDir, '.env'), text);
      const r = await stack.compose(['up', '-d', '--no-build']);
      expect(r.code, describeRun(r)).not.toBe(0);
      const init = await stack.finished('llm-proxy-init');
      expect(init.code, init.logs).toBe(2);
      expect(init.logs).toMatch(/LITELLM_SALT_KEY \(\/bootstrap\/env\/\.env line \d+\) is the placeholder published in \.env\.template/);
      expect(init.logs).not.toContain(salt);
      expect(await stack.readEnv()).toBe(text);
      const proxy = await composeContainer(ctx, stack.name, 'llm-proxy').catch(() => '');
      expect(proxy ? (await containerState(ctx, proxy)).status : 'not created').toMatch(/^(created|not created)$/); // never started
    }, 240_000);
  });
});
