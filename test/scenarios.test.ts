/**
 * The user's stories: given this .env and this proxy, after a run of the built
 * CLI, the user sees that. Real process, real files, a real HTTP stand-in for
 * LiteLLM on loopback.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stat, readFile, readdir, chmod, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, watch } from 'node:fs';
import { spawn } from 'node:child_process';
import { TEMP_FILE, tempTarget } from './faults/support.ts';
import { defaultFlavor, startLiteLLMStandIn, reservePort, type LiteLLMStandIn } from './support/litellm-stand-in.ts';
import { envDir, runCli, startCli, valueOf, WatchedSecrets, type EnvDir } from './support/cli.ts';
import { messages } from './support/scenario-lab.ts';

const MASTER = 'sk-master-7f3a9c1e5b';
/** The stand-in's flavour for this run (vitest.config.ts runs this file once per flavour). */
const FLAVOR = defaultFlavor();
/** What the wait says while the database is down: newer proxies report db "disconnected"; 1.77 answers 503 "Service Unhealthy (...)". */
const DB_DOWN = FLAVOR === 'current' ? 'database is not ready' : 'readiness answered 503: Service Unhealthy';
const OPENAI_UPSTREAM = 'sk-proj-rCyRWxu3Uaz6bEDYekYo2iHP5Ln8Cil0dh0fdp7bJ9';
const ANTHROPIC_UPSTREAM = 'sk-ant-api03-SFdl6vYtg3lhjXGWfMZHFHTtqRP6DDPy';
/** Every run of this file fails if it prints any 8-character piece of one of these (support/cli.ts). */
const secretsSeen = new WatchedSecrets([MASTER, OPENAI_UPSTREAM, ANTHROPIC_UPSTREAM]);

const TEMPLATE = `# LLM proxy settings
LITELLM_MASTER_KEY=${MASTER}
LITELLM_DEFAULT_MODELS=gpt-4o-mini,gpt-4o

# Upstream provider secrets (stay inside the proxy)
LITELLM_OPENAI_API_KEY=${OPENAI_UPSTREAM}
LITELLM_ANTHROPIC_API_KEY=${ANTHROPIC_UPSTREAM}
LITELLM_GEMINI_API_KEY=

# The agent's key, written by the bootstrap
OPENAI_API_KEY=sk-proxy-default
OPENAI_BASE_URL=http://llm-proxy:4000/v1
`;

let proxy: LiteLLMStandIn;
let dir: EnvDir;

function env(extra: Record<string, string | undefined> = {}) {
  return { ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm, PROXY_BASE_URL: proxy.url, LITELLM_PROXY_WAIT_SECONDS: '10', ...extra };
}
const run = (args: string[] = [], extra: Record<string, string | undefined> = {}) => runCli(args, { env: env(extra) });

async function agentKey(): Promise<string> {
  const key = valueOf(await dir.read(), 'OPENAI_API_KEY');
  if (key) secretsSeen.add(key);
  return key ?? '';
}

/** What the agent would see: /v1/models with its key. */
async function modelsFor(key: string): Promise<{ status: number; ids: string[] }> {
  const res = await fetch(`${proxy.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { data?: { id: string }[] };
  return { status: res.status, ids: (body.data ?? []).map((m) => m.id).sort() };
}

const aliasCount = (alias = 'task-agent default') => proxy.keys().filter((k) => k.key_alias === alias).length;

beforeEach(async () => {
  proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-sonnet'] });
  dir = await envDir(TEMPLATE);
});
afterEach(async () => {
  await proxy.close();
  await dir.cleanup();
});

describe('first run', () => {
  it('issues the agent key, writes it in place of the placeholder and mirrors provider secrets', async () => {
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const text = await dir.read();
    const key = await agentKey();
    expect(key).toMatch(/^sk-/);
    expect(key).not.toBe('sk-proxy-default');
    // Only the key's line changed.
    expect(text).toBe(TEMPLATE.replace('OPENAI_API_KEY=sk-proxy-default', `OPENAI_API_KEY=${key}`));
    // The key works for the agent and is scoped to the default models.
    expect(await modelsFor(key)).toEqual({ status: 200, ids: ['gpt-4o', 'gpt-4o-mini'] });
    expect(aliasCount()).toBe(1);
    const row = proxy.keys().find((k) => k.key_alias === 'task-agent default')!;
    expect(row.user_id).toBe('task-agent');
    expect(row.metadata).toMatchObject({ provisioned_by: 'llm-proxy-bootstrap' });
    // The proxy's env file: provider secrets under their upstream names, 0600.
    const mirror = await dir.readLitellm();
    expect(mirror).toContain(`OPENAI_API_KEY=${OPENAI_UPSTREAM}\n`);
    expect(mirror).toContain(`ANTHROPIC_API_KEY=${ANTHROPIC_UPSTREAM}\n`);
    expect(mirror).not.toContain('GEMINI');
    expect((await stat(dir.litellm)).mode & 0o777).toBe(0o600);
    expect(r.last).toMatch(/created key "task-agent default".*2 provider secret\(s\) mirrored/);
    // Four requests: readiness, alias lookup, model check, generate.
    const bootstrapRequests = proxy.requests.filter((q) => q.path !== '/v1/models').map((q) => `${q.method} ${q.path}`);
    expect(bootstrapRequests).toEqual(['GET /health/readiness', 'GET /key/list', 'GET /model/info', 'POST /key/generate']);
  });

  it('pretty logs (a terminal) say the same, without secrets', async () => {
    const r = await run([], { LOG_FORMAT: 'pretty' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/INFO.*done: created key "task-agent default"/);
    await agentKey();
  });

  it('warns, naming the closest served model, when a configured model is not served', async () => {
    const r = await run([], { LITELLM_DEFAULT_MODELS: 'gpt-4o-mnii' });
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toContain('model "gpt-4o-mnii" of key "task-agent default" is not served by the proxy (closest configured: "gpt-4o-mini")');
    await agentKey();
  });

  it('keeps the mode of .env', async () => {
    await chmod(dir.env, 0o640);
    expect((await run()).code).toBe(0);
    expect((await stat(dir.env)).mode & 0o777).toBe(0o640);
  });
});

describe('re-runs', () => {
  it('a warm re-run changes nothing and costs two requests: the key looked up by its sha256 with the master key, the models the proxy serves', async () => {
    expect((await run()).code).toBe(0);
    const before = await dir.read();
    const mtime = (await stat(dir.env)).mtimeMs;
    const mirrorMtime = (await stat(dir.litellm)).mtimeMs;
    proxy.resetRequests();
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(await dir.read()).toBe(before);
    expect((await stat(dir.env)).mtimeMs).toBe(mtime);
    expect((await stat(dir.litellm)).mtimeMs).toBe(mirrorMtime);
    // The key's row read from the database: the proxy is live and its database ready, no readiness poll needed.
    // (An llm_api key may not read its own info: the master key asks, by hash, so no secret is in the URL.)
    // Then the models kind's one look (does the proxy serve the key's models?).
    expect(proxy.requests.map((q) => `${q.method} ${q.path} ${q.auth}`)).toEqual(['GET /key/info master', 'GET /model/info master']);
    expect(r.last).toMatch(/reused key "task-agent default"/);
    // no stray files: .env, .env.litellm and the ledger only
    expect((await readdir(dir.dir)).sort()).toEqual(['.env', '.env.litellm', '.llm-proxy-bootstrap.json']);
  });

  it('a temp file a killed run left (a copy of .env, secrets included) does not outlive the next run', async () => {
    expect((await run()).code).toBe(0);
    const stray = path.join(dir.dir, '..env.llm-proxy-bootstrap.0123abcdef.tmp');
    await writeFile(stray, await dir.read(), { mode: 0o600 });
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect((await readdir(dir.dir)).sort()).toEqual(['.env', '.env.litellm', '.llm-proxy-bootstrap.json']);
  });

  it('changed default models update the same key', async () => {
    expect((await run()).code).toBe(0);
    const key = await agentKey();
    const r = await run([], { LITELLM_DEFAULT_MODELS: 'claude-3-5-sonnet' });
    expect(r.code, r.stderr).toBe(0);
    expect(await agentKey()).toBe(key);
    expect(await modelsFor(key)).toEqual({ status: 200, ids: ['claude-3-5-sonnet'] });
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(1);
    expect(r.last).toMatch(/updated key/);
  });

  it('a new provider secret reaches the proxy env file; a removed one leaves it', async () => {
    expect((await run()).code).toBe(0);
    const text = (await dir.read()).replace('LITELLM_GEMINI_API_KEY=', 'LITELLM_GEMINI_API_KEY=gem-secret-value-42').replace(`LITELLM_ANTHROPIC_API_KEY=${ANTHROPIC_UPSTREAM}\n`, '');
    await dir.write(text);
    secretsSeen.add('gem-secret-value-42');
    expect((await run()).code).toBe(0);
    const mirror = await dir.readLitellm();
    expect(mirror).toContain('GEMINI_API_KEY=gem-secret-value-42\n');
    expect(mirror).not.toContain('ANTHROPIC');
  });
});

describe('the proxy lost or killed the key', () => {
  it('a wiped proxy: our key is reissued, nothing is "preserved"', async () => {
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    proxy.wipe();
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const key = await agentKey();
    expect(key).not.toBe(old);
    expect((await modelsFor(key)).status).toBe(200);
    expect(valueOf(await dir.read(), 'LITELLM_OPENAI_API_KEY')).toBe(OPENAI_UPSTREAM);
    expect((await readdir(dir.dir)).some((f) => f.includes('backup'))).toBe(false);
    expect(aliasCount()).toBe(1);
  });

  it('.env reset to the placeholder: the orphan holding the alias is removed', async () => {
    expect((await run()).code).toBe(0);
    const orphan = await agentKey();
    await dir.write(TEMPLATE);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(aliasCount()).toBe(1);
    expect((await modelsFor(orphan)).status).toBe(401);
    expect((await modelsFor(await agentKey())).status).toBe(200);
  });

  it.each(['expired', 'blocked'] as const)('an %s key is replaced by a working one', async (how) => {
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    if (how === 'expired') proxy.expireKey(old);
    else proxy.blockKey(old);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const key = await agentKey();
    expect(key).not.toBe(old);
    expect((await modelsFor(key)).status).toBe(200);
    expect(aliasCount()).toBe(1);
    expect(r.last).toMatch(/replaced key/);
  });
});

describe("the user's own values", () => {
  it('a real upstream key in OPENAI_API_KEY is moved to LITELLM_OPENAI_API_KEY, never lost', async () => {
    const userKey = 'sk-proj-USERSrealKEYthatMUSTnotBElost0123456789';
    secretsSeen.add(userKey);
    await dir.write(TEMPLATE.replace(`LITELLM_OPENAI_API_KEY=${OPENAI_UPSTREAM}`, 'LITELLM_OPENAI_API_KEY=').replace('OPENAI_API_KEY=sk-proxy-default', `OPENAI_API_KEY=${userKey}`));
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const text = await dir.read();
    expect(valueOf(text, 'LITELLM_OPENAI_API_KEY')).toBe(userKey);
    expect((await modelsFor(await agentKey())).status).toBe(200);
    expect(await dir.readLitellm()).toContain(`OPENAI_API_KEY=${userKey}\n`);
    expect(messages(r)).toMatch(/was not a key of this proxy; it was saved to LITELLM_OPENAI_API_KEY/);
  });

  it('when LITELLM_OPENAI_API_KEY is taken, the value goes to a 0600 backup next to .env', async () => {
    const userKey = 'sk-proj-ANOTHERrealKEY0123456789abcdefghijkl';
    secretsSeen.add(userKey);
    await dir.write(TEMPLATE.replace('OPENAI_API_KEY=sk-proxy-default', `OPENAI_API_KEY=${userKey}`));
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const backup = path.join(dir.dir, '.env.bootstrap-backup');
    expect(await readFile(backup, 'utf8')).toContain(`OPENAI_API_KEY=${userKey}\n`);
    expect((await stat(backup)).mode & 0o777).toBe(0o600);
    expect(valueOf(await dir.read(), 'LITELLM_OPENAI_API_KEY')).toBe(OPENAI_UPSTREAM);
    // A second run neither duplicates the backup nor touches anything.
    const before = await readFile(backup, 'utf8');
    expect((await run()).code).toBe(0);
    expect(await readFile(backup, 'utf8')).toBe(before);
  });

  it('a working virtual key with another alias is the user\'s choice: left alone, with a warning', async () => {
    const theirs = proxy.addKey({ key_alias: 'my personal key', models: [] });
    secretsSeen.add(theirs);
    await dir.write(TEMPLATE.replace('OPENAI_API_KEY=sk-proxy-default', `OPENAI_API_KEY=${theirs}`));
    const before = await dir.read();
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(await dir.read()).toBe(before);
    expect(messages(r)).toContain('not "task-agent default": left as it is');
    expect(aliasCount()).toBe(0);
  });

  it('CRLF, quotes, export prefixes, inline comments and duplicates survive byte for byte', async () => {
    const original = [
      '# Windows-edited file',
      `LITELLM_MASTER_KEY="${MASTER}"`,
      "export LITELLM_DEFAULT_MODELS='gpt-4o-mini'",
      'OPENAI_API_KEY=old-first-assignment',
      '',
      'MULTI="line one',
      'line two"',
      'export OPENAI_API_KEY="sk-proxy-default" # the agent key',
      'TRAILER=keep me',
    ].join('\r\n');
    await dir.write(original);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const key = valueOf(await dir.read(), 'OPENAI_API_KEY')!;
    secretsSeen.add(key);
    expect(await dir.read()).toBe(original.replace('export OPENAI_API_KEY="sk-proxy-default"', `export OPENAI_API_KEY="${key}"`));
    expect(messages(r)).toMatch(/assigned more than once .*lines 4, 8/);
    expect((await modelsFor(key)).status).toBe(200);
  });
});

describe('a proxy that is late, down, not ready or refusing', () => {
  it('a proxy that starts late is waited for', async () => {
    await proxy.close();
    const port = await reservePort();
    proxy = await startLiteLLMStandIn({ masterKey: MASTER, port, listenAfterMs: 1500 });
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toContain('waiting for the proxy');
  });

  it('a proxy that never comes up: exit 3 naming the URL and the last error; .env untouched', async () => {
    const port = await reservePort();
    const r = await runCli([], { env: { ...env(), PROXY_BASE_URL: `http://127.0.0.1:${port}`, LITELLM_PROXY_WAIT_SECONDS: '1' } });
    expect(r.code).toBe(3);
    expect(r.last).toContain(`http://127.0.0.1:${port}`);
    expect(r.last).toMatch(/ECONNREFUSED/);
    expect(await dir.read()).toBe(TEMPLATE);
  });

  it('credentials in PROXY_BASE_URL never reach the output', async () => {
    const port = await reservePort();
    secretsSeen.add('hunter2-url-password');
    const r = await runCli([], { env: { ...env(), PROXY_BASE_URL: `http://bob:hunter2-url-password@127.0.0.1:${port}`, LITELLM_PROXY_WAIT_SECONDS: '0' } });
    expect(r.code).toBe(3);
    expect(r.last).toContain(`http://127.0.0.1:${port}`);
  });

  it('a database that becomes ready later is waited for', async () => {
    await proxy.close();
    proxy = await startLiteLLMStandIn({ masterKey: MASTER, readyAfterMs: 1000 });
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(DB_DOWN);
  });

  it('a warm re-run while the database is down waits for it, then reuses the key', async () => {
    expect((await run()).code).toBe(0);
    const before = await dir.read();
    proxy.setDb('disconnected');
    // The database comes back while the run waits: its first readiness poll sees it down, the next one up.
    proxy.onNext('/health/readiness', () => proxy.onNext('/health/readiness', () => proxy.setDb('connected')));
    proxy.resetRequests();
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(DB_DOWN);
    expect(r.last).toMatch(/reused key "task-agent default"/);
    expect(await dir.read()).toBe(before);
    // The key could not read itself (no database): readiness was polled until it could.
    expect(proxy.requestCount({ path: '/health/readiness' })).toBeGreaterThan(1);
    expect(proxy.requests.at(-2)?.path).toBe('/key/info');
    expect(proxy.requests.at(-1)?.path).toBe('/model/info');
    expect(aliasCount()).toBe(1);
  });

  it('a proxy without a database: exit 4 at once', async () => {
    proxy.setDb('Not connected');
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.last).toMatch(/no database/);
    // At once: the one readiness answer that says so ends the run; it neither polls again nor asks for keys.
    expect(proxy.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /health/readiness']);
    expect(await dir.read()).toBe(TEMPLATE);
  });

  it('the newest readiness shape (no db field) is enough to go ahead', async () => {
    await proxy.close();
    proxy = await startLiteLLMStandIn({ masterKey: MASTER, flavor: 'current', readiness: 'no-db' });
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(aliasCount()).toBe(1);
  });

  it('the newest proxy without a database: exit 4 as soon as a key call says so', async () => {
    await proxy.close();
    proxy = await startLiteLLMStandIn({ masterKey: MASTER, flavor: 'current', readiness: 'no-db', db: 'Not connected' });
    const r = await run();
    expect(r.code, r.stderr).toBe(4);
    expect(r.last).toMatch(/no database/);
    // As soon as: the first key call that answers "no database" is the last request; not retried, no wait.
    expect(proxy.requests.map((q) => `${q.method} ${q.path} ${q.status}`)).toEqual(['GET /health/readiness 200', 'GET /key/list 500']);
  });

  it('a rejected master key: exit 4, .env untouched', async () => {
    proxy.setMasterKey('sk-some-other-master-key');
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.last).toMatch(/rejected LITELLM_MASTER_KEY/);
    expect(await dir.read()).toBe(TEMPLATE);
  });

  it('transient 503s and dropped connections are retried', async () => {
    proxy.failNext(3, { status: 503, path: '/key/generate' });
    proxy.resetNext(1, { path: '/key/list' });
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(aliasCount()).toBe(1);
    expect((await modelsFor(await agentKey())).status).toBe(200);
  });
});

describe('rotation and concurrency', () => {
  it('--rotate writes a new key, then revokes the old one; one key keeps the alias', async () => {
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    const r = await run(['--rotate']);
    expect(r.code, r.stderr).toBe(0);
    const key = await agentKey();
    expect(key).not.toBe(old);
    expect((await modelsFor(key)).status).toBe(200);
    expect((await modelsFor(old)).status).toBe(401);
    expect(aliasCount()).toBe(1);
    expect(proxy.keys()).toHaveLength(1);
    expect(r.last).toMatch(/rotated key "task-agent default"/);
  });

  it('4 runs at once end with one key and a consistent .env', async () => {
    const results = await Promise.all([run(), run(), run(), run()]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(aliasCount()).toBe(1);
    const key = await agentKey();
    expect((await modelsFor(key)).status).toBe(200);
    expect(await dir.read()).toBe(TEMPLATE.replace('OPENAI_API_KEY=sk-proxy-default', `OPENAI_API_KEY=${key}`));
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(1);
  });
});

describe('declarative keys (LITELLM_BOOTSTRAP_CONFIG)', () => {
  it('issues every declared key into its own variable and file, and re-runs warm', async () => {
    await writeFile(path.join(dir.dir, 'keys.yaml'), 'keys:\n  - alias: task agent\n    env: OPENAI_API_KEY\n  - alias: memory service\n    env: MEMORY_API_KEY\n    file: memory.env\n    models: [claude-3-5-sonnet]\n    max_budget: 5\n');
    await writeFile(path.join(dir.dir, 'memory.env'), '# memory service\nMEMORY_API_KEY=\n');
    const r = await run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' });
    expect(r.code, r.stderr).toBe(0);
    const agent = await agentKey();
    const memory = valueOf(await readFile(path.join(dir.dir, 'memory.env'), 'utf8'), 'MEMORY_API_KEY')!;
    secretsSeen.add(memory);
    expect(await modelsFor(agent)).toEqual({ status: 200, ids: ['gpt-4o', 'gpt-4o-mini'] });
    expect(await modelsFor(memory)).toEqual({ status: 200, ids: ['claude-3-5-sonnet'] });
    expect(proxy.keys().find((k) => k.key_alias === 'memory service')?.max_budget).toBe(5);
    proxy.resetRequests();
    expect((await run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' })).code).toBe(0);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(0);
  });

  it('a broken keys file: exit 2 naming the line', async () => {
    await writeFile(path.join(dir.dir, 'keys.yaml'), 'keys:\n  - alias: x\n    env: not-a-name\n');
    const r = await run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' });
    expect(r.code).toBe(2);
    expect(r.last).toMatch(/keys\.yaml: line 3: keys\.0\.env must be a variable name/);
    expect(proxy.requestCount()).toBe(0);
  });
});

describe('many keys (a keys file declaring 40)', () => {
  const N = 40;
  /** Keys 0, 2, 4, ... go to .env, 1, 3, 5, ... to team.env (which has lines of its own). */
  const TEAM_ENV = '# the team\'s services\nTEAM_NAME=platform\n';
  const keysYaml = () => `keys:\n${Array.from({ length: N }, (_, i) => `  - alias: agent ${i}\n    env: AGENT_${i}_KEY\n${i % 2 ? '    file: team.env\n' : ''}`).join('')}`;
  const teamEnv = () => path.join(dir.dir, 'team.env');
  const many = (extra: Record<string, string | undefined> = {}) => run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml', ...extra });
  /** Every file the runs write, as bytes. */
  const files = async () => Object.fromEntries(await Promise.all((await readdir(dir.dir)).sort().map(async (n) => [n, await readFile(path.join(dir.dir, n), 'utf8')])));
  /** The key of each alias, from the file it is declared in (noted as secrets). */
  async function declaredKeys(): Promise<string[]> {
    const main = await dir.read();
    const team = await readFile(teamEnv(), 'utf8');
    return Array.from({ length: N }, (_, i) => {
      const key = valueOf(i % 2 ? team : main, `AGENT_${i}_KEY`) ?? '';
      if (key) secretsSeen.add(key);
      return key;
    });
  }
  /** Every declared key is in its file, works, and is the only key holding its alias. */
  async function expectEveryKeyWorking(): Promise<void> {
    const keys = await declaredKeys();
    expect(new Set(keys).size).toBe(N);
    for (const [i, key] of keys.entries()) {
      expect(key, `AGENT_${i}_KEY`).toMatch(/^sk-/);
      expect((await modelsFor(key)).ids, `AGENT_${i}_KEY`).toEqual(['gpt-4o', 'gpt-4o-mini']);
      expect(aliasCount(`agent ${i}`), `keys holding "agent ${i}"`).toBe(1);
    }
    expect(proxy.keys()).toHaveLength(N);
  }

  beforeEach(async () => {
    await writeFile(path.join(dir.dir, 'keys.yaml'), keysYaml());
    await writeFile(teamEnv(), TEAM_ENV);
  });

  it('the first run issues them at most 8 at a time and writes each file once; a warm re-run costs two requests and changes no byte', async () => {
    // Answers that take a while, as a proxy's database round trip does: requests overlap.
    proxy.setDelay(10, { path: '/key/generate' });
    // Every atomic write goes through a fresh temp file next to its target: count them.
    const writes: Record<string, Set<string>> = {};
    const watcher = watch(dir.dir, (_event, name) => {
      if (name && TEMP_FILE.test(name)) (writes[tempTarget(name)] ??= new Set()).add(name);
    });
    const r = await many();
    watcher.close();
    expect(r.code, r.stderr).toBe(0);
    await expectEveryKeyWorking();
    expect(r.last).toMatch(/created keys: 40/);
    expect(Object.fromEntries(Object.entries(writes).map(([f, temps]) => [f, temps.size]))).toEqual({ '.env': 1, 'team.env': 1, '.llm-proxy-bootstrap.json': 2, '.env.litellm': 1 });
    // The ledger twice on a directory's first run only: its installation id, recorded before any key carrying it is issued, then the keys.
    // The user's lines are where they were.
    expect((await dir.read()).startsWith(TEMPLATE)).toBe(true);
    expect((await readFile(teamEnv(), 'utf8')).startsWith(TEAM_ENV)).toBe(true);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(N);
    expect(proxy.maxInFlight).toBeGreaterThan(1);
    expect(proxy.maxInFlight).toBeLessThanOrEqual(8);

    const before = await files();
    const mtimes = await Promise.all(Object.keys(before).map(async (n) => (await stat(path.join(dir.dir, n))).mtimeMs));
    proxy.resetRequests();
    const warm = await many();
    expect(warm.code, warm.stderr).toBe(0);
    expect(await files()).toEqual(before);
    expect(await Promise.all(Object.keys(before).map(async (n) => (await stat(path.join(dir.dir, n))).mtimeMs))).toEqual(mtimes);
    // One page of our keys (by user_id, full rows) answers for all 40; the listing also shows the database ready.
    // Then the models the proxy serves.
    expect(proxy.requests.map((q) => `${q.method} ${q.path} ${q.auth}`)).toEqual(['GET /key/list master', 'GET /model/info master']);
    expect(warm.last).toMatch(/reused keys: 40/);
  });

  it('LITELLM_MAX_CONCURRENCY=1 sends one request at a time', async () => {
    proxy.setDelay(10, { path: '/key/generate' });
    const r = await many({ LITELLM_MAX_CONCURRENCY: '1' });
    expect(r.code, r.stderr).toBe(0);
    await expectEveryKeyWorking();
    expect(proxy.maxInFlight).toBe(1);
  });

  it('a warm re-run replaces only the keys that stopped working, and updates only the changed ones', async () => {
    expect((await many()).code).toBe(0);
    const keys = await declaredKeys();
    proxy.expireKey(keys[3]!);
    proxy.blockKey(keys[4]!);
    await writeFile(path.join(dir.dir, 'keys.yaml'), keysYaml().replace('  - alias: agent 5\n', '  - alias: agent 5\n    models: [claude-3-5-sonnet]\n'));
    const r = await many();
    expect(r.code, r.stderr).toBe(0);
    const after = await declaredKeys();
    expect(after.filter((k, i) => k !== keys[i]).length).toBe(2);
    expect(after[3]).not.toBe(keys[3]);
    expect(after[4]).not.toBe(keys[4]);
    expect((await modelsFor(after[3]!)).status).toBe(200);
    expect((await modelsFor(after[5]!)).ids).toEqual(['claude-3-5-sonnet']);
    expect(proxy.keys()).toHaveLength(N);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(N + 2);
  });

  it('a proxy failing some requests (503s, dropped connections): every key ends up written and working', async () => {
    proxy.flap({ seed: 7, errorRate: 0.15, resetRate: 0.05 });
    const r = await many({ LITELLM_PROXY_WAIT_SECONDS: '30' });
    expect(r.code, r.stderr).toBe(0);
    proxy.flap(null);
    await expectEveryKeyWorking();
    const before = await files();
    expect((await many()).code).toBe(0);
    expect(await files()).toEqual(before);
  });

  it('a proxy refusing one key mid-run: the keys already issued are kept and written, exit 4, the next run finishes', async () => {
    proxy.failNext(1, { status: 400, path: '/key/generate', body: { error: { message: 'stand-in: refused', type: 'bad_request_error', param: 'None', code: '400' } } });
    const r = await many();
    expect(r.code).toBe(4);
    expect(r.last).toMatch(/refused/);
    // Whatever the proxy issued is in a file (and the ledger): nothing on the proxy that nobody has.
    const written = new Set((await declaredKeys()).filter(Boolean));
    expect(proxy.keys().every((k) => [...written].some((key) => createHash('sha256').update(key).digest('hex') === k.token))).toBe(true);
    expect((await dir.read()).startsWith(TEMPLATE)).toBe(true);
    const next = await many();
    expect(next.code, next.stderr).toBe(0);
    await expectEveryKeyWorking();
  });

  it('a warm re-run while the database is down waits for it, then reuses every key', async () => {
    expect((await many()).code).toBe(0);
    const before = await files();
    proxy.setDb('disconnected');
    // The database comes back while the run waits: its first readiness poll sees it down, the next one up.
    proxy.onNext('/health/readiness', () => proxy.onNext('/health/readiness', () => proxy.setDb('connected')));
    proxy.resetRequests();
    const r = await many();
    expect(r.code, r.stderr).toBe(0);
    expect(await files()).toEqual(before);
    expect(r.last).toMatch(/reused keys: 40/);
    expect(proxy.requestCount({ path: '/health/readiness' })).toBeGreaterThan(0);
  });

  it('a proxy without /key/list (an older LiteLLM): every key is read by itself, at most 8 at a time, and nothing changes', async () => {
    expect((await many()).code).toBe(0);
    const before = await files();
    proxy.failNext(1000, { path: '/key/list', status: 404, body: { detail: 'Not Found' } });
    proxy.setDelay(10, { path: '/key/info' });
    proxy.resetRequests();
    const r = await many();
    expect(r.code, r.stderr).toBe(0);
    expect(await files()).toEqual(before);
    expect(proxy.requestCount({ path: '/key/info' })).toBe(N);
    expect(proxy.maxInFlight).toBeGreaterThan(1);
    expect(proxy.maxInFlight).toBeLessThanOrEqual(8);
  });

  it('keys issued by a run killed before it recorded them (they carry the alias) are removed by the next run', async () => {
    // What a kill between issuing and the ledger leaves: keys on the proxy holding our aliases, in no file.
    // The killed run had recorded this directory's installation id first; its keys carry it.
    await writeFile(path.join(dir.dir, '.llm-proxy-bootstrap.json'), JSON.stringify({ version: 1, installation: 'env-killed-run-test', issued: [] }));
    for (let i = 0; i < 5; i++) proxy.addKey({ key_alias: `agent ${i}`, user_id: 'task-agent', models: ['gpt-4o-mini'], metadata: { provisioned_by: 'llm-proxy-bootstrap', bootstrap_alias: `agent ${i}`, bootstrap_installation: 'env-killed-run-test' } });
    const r = await many();
    expect(r.code, r.stderr).toBe(0);
    await expectEveryKeyWorking();
  });
});

describe('plans: --dry-run and --check', () => {
  it('--dry-run prints the plan and changes nothing; --check exits 5 on drift, 0 when converged', async () => {
    const dry = await run(['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/issue a new key "task-agent default" \(no key yet\)/);
    expect(await dir.read()).toBe(TEMPLATE);
    expect(proxy.keys()).toHaveLength(0);
    const drift = await run(['--check']);
    expect(drift.code).toBe(5);
    expect((await run()).code).toBe(0);
    const check = await run(['--check']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('nothing to do');
  });
});

describe('bad input', () => {
  it('a missing .env: exit 2, naming the path and the template', async () => {
    const missing = path.join(dir.dir, 'nope', '.env');
    const r = await runCli([], { env: { ...env(), ENV_FILE_PATH: missing } });
    expect(r.code).toBe(2);
    expect(r.last).toContain(missing);
    expect(r.last).toContain('.env.template');
  });

  it('invalid settings: exit 2 listing every problem', async () => {
    const r = await run([], { LITELLM_PROXY_WAIT_SECONDS: 'forever', PROXY_BASE_URL: 'not a url' });
    expect(r.code).toBe(2);
    expect(r.last).toContain('LITELLM_PROXY_WAIT_SECONDS');
    expect(r.last).toContain('PROXY_BASE_URL');
  });

  it('a .env the editor cannot change safely: exit 2 naming the line, before any key is issued', async () => {
    const text = `LITELLM_MASTER_KEY=${MASTER}\nLITELLM_DEFAULT_MODELS=gpt-4o-mini\nOPENAI_API_KEY=\n"a quoted line"\n`;
    await dir.write(text);
    const r = await run();
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/OPENAI_API_KEY.*line 3/);
    expect(proxy.keys()).toHaveLength(0);
    expect(await dir.read()).toBe(text);
  });

  it('a read-only .env: exit 2 before any key is issued', async () => {
    await chmod(dir.env, 0o444);
    await chmod(dir.dir, 0o555);
    // root ignores permission bits: run as nobody when we are root.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = await runCli([], { env: env(), ...asNobody });
    await chmod(dir.dir, 0o755);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/not writable/);
    expect(proxy.keys()).toHaveLength(0);
    expect(await dir.read()).toBe(TEMPLATE);
  });
});


describe('before the proxy starts: --mirror-only (compose service llm-proxy-init)', () => {
  it('no .env at all: creates it from the template (0600, fresh keys), writes the proxy\'s env file, names the key still to set, asks the proxy nothing', async () => {
    await rm(dir.env);
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(0);
    const text = await dir.read();
    const master = valueOf(text, 'LITELLM_MASTER_KEY') ?? '';
    secretsSeen.add(master);
    secretsSeen.add(valueOf(text, 'LITELLM_SALT_KEY') ?? '');
    expect(master).toMatch(/^sk-[0-9a-f]{48}$/);
    expect((await stat(dir.env)).mode & 0o777).toBe(0o600);
    expect(valueOf(await dir.readLitellm(), 'LITELLM_MASTER_KEY')).toBe(master);
    expect(r.last).toMatch(/created \S+\.env from .* with a fresh random LITELLM_MASTER_KEY, LITELLM_SALT_KEY and LLM_PROXY_DB_PASSWORD/);
    expect(r.last).toMatch(/still to set in \S+: LITELLM_OPENAI_API_KEY/);
    expect(r.last).toContain('docker compose up -d --force-recreate llm-proxy');
    expect(proxy.requests).toHaveLength(0);
  });

  it('an existing .env is kept byte for byte; a changed provider key is mirrored and the summary says how the proxy gets it', async () => {
    const first = await run(['--mirror-only']);
    expect(first.code, first.stderr).toBe(0);
    expect(await dir.read()).toBe(TEMPLATE);
    expect(first.last).not.toMatch(/created|still to set|force-recreate/);
    expect(valueOf(await dir.readLitellm(), 'OPENAI_API_KEY')).toBe(OPENAI_UPSTREAM);

    const again = await run(['--mirror-only']);
    expect(again.last).toMatch(/proxy env file unchanged/);

    const changed = 'sk-proj-Qm4XoVb81sRkZc2NwT7jLh5yPd0e';
    secretsSeen.add(changed);
    await dir.write(TEMPLATE.replace(OPENAI_UPSTREAM, changed));
    const after = await run(['--mirror-only']);
    expect(after.code, after.stderr).toBe(0);
    expect(valueOf(await dir.readLitellm(), 'OPENAI_API_KEY')).toBe(changed);
    expect(after.last).toMatch(/the proxy's env file changed \(OPENAI_API_KEY\): .*`docker compose up -d --force-recreate llm-proxy`/);
    expect(proxy.requests).toHaveLength(0);
  });

  it('--mirror-only --check: exit 5 while the proxy\'s env file is stale, 0 once written; never creates .env', async () => {
    expect((await run(['--mirror-only', '--check'])).code).toBe(5);
    await run(['--mirror-only']);
    expect((await run(['--mirror-only', '--check'])).code).toBe(0);
    await rm(dir.env);
    const r = await run(['--mirror-only', '--check']);
    expect(r.code).toBe(2);
    expect(r.last).toMatch(/does not exist/);
  });
});

describe("the agent's env file (AGENT_ENV_FILE_PATH) and what a run tells about the proxy", () => {
  it("holds the agent's key alone (0600), follows a rotation, and never the master or provider keys", async () => {
    const agentFile = path.join(dir.dir, '.env.agent');
    const r = await run([], { AGENT_ENV_FILE_PATH: agentFile });
    expect(r.code, r.stderr).toBe(0);
    const key = await agentKey();
    const text = await readFile(agentFile, 'utf8');
    expect(valueOf(text, 'OPENAI_API_KEY')).toBe(key);
    for (const secret of [MASTER, OPENAI_UPSTREAM, ANTHROPIC_UPSTREAM]) expect(text).not.toContain(secret);
    expect(text.split('\n').filter((l) => /^[A-Z]/.test(l))).toHaveLength(1);
    expect((await stat(agentFile)).mode & 0o777).toBe(0o600);

    // Warm: nothing rewritten, nothing to check. Gone: --check says so, a run writes it again. Rotated: the new key.
    const warm = await run([], { AGENT_ENV_FILE_PATH: agentFile });
    expect(warm.last).not.toMatch(/agent's env file written/);
    expect((await run(['--check'], { AGENT_ENV_FILE_PATH: agentFile })).code).toBe(0);
    await rm(agentFile);
    const check = await run(['--check'], { AGENT_ENV_FILE_PATH: agentFile });
    expect(check.code).toBe(5);
    expect(check.stdout).toContain(`write ${agentFile} (the agent's key alone)`);
    expect((await run([], { AGENT_ENV_FILE_PATH: agentFile })).last).toMatch(/agent's env file written/);
    expect(valueOf(await readFile(agentFile, 'utf8'), 'OPENAI_API_KEY')).toBe(key);
    expect(await run(['--rotate'], { AGENT_ENV_FILE_PATH: agentFile })).toMatchObject({ code: 0 });
    expect(valueOf(await readFile(agentFile, 'utf8'), 'OPENAI_API_KEY')).toBe(await agentKey());
  });

  it('is written into its own directory, created 0700 when missing (the compose agent mounts that directory)', async () => {
    const agentFile = path.join(dir.dir, 'agent', '.env.agent');
    const r = await run([], { AGENT_ENV_FILE_PATH: agentFile });
    expect(r.code, r.stderr).toBe(0);
    expect(valueOf(await readFile(agentFile, 'utf8'), 'OPENAI_API_KEY')).toBe(await agentKey());
    expect((await stat(path.dirname(agentFile))).mode & 0o777).toBe(0o700);
    expect((await stat(agentFile)).mode & 0o777).toBe(0o600);
  });

  it('a run with nothing to do but the agent\'s file waits for a run holding the lock, then writes it', async () => {
    const agentFile = path.join(dir.dir, 'agent', '.env.agent');
    expect((await run([], { AGENT_ENV_FILE_PATH: agentFile })).code).toBe(0);
    await rm(agentFile);
    // Another run holds the lock (a real holder process, until it is told to stop).
    const journal = path.join(dir.dir, 'holder.journal');
    const holder = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/lock-holder.ts', `${dir.env}.lock`, journal, 'until-SIGTERM'], { stdio: 'ignore' });
    const holderGone = new Promise((resolve) => holder.on('close', resolve));
    try {
      while (!(await readFile(journal, 'utf8').catch(() => '')).includes('start')) {
        expect(holder.exitCode, 'the lock holder ended before it held the lock').toBeNull();
        await new Promise((r) => setTimeout(r, 20));
      }
      const running = startCli([], { env: env({ AGENT_ENV_FILE_PATH: agentFile }) });
      let said = '';
      const waits = await new Promise<boolean>((resolve) => {
        running.child.stderr!.on('data', (d: string) => {
          said += d;
          if (said.includes('another run holds the lock; waiting for it')) resolve(true);
        });
        void running.exited.then(() => resolve(false));
      });
      expect(waits, 'the run wrote the agent\'s file without the lock').toBe(true);
      expect(existsSync(agentFile)).toBe(false);
      holder.kill('SIGTERM');
      const r = await running.exited;
      expect(r.code, r.stderr).toBe(0);
      expect(r.last).toMatch(/agent's env file written/);
      expect(valueOf(await readFile(agentFile, 'utf8'), 'OPENAI_API_KEY')).toBe(await agentKey());
    } finally {
      holder.kill('SIGTERM');
      await holderGone;
    }
  });

  it('a run that changes a provider key in the proxy\'s env file says which command applies it', async () => {
    expect((await run()).code).toBe(0);
    const changed = 'sk-ant-api03-Vt3ZyKq8RmW1xNc5PbL0sJh7';
    secretsSeen.add(changed);
    await dir.write((await dir.read()).replace(ANTHROPIC_UPSTREAM, changed));
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/the proxy's env file changed \(ANTHROPIC_API_KEY\): a running llm-proxy keeps the old values until `docker compose up -d --force-recreate llm-proxy`/);
    expect((await run()).last).not.toMatch(/force-recreate/);
  });
});
