/**
 * Pins the model routes of the LiteLLM stand-in (test/support/stand-in-models.ts), each fact as
 * /work/shared/litellm-api.md "Model routes with storage on" measured it on LiteLLM 1.77.2 and
 * BerriAI/litellm's proxy_server.py (add_new_model, update_model, delete_model, model_info_v1) and
 * model_management_endpoints.py (patch_model) say. Real HTTP on loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn, type StandInOptions } from './support/litellm-stand-in.ts';

const MASTER = 'sk-master-test-0000';
const open: LiteLLMStandIn[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function standIn(opts: Partial<StandInOptions> = {}): Promise<LiteLLMStandIn> {
  const s = await startLiteLLMStandIn({ masterKey: MASTER, storeModelsInDb: true, ...opts });
  open.push(s);
  return s;
}

async function call(si: LiteLLMStandIn, method: string, path: string, body?: unknown, key = MASTER) {
  const res = await fetch(si.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

const OLLAMA = { model_name: 'local/llama3', litellm_params: { model: 'ollama/llama3', api_base: 'http://ollama:11434' } };
const info = async (si: LiteLLMStandIn) => (await call(si, 'GET', '/model/info')).json.data as { model_name: string; litellm_params: Record<string, unknown>; model_info: Record<string, unknown> }[];

describe('model storage off (LiteLLM\'s default)', () => {
  it('/model/new, /model/update, PATCH /model/{id}/update and /model/delete answer 500 auth_error naming STORE_MODEL_IN_DB', async () => {
    const si = await standIn({ storeModelsInDb: false });
    for (const [method, path, body] of [
      ['POST', '/model/new', OLLAMA],
      ['POST', '/model/update', { model_info: { id: 'x' }, litellm_params: {} }],
      ['PATCH', '/model/x/update', { litellm_params: {} }],
      ['POST', '/model/delete', { id: 'x' }],
    ] as const) {
      const r = await call(si, method, path, body);
      expect(r.status, path).toBe(500);
      expect(r.json.error).toEqual({ message: "{'error': \"Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature.\"}", type: 'auth_error', param: 'None', code: '500' });
    }
    expect(si.storedModels()).toEqual([]);
  });

  it('a virtual key may not add models; without a database the answer is the db error', async () => {
    const si = await standIn();
    const key = (await call(si, 'POST', '/key/generate', { models: [] })).json.key as string;
    expect((await call(si, 'POST', '/model/new', OLLAMA, key)).status).toBe(401);
    si.setDb('Not connected');
    const r = await call(si, 'POST', '/model/new', OLLAMA);
    expect(r.status).toBe(500);
    expect(r.json.error.message).toMatch(/DB not connected/);
  });
});

describe('model storage on', () => {
  it('/model/new stores the deployment under model_info.id, keeps custom model_info fields and encrypts litellm_params strings', async () => {
    const si = await standIn();
    const r = await call(si, 'POST', '/model/new', { ...OLLAMA, model_info: { id: 'ours-1', provisioned_by: 'me' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ model_id: 'ours-1', model_name: 'local/llama3', model_info: { id: 'ours-1', provisioned_by: 'me' } });
    expect(r.json.litellm_params.api_base).not.toBe('http://ollama:11434');
    const rows = await info(si);
    expect(rows).toContainEqual({ model_name: 'local/llama3', litellm_params: OLLAMA.litellm_params, model_info: { id: 'ours-1', provisioned_by: 'me', db_model: true } });
    // Config models say db_model false.
    expect(rows.find((m) => m.model_name === 'gpt-4o-mini')?.model_info['db_model']).toBe(false);
  });

  it('without an id a uuid is given; the same model_name again adds a second deployment; the same id again is a 500', async () => {
    const si = await standIn();
    const a = await call(si, 'POST', '/model/new', OLLAMA);
    expect(a.json.model_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(si, 'POST', '/model/new', OLLAMA)).status).toBe(200);
    expect((await info(si)).filter((m) => m.model_name === 'local/llama3')).toHaveLength(2);
    await call(si, 'POST', '/model/new', { ...OLLAMA, model_info: { id: 'fixed' } });
    const again = await call(si, 'POST', '/model/new', { ...OLLAMA, model_info: { id: 'fixed' } });
    expect(again.status).toBe(500);
    expect(again.json.error.message).toMatch(/^Failed to add model to db/);
    expect(si.storedModels()).toHaveLength(3);
  });

  it('a body without litellm_params.model is a 500 with a plain-text body', async () => {
    const si = await standIn();
    const r = await call(si, 'POST', '/model/new', { model_name: 'x', litellm_params: {} });
    expect(r.status).toBe(500);
    expect(r.json).toBeUndefined();
    expect(r.text).toBe('Internal Server Error');
  });

  it('/model/info removes api_key and shows api_base', async () => {
    const si = await standIn();
    await call(si, 'POST', '/model/new', { model_name: 'gemini/gemini-2.5-flash', litellm_params: { model: 'gemini/gemini-2.5-flash', api_key: 'os.environ/GEMINI_API_KEY' } });
    const row = (await info(si)).find((m) => m.model_name === 'gemini/gemini-2.5-flash')!;
    expect(row.litellm_params).toEqual({ model: 'gemini/gemini-2.5-flash' });
    expect(si.storedModels()[0]!.litellm_params['api_key']).toBe('os.environ/GEMINI_API_KEY');
  });

  it('POST /model/update merges litellm_params only; PATCH /model/{id}/update merges model_info too; unknown ids 400 / 404', async () => {
    const si = await standIn();
    await call(si, 'POST', '/model/new', { ...OLLAMA, model_info: { id: 'm1', mark: 'a' } });
    const post = await call(si, 'POST', '/model/update', { model_name: 'renamed', model_info: { id: 'm1', mark: 'b' }, litellm_params: { api_base: 'http://other:11434' } });
    expect(post.status).toBe(200);
    let row = (await info(si)).find((m) => m.model_info['id'] === 'm1')!;
    expect(row).toMatchObject({ model_name: 'local/llama3', litellm_params: { model: 'ollama/llama3', api_base: 'http://other:11434' }, model_info: { mark: 'a' } });
    const patch = await call(si, 'PATCH', '/model/m1/update', { litellm_params: { api_base: 'http://third:11434' }, model_info: { mark: 'c' } });
    expect(patch.status).toBe(200);
    row = (await info(si)).find((m) => m.model_info['id'] === 'm1')!;
    expect(row).toMatchObject({ litellm_params: { api_base: 'http://third:11434' }, model_info: { id: 'm1', mark: 'c' } });
    expect((await call(si, 'POST', '/model/update', { model_info: { id: 'nope' }, litellm_params: {} })).status).toBe(400);
    expect((await call(si, 'PATCH', '/model/nope/update', { litellm_params: {} })).status).toBe(404);
    expect((await call(si, 'POST', '/model/m1/update', { litellm_params: {} })).status).toBe(405);
  });

  it('/model/delete {id}: 200 "deleted successfully"; unknown id 400; the name stays a dead group (no healthy deployments) until a restart', async () => {
    const si = await standIn();
    await call(si, 'POST', '/model/new', { ...OLLAMA, model_info: { id: 'm1' } });
    const ask = () => call(si, 'POST', '/v1/chat/completions', { model: 'local/llama3', messages: [{ role: 'user', content: 'hi' }] });
    expect((await ask()).status).toBe(200);
    const del = await call(si, 'POST', '/model/delete', { id: 'm1' });
    expect(del).toMatchObject({ status: 200, json: { message: 'Model: m1 deleted successfully' } });
    const missing = await call(si, 'POST', '/model/delete', { id: 'm1' });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toBe("{'error': 'Model with id=m1 not found in db'}");
    expect((await info(si)).some((m) => m.model_name === 'local/llama3')).toBe(false);
    const dead = await ask();
    expect(dead.status).toBe(400);
    expect(dead.json.error.message).toMatch(/no healthy deployments/);
    await si.stop();
    await si.start();
    // (the client's pooled connection died with the old server: one retry)
    expect((await ask().catch(() => ask())).json.error.message).toMatch(/Invalid model name/);
  });

  it('records the body of every /model/* write, so a test can look for secrets in it', async () => {
    const si = await standIn();
    await call(si, 'POST', '/model/new', OLLAMA);
    const rec = si.requests.find((r) => r.path === '/model/new')!;
    expect(JSON.parse(rec.body!)).toEqual(OLLAMA);
  });
});

describe('completions through a stored deployment', () => {
  const ask = (si: LiteLLMStandIn, model: string) => call(si, 'POST', '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] });

  it('work only when the proxy\'s environment holds the provider key its api_key names', async () => {
    const env: NodeJS.ProcessEnv = {};
    const si = await standIn({ models: ['openai/*'], upstreamEnv: env, upstreamKeys: ['AIza-test-gemini-key'] });
    await call(si, 'POST', '/model/new', { model_name: 'gemini/gemini-2.5-flash', litellm_params: { model: 'gemini/gemini-2.5-flash', api_key: 'os.environ/GEMINI_API_KEY' } });
    const without = await ask(si, 'gemini/gemini-2.5-flash');
    expect(without.status).toBe(401);
    expect(without.json.error.message).toMatch(/GeminiException - .*GEMINI_API_KEY/);
    env['GEMINI_API_KEY'] = 'AIza-test-gemini-key';
    expect((await ask(si, 'gemini/gemini-2.5-flash')).status).toBe(200);
    // Before it was stored the name was not served.
    expect((await ask(si, 'gemini/gemini-2.5-pro')).json.error.message).toMatch(/Invalid model name/);
  });

  it('a local runtime (api_base, no api_key) answers without any key; a stored wildcard serves its provider\'s models', async () => {
    const si = await standIn({ upstreamEnv: { GEMINI_API_KEY: 'AIza-test' }, upstreamKeys: ['AIza-test'] });
    await call(si, 'POST', '/model/new', OLLAMA);
    expect((await ask(si, 'local/llama3')).status).toBe(200);
    await call(si, 'POST', '/model/new', { model_name: 'gemini/*', litellm_params: { model: 'gemini/*', api_key: 'os.environ/GEMINI_API_KEY' } });
    expect((await ask(si, 'gemini/gemini-2.5-flash')).status).toBe(200);
  });
});
