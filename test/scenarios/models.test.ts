/**
 * Models as users meet them: the built CLI against the LiteLLM stand-in with model storage on
 * (as the compose stack runs LiteLLM: STORE_MODEL_IN_DB=True). The stand-in plays the proxy's
 * environment too: it reads the provider keys from the .env.litellm the bootstrap wrote, as the
 * proxy does when it starts, and answers a completion only with the key the model's
 * `os.environ/NAME` names.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'dotenv';
import { defaultFlavor, startLiteLLMStandIn, type LiteLLMStandIn, type StandInOptions } from '../support/litellm-stand-in.ts';
import { envDir, runCli, startCli, valueOf, type EnvDir } from '../support/cli.ts';
import { messages } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-models-5c2e9a71';
const GEMINI_UPSTREAM = 'AIzaSy-UPSTREAMgeminiSECRET-0123456789abcdef';
const OPENAI_UPSTREAM = 'sk-proj-UPSTREAMopenaiSECRET-models-0123456789';
const OLLAMA_TOKEN = 'ollama-UPSTREAMtokenSECRET-4242';
const SALT = 'sk-salt-3f9a1c7e5b2d8046a1c3e5f7b9d0e2a4c6e8f0a2b4d6';

const TEMPLATE = (models: string, gemini = GEMINI_UPSTREAM) => `LITELLM_MASTER_KEY=${MASTER}
LITELLM_SALT_KEY=${SALT}
LITELLM_DEFAULT_MODELS=${models}
LITELLM_OPENAI_API_KEY=${OPENAI_UPSTREAM}
LITELLM_GEMINI_API_KEY=${gemini}
LITELLM_OLLAMA_TOKEN=${OLLAMA_TOKEN}
OPENAI_API_KEY=sk-proxy-default
`;

let proxy: LiteLLMStandIn;
let dir: EnvDir;
/** The proxy's environment: what it read from .env.litellm "when it started" (see startProxy). */
let proxyEnv: NodeJS.ProcessEnv;
const secrets = new Set([MASTER, SALT, GEMINI_UPSTREAM, OPENAI_UPSTREAM, OLLAMA_TOKEN]);

async function startProxy(opts: Partial<StandInOptions> = {}) {
  proxyEnv = {};
  proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['openai/*'], storeModelsInDb: true, upstreamEnv: proxyEnv, upstreamKeys: [OPENAI_UPSTREAM, GEMINI_UPSTREAM, OLLAMA_TOKEN], ...opts });
}

const run = (args: string[] = [], extra: Record<string, string> = {}) =>
  runCli(args, { env: { ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm, PROXY_BASE_URL: proxy.url, LITELLM_PROXY_WAIT_SECONDS: '10', ...extra } });

/** As compose runs it: the mirror step before the proxy starts, the proxy reads .env.litellm, then the bootstrap. */
async function up(extra: Record<string, string> = {}) {
  const init = await runCli(['--mirror-only'], { env: { ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm } });
  expect(init.code, init.stderr).toBe(0);
  for (const k of Object.keys(proxyEnv)) delete proxyEnv[k];
  Object.assign(proxyEnv, parse(await dir.readLitellm()));
  // The proxy's environment also holds what its operator gives it (here the Ollama token).
  proxyEnv['OLLAMA_TOKEN'] = OLLAMA_TOKEN;
  return run([], extra);
}

async function agentKey(): Promise<string> {
  const key = valueOf(await dir.read(), 'OPENAI_API_KEY') ?? '';
  secrets.add(key);
  return key;
}

async function complete(key: string, model: string) {
  const res = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
  });
  const body = (await res.json()) as { choices?: { message: { content: string } }[]; error?: { message: string } };
  return { status: res.status, body, upstream: res.headers.get('x-stand-in-upstream-key-sha256') };
}

const modelWrites = () => proxy.requests.filter((r) => r.path.startsWith('/model/') && r.method !== 'GET');
const writesSeen: string[] = [];

const keysFile = () => path.join(dir.dir, 'keys.yaml');
async function declare(modelsYaml: string, keyModels = '[local/llama3, openai/gpt-4o-mini]') {
  await writeFile(keysFile(), `keys:\n  - alias: task-agent default\n    env: OPENAI_API_KEY\n    models: ${keyModels}\n${modelsYaml ? `models:\n${modelsYaml}` : ''}`);
}
const OLLAMA_YAML = (base: string) => `  - model_name: local/llama3\n    litellm_params:\n      model: ollama/llama3\n      api_base: ${base}\n      api_key: os.environ/OLLAMA_TOKEN\n`;
const CONFIG = { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' };

beforeEach(async () => {
  await startProxy();
});
afterEach(async () => {
  writesSeen.push(...modelWrites().map((r) => r.body ?? ''));
  await proxy.close();
  await dir?.cleanup();
});

describe('a provider key and a default model of that provider', () => {
  it('Gemini: the model is registered on the first run (exactly it, its key a reference), and the agent gets a completion', async () => {
    dir = await envDir(TEMPLATE('gemini/gemini-2.5-flash'));
    const r = await up();
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/created key "task-agent default".*registered model "gemini\/gemini-2\.5-flash"/);
    const writes = modelWrites();
    expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual(['POST /model/new']);
    const body = JSON.parse(writes[0]!.body!);
    expect(body).toMatchObject({ model_name: 'gemini/gemini-2.5-flash', litellm_params: { model: 'gemini/gemini-2.5-flash', api_key: 'os.environ/GEMINI_API_KEY' }, model_info: { provisioned_by: 'llm-proxy-bootstrap' } });
    const answer = await complete(await agentKey(), 'gemini/gemini-2.5-flash');
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.choices?.[0]?.message.content).toMatch(/Hello/);
    expect(answer.upstream).not.toBeNull();

    // Warm: two requests (the key, the models), nothing registered again, no warning.
    proxy.resetRequests();
    const warm = await run();
    expect(warm.code, warm.stderr).toBe(0);
    expect(proxy.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /key/info', 'GET /model/info']);
    expect(warm.last).toMatch(/reused key "task-agent default"/);
    expect(warm.logs.filter((l) => l.level === 40 || l.level === 'warn')).toEqual([]);
  });

  it('a model whose provider key is empty is not registered: a warning naming the key to set, and --check exits 5', async () => {
    dir = await envDir(TEMPLATE('gemini/gemini-2.5-flash', ''));
    const r = await up();
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toContain('model "gemini/gemini-2.5-flash" of key "task-agent default" is not served by the proxy (closest configured: "openai/*"): set LITELLM_GEMINI_API_KEY in .env to have it registered');
    expect(modelWrites()).toEqual([]);
    const check = await run(['--check']);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/- \(cannot be done by this run\) model "gemini\/gemini-2\.5-flash" of key "task-agent default" is not served/);
    expect(check.last).toMatch(/model-unserved/);
  });

  it('a model the proxy already serves (openai/* in its config) is not registered', async () => {
    dir = await envDir(TEMPLATE('openai/gpt-4o-mini'));
    expect((await up()).code).toBe(0);
    expect(modelWrites()).toEqual([]);
    expect((await complete(await agentKey(), 'openai/gpt-4o-mini')).status).toBe(200);
  });
});

describe('declared models (models: in the keys file)', () => {
  it('an Ollama-style model is registered, updated when its api_base changes, removed when dropped from the file', async () => {
    dir = await envDir(TEMPLATE('openai/gpt-4o-mini'));
    await declare(OLLAMA_YAML('http://ollama:11434'));
    const first = await up(CONFIG);
    expect(first.code, first.stderr).toBe(0);
    expect(first.last).toMatch(/registered model "local\/llama3"/);
    expect(proxy.storedModels()).toMatchObject([{ model_name: 'local/llama3', litellm_params: { model: 'ollama/llama3', api_base: 'http://ollama:11434', api_key: 'os.environ/OLLAMA_TOKEN' } }]);
    const key = await agentKey();
    const answer = await complete(key, 'local/llama3');
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);

    // Warm: nothing to do.
    proxy.resetRequests();
    const warm = await run([], CONFIG);
    expect(warm.code, warm.stderr).toBe(0);
    expect(proxy.requests).toHaveLength(2);
    expect((await run(['--check'], CONFIG)).code).toBe(0);

    // A new api_base: --dry-run says so, the run updates the same deployment.
    await declare(OLLAMA_YAML('http://gpu-box:11434'));
    const dry = await run(['--dry-run'], CONFIG);
    expect(dry.stdout).toContain('- update model "local/llama3": api_base');
    expect((await run(['--check'], CONFIG)).code).toBe(5);
    proxy.resetRequests();
    const moved = await run([], CONFIG);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.last).toMatch(/updated model "local\/llama3"/);
    expect(modelWrites().map((w) => `${w.method} ${w.path}`)).toEqual([`PATCH /model/${proxy.storedModels()[0]!.model_id}/update`]);
    expect(proxy.storedModels()).toHaveLength(1);
    expect(proxy.storedModels()[0]!.litellm_params['api_base']).toBe('http://gpu-box:11434');

    // Dropped from the file (and from the key): removed.
    await declare('', '[openai/gpt-4o-mini]');
    const dropped = await run([], CONFIG);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.last).toMatch(/removed model "local\/llama3"/);
    expect(proxy.storedModels()).toEqual([]);
    expect((await run(['--check'], CONFIG)).code).toBe(0);
  });

  it('a dropped parameter: cleared in place with null on a proxy that supports it (its id kept), else re-registered (1.77); one deployment, without it; a proxy without PATCH gets the same', async () => {
    dir = await envDir(TEMPLATE('openai/gpt-4o-mini'));
    await declare(OLLAMA_YAML('http://ollama:11434'));
    expect((await up(CONFIG)).code).toBe(0);
    const id = proxy.storedModels()[0]!.model_id;
    await declare('  - model_name: local/llama3\n    litellm_params:\n      model: ollama/llama3\n      api_base: http://ollama:11434\n');
    expect((await run(['--dry-run'], CONFIG)).stdout).toContain('- re-register model "local/llama3" (api_key (removed)): cleared in place (keeping its id) where the proxy clears a parameter with null (LiteLLM 1.111 and newer), else delete it, then register it again');
    proxy.resetRequests();
    const r = await run([], CONFIG);
    expect(r.code, r.stderr).toBe(0);
    if (defaultFlavor() === 'current') {
      // LiteLLM 1.111 (PR #40047): one PATCH with api_key: null; the deployment keeps its id.
      expect(modelWrites().map((w) => `${w.method} ${w.path}`)).toEqual([`PATCH /model/${id}/update`]);
      expect(JSON.parse(modelWrites()[0]!.body!).litellm_params).toMatchObject({ api_key: null });
      expect(proxy.storedModels()[0]!.model_id).toBe(id);
    } else {
      // 1.77 drops nulls on update: delete, then register again.
      expect(modelWrites().map((w) => `${w.method} ${w.path}`)).toEqual(['POST /model/delete', 'POST /model/new']);
    }
    expect(proxy.storedModels()).toHaveLength(1);
    expect(proxy.storedModels()[0]!.litellm_params).toEqual({ model: 'ollama/llama3', api_base: 'http://ollama:11434' });
    expect((await run(['--check'], CONFIG)).code).toBe(0);
    // An older proxy without PATCH /model/{id}/update (FastAPI: 405): the changed api_base is applied the same way.
    await declare('  - model_name: local/llama3\n    litellm_params:\n      model: ollama/llama3\n      api_base: http://gpu-box:11434\n');
    proxy.failNext(1, { path: `/model/${proxy.storedModels()[0]!.model_id}/update`, status: 405, body: { detail: 'Method Not Allowed' } });
    proxy.resetRequests();
    const older = await run([], CONFIG);
    expect(older.code, older.stderr).toBe(0);
    expect(modelWrites().map((w) => `${w.method} ${w.path.replace(/\/model\/[^/]+\/update/, '/model/{id}/update')}`)).toEqual(['PATCH /model/{id}/update', 'POST /model/delete', 'POST /model/new']);
    expect(proxy.storedModels()).toMatchObject([{ litellm_params: { api_base: 'http://gpu-box:11434' } }]);
    expect((await run(['--check'], CONFIG)).code).toBe(0);
  });

  it('a same-named model that is not ours (in the proxy\'s config, or added by hand) is never changed', async () => {
    await proxy.close();
    await startProxy({ models: ['openai/*', 'local/llama3'] });
    dir = await envDir(TEMPLATE('openai/gpt-4o-mini'));
    await declare(OLLAMA_YAML('http://ollama:11434'));
    const r = await up(CONFIG);
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toContain('model "local/llama3" (declared at');
    expect(messages(r)).toMatch(/is already served by a model the bootstrap does not own .*: left as it is, not registered/);
    expect(modelWrites()).toEqual([]);

    // One added by hand (no marker): not updated, not removed when the file drops it.
    await proxy.close();
    await startProxy();
    const byHand = await fetch(`${proxy.url}/model/new`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model_name: 'local/llama3', litellm_params: { model: 'ollama/llama3', api_base: 'http://by-hand:11434' } }),
    });
    expect(byHand.status).toBe(200);
    proxy.resetRequests();
    expect((await run([], CONFIG)).code).toBe(0);
    await declare('', '[openai/gpt-4o-mini]');
    expect((await run([], CONFIG)).code).toBe(0);
    expect(modelWrites()).toEqual([]);
    expect(proxy.storedModels()).toMatchObject([{ litellm_params: { api_base: 'http://by-hand:11434' } }]);
  });

  it('a literal secret as api_key: exit 2 naming the line and setting, the value never printed, nothing sent', async () => {
    dir = await envDir(TEMPLATE('openai/gpt-4o-mini'));
    await declare(`  - model_name: local/llama3\n    litellm_params:\n      model: ollama/llama3\n      api_key: ${OLLAMA_TOKEN}\n`);
    const r = await run([], CONFIG);
    expect(r.code).toBe(2);
    expect(r.last).toMatch(/keys\.yaml: line 9: models\.0\.litellm_params\.api_key must be a reference os\.environ\/NAME, not a value/);
    expect(r.stdout + r.stderr).not.toContain(OLLAMA_TOKEN);
    expect(proxy.requestCount()).toBe(0);
  });
});

describe('crash safety', () => {
  it('a run killed while registering: the next run finds the model by its id and adds no second deployment', async () => {
    dir = await envDir(TEMPLATE('openai/gpt-4o-mini'));
    await declare(OLLAMA_YAML('http://ollama:11434'));
    const running = startCli([], { env: { ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm, PROXY_BASE_URL: proxy.url, LITELLM_PROXY_WAIT_SECONDS: '10', ...CONFIG } });
    // The proxy stores the model, but the run never hears the answer.
    proxy.onNext('/model/new', () => running.child.kill('SIGKILL'));
    const killed = await running.exited;
    expect(killed.signal).toBe('SIGKILL');
    expect(proxy.storedModels()).toHaveLength(1);
    const again = await run([], CONFIG);
    expect(again.code, again.stderr).toBe(0);
    expect(proxy.storedModels()).toHaveLength(1);
    expect(proxy.requestCount({ path: '/model/new' })).toBe(1);
    expect((await run(['--check'], CONFIG)).code).toBe(0);
  });

  it('a /model/new that loses a race (the id is taken: 500) counts as registered', async () => {
    dir = await envDir(TEMPLATE('openai/gpt-4o-mini'));
    await declare(OLLAMA_YAML('http://ollama:11434'));
    proxy.failNext(1, { path: '/model/new', status: 500, body: { error: { message: 'Failed to add model to db. Error - Unique constraint failed on the fields: (`model_id`)', type: 'internal_server_error', param: 'None', code: '500' } } });
    const r = await run([], CONFIG);
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toMatch(/model "local\/llama3" was registered by another run meanwhile/);
    expect(proxy.requestCount({ path: '/model/new' })).toBe(1);
  });
});

describe('a proxy that cannot store models (STORE_MODEL_IN_DB off)', () => {
  it('the key is still issued and written; exit 4 with one line naming both fixes', async () => {
    await proxy.close();
    await startProxy({ storeModelsInDb: false });
    dir = await envDir(TEMPLATE('gemini/gemini-2.5-flash'));
    const r = await up();
    expect(r.code, r.stderr).toBe(4);
    expect(r.last).toMatch(/failed \(exit 4\): the proxy cannot store models \(STORE_MODEL_IN_DB is off, or store_model_in_db stored in the proxy's database is false, which wins over the variable\): model\(s\) "gemini\/gemini-2\.5-flash" not registered; done before: created key "task-agent default"/);
    // Both places it is set, and how to see the stored one.
    expect(r.last).toMatch(/STORE_MODEL_IN_DB=True in the proxy's environment .*GET \/config\/field\/info\?field_name=store_model_in_db .* or add the model\(s\) to proxy_config\.yaml/);
    const key = await agentKey();
    expect(key).toMatch(/^sk-/);
    expect(key).not.toBe('sk-proxy-default');
    expect(proxy.keys().map((k) => k.key_alias)).toEqual(['task-agent default']);
    // Tried once, not retried until the deadline.
    expect(proxy.requestCount({ path: '/model/new' })).toBe(1);
    // The next run reuses the key and fails the same way (nothing half-applied hides).
    const again = await run();
    expect(again.code).toBe(4);
    expect(again.last).toMatch(/reused key "task-agent default"/);
  });
});

describe('secrets', () => {
  it('no /model/* request body of any test above held a secret value (provider keys, master key, virtual keys)', () => {
    expect(writesSeen.length).toBeGreaterThan(3);
    for (const body of writesSeen) for (const secret of secrets) if (secret) expect(body).not.toContain(secret);
  });
});
