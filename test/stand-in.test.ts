/**
 * Pins the LiteLLM facts the stand-in (a TEST DOUBLE, test/support/litellm-stand-in.ts) copies,
 * so every other test that talks to it can trust them. Real HTTP on loopback, no mocks.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultFlavor,
  reservePort,
  startLiteLLMStandIn,
  type LiteLLMStandIn,
  type StandInOptions,
} from './support/litellm-stand-in.ts';

const MASTER = 'sk-master-test-0000';
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Resolves once `pred` holds (checked every millisecond); fails the test after 5 s. */
async function until(pred: () => boolean): Promise<void> {
  for (const end = Date.now() + 5000; !pred(); await new Promise((r) => setTimeout(r, 1))) {
    if (Date.now() > end) throw new Error('until: the condition never held');
  }
}

const open: LiteLLMStandIn[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function standIn(opts: Partial<StandInOptions> = {}): Promise<LiteLLMStandIn> {
  const s = await startLiteLLMStandIn({ masterKey: MASTER, ...opts });
  open.push(s);
  return s;
}

interface Reply {
  status: number;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(
  si: LiteLLMStandIn,
  method: string,
  path: string,
  opts: { key?: string; headers?: Record<string, string>; body?: unknown; raw?: string; signal?: AbortSignal } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key !== undefined) headers['authorization'] = `Bearer ${opts.key}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(si.url + path, { method, headers, ...(body !== undefined ? { body } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, text, json };
}

async function generate(si: LiteLLMStandIn, body: Record<string, unknown> = {}): Promise<Reply> {
  return call(si, 'POST', '/key/generate', { key: MASTER, body });
}

describe('error envelope', () => {
  it('answers errors as {"error":{message,type,param,code}} with code as a string', async () => {
    const si = await standIn();
    const r = await call(si, 'GET', '/key/list');
    expect(r.status).toBe(401);
    expect(r.json).toEqual({
      error: { message: 'Authentication Error, No api key passed in.', type: 'auth_error', param: 'None', code: '401' },
    });
  });

  it('legacy flavor: code is an int', async () => {
    const si = await standIn({ flavor: 'legacy' });
    const r = await call(si, 'GET', '/key/list');
    expect(r.json.error.code).toBe(401);
  });

  it('unknown route 404 {"detail":"Not Found"}, wrong method 405, bad JSON 422 {"detail":[...]}', async () => {
    const si = await standIn();
    expect(await call(si, 'GET', '/nope', { key: MASTER })).toMatchObject({ status: 404, json: { detail: 'Not Found' } });
    expect(await call(si, 'GET', '/key/generate', { key: MASTER })).toMatchObject({
      status: 405,
      json: { detail: 'Method Not Allowed' },
    });
    const bad = await call(si, 'POST', '/key/generate', { key: MASTER, raw: '{nope' });
    expect(bad.status).toBe(422);
    expect(Array.isArray(bad.json.detail)).toBe(true);
    const wrongType = await generate(si, { models: 'gpt-4o' });
    expect(wrongType.status).toBe(422);
    expect(wrongType.json.detail[0].loc).toEqual(['body', 'models']);
  });

  it('dict details become their Python repr in error.message', async () => {
    const si = await standIn();
    const neg = await generate(si, { max_budget: -1 });
    expect(neg.status).toBe(400);
    expect(neg.json.error.message).toBe("{'error': 'max_budget cannot be negative. Received: -1.0'}");
    const custom = await generate(si, { key: 'not-an-sk-key' });
    expect(custom.status).toBe(400);
    expect(custom.json.error.message).toBe(
      `{'error': "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: not-****-key"}`,
    );
    si.setDb('disconnected');
    const noDb = await generate(si, {});
    expect(noDb.status).toBe(500);
    expect(noDb.json.error.message).toMatch(/^\{'error': 'DB not connected\. /);
    expect(noDb.json.error.type).toBe('internal_server_error');
  });
});

describe('auth header order', () => {
  it('x-litellm-api-key beats Authorization, which beats API-Key, which beats x-api-key', async () => {
    const si = await standIn();
    const ok = (r: Reply) => expect(r.status).toBe(200);
    const denied = (r: Reply) => expect(r.status).toBe(401);
    ok(await call(si, 'GET', '/key/list', { headers: { 'x-litellm-api-key': MASTER, authorization: 'Bearer sk-wrong' } }));
    ok(await call(si, 'GET', '/key/list', { headers: { 'x-litellm-api-key': `Bearer ${MASTER}` } }));
    denied(await call(si, 'GET', '/key/list', { headers: { 'x-litellm-api-key': 'sk-wrong', authorization: `Bearer ${MASTER}` } }));
    ok(await call(si, 'GET', '/key/list', { headers: { authorization: `Bearer ${MASTER}`, 'api-key': 'sk-wrong' } }));
    denied(await call(si, 'GET', '/key/list', { headers: { authorization: 'Bearer sk-wrong', 'api-key': MASTER } }));
    ok(await call(si, 'GET', '/key/list', { headers: { 'api-key': MASTER, 'x-api-key': 'sk-wrong' } }));
    denied(await call(si, 'GET', '/key/list', { headers: { 'api-key': 'sk-wrong', 'x-api-key': MASTER } }));
    ok(await call(si, 'GET', '/key/list', { headers: { 'x-api-key': MASTER } }));
  });

  it('an Authorization header without "Bearer " is malformed, whatever else is sent', async () => {
    const si = await standIn();
    const r = await call(si, 'GET', '/key/list', { headers: { authorization: MASTER, 'x-api-key': MASTER } });
    expect(r.status).toBe(401);
    expect(r.json.error.message).toBe('Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.');
  });

  it('the master key is compared before any DB access; other keys then fail with no_db_connection', async () => {
    const si = await standIn({ db: 'disconnected' });
    const master = await call(si, 'GET', '/key/list', { key: MASTER });
    expect(master.status).toBe(500); // past auth, then the handler's own DB error
    expect(master.json.error.message).toBe('Authentication Error, Database not connected');
    const other = await call(si, 'GET', '/key/list', { key: 'sk-someone-else' });
    expect(other.status).toBe(400);
    expect(other.json.error).toMatchObject({ type: 'no_db_connection', message: 'No connected db.', param: null });
    for (const flavor of ['1.77', 'legacy'] as const) {
      // source (v1.77.2 user_api_key_auth): prisma_client None → Exception("No connected db.") → 401 auth_error
      const old = await standIn({ db: 'disconnected', flavor });
      expect((await call(old, 'GET', '/key/list', { key: 'sk-someone-else' })).json.error).toMatchObject({ type: 'auth_error', message: 'Authentication Error, No connected db.', code: flavor === 'legacy' ? 401 : '401' });
    }
  });

  it('records which credential each request carried', async () => {
    const si = await standIn();
    const { json } = await generate(si);
    await call(si, 'GET', '/key/info', { key: json.key });
    await call(si, 'GET', '/health/liveliness');
    await call(si, 'GET', '/key/info', { key: 'sk-unknown' });
    expect(si.requests.map((r) => [r.path, r.auth, r.status])).toEqual([
      ['/key/generate', 'master', 200],
      ['/key/info', 'virtual', 200],
      ['/health/liveliness', 'none', 200],
      ['/key/info', 'invalid', 401],
    ]);
  });
});

describe('keys are stored hashed', () => {
  it('generate returns the raw key once; the store holds only sha256 hex', async () => {
    const si = await standIn();
    const r = await generate(si, { key_alias: 'agent', models: ['gpt-4o'], metadata: { owner: 'ci' }, user_id: 'u1' });
    expect(r.status).toBe(200);
    const raw: string = r.json.key;
    expect(raw).toMatch(/^sk-[A-Za-z0-9_-]{22}$/);
    expect(r.json).toMatchObject({
      token: sha256(raw),
      token_id: sha256(raw),
      key_name: `sk-...${raw.slice(-4)}`,
      key_alias: 'agent',
      models: ['gpt-4o'],
      metadata: { owner: 'ci' },
      user_id: 'u1',
      duration: null,
      expires: null,
    });
    expect(Number.isNaN(Date.parse(r.json.created_at))).toBe(false);
    const rows = si.keys();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token).toBe(sha256(raw));
    expect(JSON.stringify(rows)).not.toContain(raw);
    const state = await call(si, 'GET', '/__stand-in/state', { key: MASTER });
    expect(state.text).not.toContain(raw);
  });

  it('/key/info, /key/update and /key/delete take the raw key or its hash and echo what was sent', async () => {
    const si = await standIn();
    const raw: string = (await generate(si, { key_alias: 'a' })).json.key;
    const byRaw = await call(si, 'GET', `/key/info?key=${raw}`, { key: MASTER });
    expect(byRaw.json.key).toBe(raw);
    expect(byRaw.json.info).not.toHaveProperty('token');
    const byHash = await call(si, 'GET', `/key/info?key=${sha256(raw)}`, { key: MASTER });
    expect(byHash.json).toMatchObject({ key: sha256(raw), info: { key_alias: 'a' } });
    const upd = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: sha256(raw), max_budget: 5 } });
    expect(upd.json).toMatchObject({ key: sha256(raw), token: sha256(raw), max_budget: 5, key_alias: 'a' });
    expect((await call(si, 'POST', '/key/delete', { key: MASTER, body: { keys: [sha256(raw)] } })).json).toEqual({
      deleted_keys: [sha256(raw)],
    });
    expect(si.keys()).toHaveLength(0);
  });

  it('/key/update writes only present fields; metadata replaces; duration null clears expiry', async () => {
    const si = await standIn();
    const raw: string = (await generate(si, { key_alias: 'a', metadata: { a: 1, b: 2 }, models: ['x'], duration: '1h' })).json.key;
    const upd = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: raw, metadata: { c: 3 } } });
    expect(upd.status).toBe(200);
    expect(upd.json).toMatchObject({ key: raw, metadata: { c: 3 }, models: ['x'], key_alias: 'a' });
    expect(upd.json.expires).not.toBeNull();
    const cleared = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: raw, duration: null } });
    expect(cleared.json.expires).toBeNull();
    const unknown = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: 'sk-unknown', models: [] } });
    expect(unknown.status).toBe(401);
    expect(unknown.json.error.message).toMatch(/^Authentication Error: invalid user key - user key does not exist in db/);
    si.setDb('disconnected');
    const noDb = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: raw } });
    expect(noDb.status).toBe(400);
    expect(noDb.json.error.message).toBe('Authentication Error, Not connected to DB!');
  });
});

describe('key alias uniqueness', () => {
  it('a duplicate alias (the empty string included) is a 400 bad_request_error on param key_alias', async () => {
    const si = await standIn();
    expect((await generate(si, { key_alias: 'agent' })).status).toBe(200);
    const dup = await generate(si, { key_alias: 'agent' });
    expect(dup.status).toBe(400);
    expect(dup.json.error).toEqual({
      message: "Key with alias 'agent' already exists. Unique key aliases across all keys are required.",
      type: 'bad_request_error',
      param: 'key_alias',
      code: '400',
    });
    expect((await generate(si, { key_alias: '' })).status).toBe(200);
    expect((await generate(si, { key_alias: '' })).status).toBe(400);
    expect((await generate(si, { key_alias: null })).status).toBe(200);
    expect((await generate(si, { key_alias: null })).status).toBe(200);
  });

  it('legacy flavor does not enforce it', async () => {
    const si = await standIn({ flavor: 'legacy' });
    expect((await generate(si, { key_alias: 'agent' })).status).toBe(200);
    expect((await generate(si, { key_alias: 'agent' })).status).toBe(200);
  });

  it('/key/update renames via key_alias when key is given, checking uniqueness against other keys', async () => {
    const si = await standIn();
    const a: string = (await generate(si, { key_alias: 'a' })).json.key;
    await generate(si, { key_alias: 'b' });
    expect((await call(si, 'POST', '/key/update', { key: MASTER, body: { key: a, key_alias: 'b' } })).status).toBe(400);
    expect((await call(si, 'POST', '/key/update', { key: MASTER, body: { key: a, key_alias: 'a' } })).status).toBe(200);
    const renamed = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: a, key_alias: 'a2' } });
    expect(renamed.json.key_alias).toBe('a2');
    const list = await call(si, 'GET', '/key/list?key_alias=a2', { key: MASTER });
    expect(list.json.keys).toEqual([sha256(a)]);
  });

  it('current flavor: key_alias alone names the key to update (PR #34851); 1.77 and legacy need key (422)', async () => {
    const si = await standIn();
    const a: string = (await generate(si, { key_alias: 'a' })).json.key;
    const byAlias = await call(si, 'POST', '/key/update', { key: MASTER, body: { key_alias: 'a', max_budget: 3 } });
    expect(byAlias.status).toBe(200);
    expect(byAlias.json).toMatchObject({ token: sha256(a), key_alias: 'a', max_budget: 3 });
    expect((await call(si, 'POST', '/key/update', { key: MASTER, body: { models: [] } })).status).toBe(422);
    for (const flavor of ['1.77', 'legacy'] as const) {
      const old = await standIn({ flavor });
      await generate(old, { key_alias: 'a' });
      // source (1.77): UpdateKeyRequest.key is a required str, so FastAPI answers 422 before the handler.
      const r = await call(old, 'POST', '/key/update', { key: MASTER, body: { key_alias: 'a' } });
      expect(r.status).toBe(422);
      expect(r.json.detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'key'] });
    }
  });

  it('/key/list filters by key_alias (current) and ignores it (legacy); pages and full objects', async () => {
    for (const flavor of ['current', 'legacy'] as const) {
      const si = await standIn({ flavor });
      await generate(si, { key_alias: 'x' });
      await generate(si, { key_alias: 'y' });
      await generate(si, { key_alias: 'z' });
      const r = await call(si, 'GET', '/key/list?key_alias=x', { key: MASTER });
      expect(r.json.total_count).toBe(flavor === 'current' ? 1 : 3);
    }
    const si = await standIn();
    for (let i = 0; i < 3; i++) await generate(si, { key_alias: `k${i}` });
    const page = await call(si, 'GET', '/key/list?page=2&size=2&return_full_object=true', { key: MASTER });
    expect(page.json).toMatchObject({ total_count: 3, current_page: 2, total_pages: 2 });
    expect(page.json.keys).toHaveLength(1);
    expect(page.json.keys[0]).toHaveProperty('token');
    expect((await call(si, 'GET', '/key/list?size=101', { key: MASTER })).status).toBe(422);
    const empty = await standIn();
    expect((await call(empty, 'GET', '/key/list', { key: MASTER })).json).toEqual({
      keys: [],
      total_count: 0,
      current_page: 1,
      total_pages: 0,
    });
  });
});

describe('/key/list as a bootstrap reads many keys', () => {
  it('user_id scopes the listing (with the other filters, ANDed); full rows carry what a key check needs; pages are newest first', async () => {
    const si = await standIn();
    for (let i = 0; i < 5; i++) await generate(si, { key_alias: `ours ${i}`, user_id: 'task-agent', models: ['gpt-4o-mini'], max_budget: 5, budget_duration: '30d', metadata: { n: i } });
    await generate(si, { key_alias: 'theirs', user_id: 'someone-else' });
    const first = await call(si, 'GET', '/key/list?user_id=task-agent&return_full_object=true&page=1&size=2', { key: MASTER });
    expect(first.json).toMatchObject({ total_count: 5, current_page: 1, total_pages: 3 });
    const row = first.json.keys[0];
    // source: _list_key_helper returns UserAPIKeyAuth(**row) — the stored row, token = sha256 of the raw key.
    for (const field of ['token', 'key_alias', 'models', 'user_id', 'metadata', 'expires', 'blocked', 'max_budget', 'budget_duration', 'spend']) expect(row).toHaveProperty(field);
    expect(row).toMatchObject({ user_id: 'task-agent', models: ['gpt-4o-mini'], max_budget: 5, budget_duration: '30d', metadata: { n: row.metadata.n } });
    expect(row.blocked).toBeNull(); // the column is nullable: never blocked = null
    const all = [];
    for (let page = 1; page <= 3; page++) all.push(...(await call(si, 'GET', `/key/list?user_id=task-agent&return_full_object=true&page=${page}&size=2`, { key: MASTER })).json.keys);
    // Every key once across the pages, newest first (ties broken by token, as the source orders them).
    expect(all.map((k: { key_alias: string }) => k.key_alias).sort()).toEqual(['ours 0', 'ours 1', 'ours 2', 'ours 3', 'ours 4']);
    const order = all.map((k: { created_at: string; token: string }) => [k.created_at, k.token].join(' '));
    expect(order).toEqual([...order].sort().reverse());
    const both = await call(si, 'GET', '/key/list?user_id=task-agent&key_alias=ours%202', { key: MASTER });
    expect(both.json.total_count).toBe(1);
    expect((await call(si, 'GET', '/key/list?user_id=nobody', { key: MASTER })).json).toMatchObject({ keys: [], total_count: 0, total_pages: 0 });
  });

  it('counts the requests in flight and their high-water mark', async () => {
    const si = await standIn();
    si.setDelay(100, { path: '/health/readiness' });
    await Promise.all(Array.from({ length: 5 }, () => call(si, 'GET', '/health/readiness')));
    expect(si.maxInFlight).toBe(5);
    expect(si.inFlight).toBe(0);
    si.resetRequests();
    await call(si, 'GET', '/health/readiness');
    expect(si.maxInFlight).toBe(1);
  });
});

describe('expiry and blocking', () => {
  it('duration "30s/30m/30h/30d" sets expires; a bad duration is a 500', async () => {
    const si = await standIn();
    const units: Record<string, number> = { '30s': 30e3, '30m': 30 * 60e3, '30h': 30 * 3600e3, '30d': 30 * 86400e3 };
    for (const [duration, ms] of Object.entries(units)) {
      const before = Date.now();
      const r = await generate(si, { duration });
      expect(r.json.duration).toBeNull();
      const expires = Date.parse(r.json.expires);
      expect(expires).toBeGreaterThanOrEqual(before + ms - 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + ms + 1000);
    }
    const bad = await generate(si, { duration: 'soon' });
    expect(bad.status).toBe(500);
    expect(bad.json.error.message).toBe('Invalid duration format');
  });

  it("an expired key is 400 expired_key with expiredKeyStatus 400 (2025 to early-2026 builds) and on flavor '1.77' by default", async () => {
    // source (v1.77.2 user_api_key_auth): ProxyException(type=expired_key, code=400) when valid_token.expires < now.
    for (const opts of [{ expiredKeyStatus: 400 as const }, { flavor: '1.77' as const }]) {
      const si = await standIn(opts);
      const raw: string = (await generate(si)).json.key;
      si.expireKey(raw);
      const self = await call(si, 'GET', '/key/info', { key: raw });
      expect(self.status).toBe(400);
      expect(self.json.error).toMatchObject({ type: 'expired_key', code: '400' });
    }
  });

  it('an expired key used as credential is 401 expired_key (newest, the default); the master key still reads it', async () => {
    const si = await standIn();
    const raw: string = (await generate(si, { key_alias: 'old' })).json.key;
    si.expireKey(raw);
    const self = await call(si, 'GET', '/key/info', { key: raw });
    expect(self.status).toBe(401);
    expect(self.json.error.type).toBe('expired_key');
    expect(self.json.error.message).toMatch(/^Authentication Error - Expired Key\. Key Expiry time /);
    const admin = await call(si, 'GET', `/key/info?key=${raw}`, { key: MASTER });
    expect(admin.status).toBe(200);
    expect(Date.parse(admin.json.info.expires)).toBeLessThan(Date.now());
  });

  it('a blocked key is 401 auth_error "Key is blocked"; unknown sk- is token_not_found_in_db; non-sk is auth_error', async () => {
    const si = await standIn();
    const raw: string = (await generate(si)).json.key;
    si.blockKey(raw);
    const blocked = await call(si, 'GET', '/key/info', { key: raw });
    expect(blocked.status).toBe(401);
    expect(blocked.json.error.type).toBe('auth_error');
    expect(blocked.json.error.message).toContain('Key is blocked');
    expect((await call(si, 'GET', `/key/info?key=${raw}`, { key: MASTER })).json.info.blocked).toBe(true);
    const unknown = await call(si, 'GET', '/key/info', { key: 'sk-unknown-unknown' });
    expect(unknown.status).toBe(401);
    expect(unknown.json.error.type).toBe('token_not_found_in_db');
    const notSk = await call(si, 'GET', '/key/info', { key: 'hello-world-key' });
    expect(notSk.status).toBe(401);
    expect(notSk.json.error.type).toBe('auth_error');
    expect(notSk.json.error.message).toContain("expected to start with 'sk-'");
  });
});

describe('readiness states', () => {
  it('liveliness/liveness answer the JSON string "I\'m alive!" even with the DB down', async () => {
    const si = await standIn({ db: 'disconnected' });
    for (const p of ['/health/liveliness', '/health/liveness']) {
      const r = await call(si, 'GET', p);
      expect(r.status).toBe(200);
      expect(r.json).toBe("I'm alive!");
    }
  });

  it('current: connected 200, disconnected 503, "Not connected" 200 — db tells which', async () => {
    const si = await standIn();
    // Released versions' public payload is exactly {"status", "db"}.
    expect(await call(si, 'GET', '/health/readiness')).toMatchObject({ status: 200, json: { status: 'healthy', db: 'connected' } });
    expect(Object.keys((await call(si, 'GET', '/health/readiness')).json).sort()).toEqual(['db', 'status']);
    si.setDb('disconnected');
    expect(await call(si, 'GET', '/health/readiness')).toMatchObject({ status: 503, json: { db: 'disconnected' } });
    si.setDb('Not connected');
    expect(await call(si, 'GET', '/health/readiness')).toMatchObject({ status: 200, json: { db: 'Not connected' } });
  });


  it("readiness 'details' is older versions' full payload", async () => {
    const si = await standIn({ readiness: 'details' });
    expect((await call(si, 'GET', '/health/readiness')).json).toMatchObject({ status: 'healthy', db: 'connected', litellm_version: expect.any(String), cache: null });
  });

  it("readiness 'no-db' is the May 2026 pre-release shape: {\"status\":\"healthy\"} only, details behind auth", async () => {
    const si = await standIn({ readiness: 'no-db', db: 'disconnected' });
    expect(await call(si, 'GET', '/health/readiness')).toMatchObject({ status: 503, json: { status: 'healthy' } });
    expect((await call(si, 'GET', '/health/readiness')).json).not.toHaveProperty('db');
    expect((await call(si, 'GET', '/health/readiness/details')).status).toBe(401);
    expect(await call(si, 'GET', '/health/readiness/details', { key: MASTER })).toMatchObject({
      status: 503,
      json: { db: 'disconnected' },
    });
  });
});

describe('key alias format (keyAliasPattern)', () => {
  it("'builtin' is v1.82.0's rule: 400 bad_request_error on param key_alias, nothing issued", async () => {
    const si = await standIn({ keyAliasPattern: 'builtin' });
    const r = await generate(si, { key_alias: 'task-agent default' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'bad_request_error', param: 'key_alias', code: '400' });
    expect(r.json.error.message).toMatch(/^Invalid key_alias format\. Must be 2-255 characters, start\/end with alphanumeric/);
    expect(si.keys()).toHaveLength(0);
    for (const ok of ['task-agent-default', 'a1', 'team/agent.v2_x']) expect((await generate(si, { key_alias: ok })).status).toBe(200);
    for (const bad of ['x', '-lead', 'trail-', 'with space']) expect((await generate(si, { key_alias: bad })).status).toBe(400);
  });

  it('no alias (or null) is never checked; a duplicate is still the uniqueness error', async () => {
    const si = await standIn({ keyAliasPattern: 'builtin' });
    expect((await generate(si, {})).status).toBe(200);
    expect((await generate(si, { key_alias: null })).status).toBe(200);
    expect((await generate(si, { key_alias: 'dup-1' })).status).toBe(200);
    expect((await generate(si, { key_alias: 'dup-1' })).json.error.message).toContain('already exists');
  });

  it("an operator's key_alias_pattern is matched whole and quoted in the 400", async () => {
    const si = await standIn({ keyAliasPattern: '[a-z0-9]+(-[a-z0-9]+)*' });
    const r = await generate(si, { key_alias: 'Prod Key' });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe('Invalid key_alias format. Must be at most 255 characters and match the configured key_alias_pattern: [a-z0-9]+(-[a-z0-9]+)*');
    expect((await generate(si, { key_alias: 'prod-key' })).status).toBe(200);
    expect((await generate(si, { key_alias: 'prod-key-' })).status).toBe(400);
  });

  it('/key/update checks the alias only when it changes (a key named before the rule can still be edited)', async () => {
    const si = await standIn({ keyAliasPattern: 'builtin' });
    const old = si.addKey({ key_alias: 'named before the rule' });
    const same = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: old, key_alias: 'named before the rule', models: ['gpt-4o'] } });
    expect(same.status).toBe(200);
    const renamed = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: old, key_alias: 'still bad' } });
    expect(renamed.status).toBe(400);
    expect(renamed.json.error.param).toBe('key_alias');
    const unaliased: string = (await generate(si, {})).json.key;
    expect((await call(si, 'POST', '/key/update', { key: MASTER, body: { key: unaliased, key_alias: 'good-alias' } })).status).toBe(200);
  });
});

describe("key alias rules every current LiteLLM enforces (no keyAliasPattern needed)", () => {
  // source: key_management_endpoints._validate_key_alias_format → secret_managers/base_secret_manager.raise_if_unsafe_secret_name
  // (PR #32092: any "..", C0/DEL/C1 controls, U+2028/U+2029). "" stays an alias (uniqueness test above; LiteLLM issue #40705).
  it('refuses ".." anywhere and control characters with 400 bad_request_error on key_alias, nothing issued; spaces, "/" and "@" pass', async () => {
    const si = await standIn();
    for (const bad of ['..', '../etc/creds', 'team/../x', 'release-1.0..2', 'foo\nbar', 'foo\rbar', 'foo\u0000bar', 'foo\u007fbar', 'foo\u0085bar', 'foo\u2028bar']) {
      const r = await generate(si, { key_alias: bad });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.json.error).toMatchObject({ type: 'bad_request_error', param: 'key_alias', code: '400' });
      expect(r.json.error.message).toMatch(/^Invalid key_alias: Unsafe secret_name '.*': must not contain '\.\.' or control characters$/s);
    }
    expect(si.keys()).toHaveLength(0);
    for (const ok of ['task-agent default', 'prod/my-service-key', 'team/user@example.com', 'a.b', 'foo: bar']) expect((await generate(si, { key_alias: ok })).status, ok).toBe(200);
  });

  it('a renaming /key/update is checked too: 400, the key keeps its alias', async () => {
    const si = await standIn();
    const key: string = (await generate(si, { key_alias: 'fine' })).json.key;
    const renamed = await call(si, 'POST', '/key/update', { key: MASTER, body: { key, key_alias: 'a..b' } });
    expect(renamed.status).toBe(400);
    expect(renamed.json.error.message).toContain('Invalid key_alias: Unsafe secret_name');
    expect(si.keys()[0]!.key_alias).toBe('fine');
  });

  it("the legacy flavour checks nothing (LiteLLM 1.77 had no alias rule at all)", async () => {
    const si = await standIn({ flavor: 'legacy' });
    for (const alias of ['a..b', 'x\ty']) expect((await generate(si, { key_alias: alias })).status).toBe(200);
  });
});

describe('split deployments (component: gateway | backend)', () => {
  // source: docker-entrypoint.sh (gateway → gateway.launch :4000, backend → uvicorn backend.main:app :4001),
  // gateway/main.py and backend/main.py trim the app's routes to gateway/routes/allowlist.py and backend/routes/allowlist.py.
  it("the gateway is live and ready and serves /v1/models, but /key/* and /model/* are FastAPI's bare 404", async () => {
    const si = await standIn({ component: 'gateway' });
    expect((await call(si, 'GET', '/health/liveliness')).status).toBe(200);
    const ready = await call(si, 'GET', '/health/readiness');
    expect([ready.status, ready.json.db]).toEqual([200, 'connected']);
    expect((await call(si, 'GET', '/v1/models', { key: MASTER })).status).toBe(200);
    for (const [method, path] of [['POST', '/key/generate'], ['GET', '/key/info'], ['GET', '/key/list'], ['GET', '/model/info']] as const) {
      const r = await call(si, method, path, { key: MASTER, ...(method === 'POST' ? { body: {} } : {}) });
      expect(r.status, path).toBe(404);
      expect(r.text, path).toBe('{"detail":"Not Found"}');
    }
    expect(si.keys()).toHaveLength(0);
  });

  it("the backend serves the management routes and health, not the inference ones; its own 'key not found' is LiteLLM's not_found_error", async () => {
    const si = await standIn({ component: 'backend' });
    expect((await call(si, 'GET', '/health/readiness')).status).toBe(200);
    expect((await generate(si, { key_alias: 'k' })).status).toBe(200);
    expect((await call(si, 'GET', '/model/info', { key: MASTER })).status).toBe(200);
    const missing = await call(si, 'GET', `/key/info?key=${'0'.repeat(64)}`, { key: MASTER });
    expect(missing.status).toBe(404);
    expect(missing.json.error.type).toBe('not_found_error');
    const models = await call(si, 'GET', '/v1/models', { key: MASTER });
    expect([models.status, models.text]).toEqual([404, '{"detail":"Not Found"}']);
  });
});

describe('budget durations (get_next_standardized_reset_time)', () => {
  it('Nmo with N > 1: /key/generate answers 500, /key/update 400; nothing stored', async () => {
    const si = await standIn();
    const g = await generate(si, { key_alias: 'b', max_budget: 5, budget_duration: '2mo' });
    expect(g.status).toBe(500);
    expect(g.json.error).toMatchObject({ type: 'internal_server_error', message: 'Monthly resets currently only support 1 month intervals' });
    expect(si.keys()).toHaveLength(0);
    const raw: string = (await generate(si, { max_budget: 5, budget_duration: '1mo' })).json.key;
    const u = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: raw, budget_duration: '3mo' } });
    expect(u.status).toBe(400);
    expect(u.json.error).toMatchObject({ type: 'auth_error', message: 'Authentication Error, Monthly resets currently only support 1 month intervals' });
    expect(si.keys()[0]!.budget_duration).toBe('1mo');
  });

  it('resets are calendar-aligned (UTC): 1d at midnight, 7d on Monday, 30d and 1mo on the 1st', async () => {
    const si = await standIn();
    const resetOf = async (budget_duration: string) => {
      const raw: string = (await generate(si, { max_budget: 1, budget_duration })).json.key;
      return new Date((await call(si, 'GET', `/key/info?key=${raw}`, { key: MASTER })).json.info.budget_reset_at);
    };
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    expect((await resetOf('1d')).getTime()).toBe(midnight + 86_400_000);
    const monday = await resetOf('7d');
    expect(monday.getUTCDay()).toBe(1);
    expect(monday.getUTCHours()).toBe(0);
    expect(monday.getTime()).toBeGreaterThan(now.getTime());
    const first = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    expect((await resetOf('30d')).getTime()).toBe(first);
    expect((await resetOf('1mo')).getTime()).toBe(first);
  });
});

describe('wildcard model names', () => {
  it("a proxy serving openai/* routes openai/gpt-4o-mini; a key limited to it may call it, nothing else", async () => {
    const si = await standIn({ models: ['openai/*', 'anthropic/*'], upstreamEnv: { OPENAI_API_KEY: 'sk-upstream-openai-not-real-0123456789', ANTHROPIC_API_KEY: 'sk-ant-upstream-not-real-0123456789' }, upstreamKeys: ['sk-upstream-openai-not-real-0123456789', 'sk-ant-upstream-not-real-0123456789'] });
    const info = await call(si, 'GET', '/model/info', { key: MASTER });
    expect(info.json.data.map((m: { model_name: string }) => m.model_name)).toEqual(['openai/*', 'anthropic/*']);
    const raw: string = (await generate(si, { models: ['openai/gpt-4o-mini'] })).json.key;
    const chat = (model: string, key = raw) => call(si, 'POST', '/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'hi' }] } });
    const ok = await chat('openai/gpt-4o-mini');
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ object: 'chat.completion', model: 'gpt-4o-mini' });
    expect((await chat('anthropic/claude-3-5-sonnet')).json.error.type).toBe('key_model_access_denied');
    const unrouted = await chat('mistral/large', MASTER);
    expect(unrouted.status).toBe(400);
    expect(unrouted.json.error.message).toContain('Invalid model name passed in model=mistral/large');
    expect((await chat('anthropic/claude-3-5-sonnet', MASTER)).status).toBe(200);
  });
});

describe('master-key lockout (masterKeyLockout)', () => {
  it('403 auth_error on key-management writes, /model/info and LLM calls; reads still work', async () => {
    const si = await standIn({ masterKeyLockout: true });
    const g = await generate(si, { key_alias: 'x' });
    expect(g.status).toBe(403);
    expect(g.json.error).toMatchObject({ type: 'auth_error', param: 'master_key' });
    expect(g.json.error.message).toMatch(/^This functionality is unavailable until the master key has been set\./);
    expect((await call(si, 'GET', '/model/info', { key: MASTER })).status).toBe(403);
    expect((await call(si, 'POST', '/key/update', { key: MASTER, body: { key: 'sk-x', models: [] } })).status).toBe(403);
    expect((await call(si, 'GET', '/key/list', { key: MASTER })).status).toBe(200);
    expect((await call(si, 'GET', '/health/readiness')).status).toBe(200);
    expect(si.keys()).toHaveLength(0);
  });
});

describe('delete by alias', () => {
  it('removes every key with the alias and echoes the aliases', async () => {
    const si = await standIn();
    si.addKey({ key_alias: 'dup' });
    si.addKey({ key_alias: 'dup' });
    const other = si.addKey({ key_alias: 'keep' });
    const r = await call(si, 'POST', '/key/delete', { key: MASTER, body: { key_aliases: ['dup'] } });
    expect(r).toMatchObject({ status: 200, json: { deleted_keys: ['dup'] } });
    expect(si.keys().map((k) => k.token)).toEqual([sha256(other)]);
  });

  it('nothing matched is 404 "{\'error\': \'No keys found\'}"; keys win over key_aliases', async () => {
    const si = await standIn();
    const r = await call(si, 'POST', '/key/delete', { key: MASTER, body: { key_aliases: ['ghost'] } });
    expect(r.status).toBe(404);
    expect(r.json.error.message).toBe("{'error': 'No keys found'}");
    const a = si.addKey({ key_alias: 'a' });
    si.addKey({ key_alias: 'b' });
    const both = await call(si, 'POST', '/key/delete', { key: MASTER, body: { keys: [a], key_aliases: ['b'] } });
    expect(both.json).toEqual({ deleted_keys: [a] });
    expect(si.keys().map((k) => k.key_alias)).toEqual(['b']);
    expect((await call(si, 'POST', '/key/delete', { key: MASTER, body: {} })).status).toBe(422);
  });
});

describe('scoped /v1/models', () => {
  it('a key sees its models; [] means all; the master key sees all', async () => {
    const si = await standIn({ models: ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-sonnet'] });
    const ids = (r: Reply): string[] => r.json.data.map((m: { id: string }) => m.id);
    const scoped: string = (await generate(si, { models: ['gpt-4o'] })).json.key;
    const all: string = (await generate(si, { models: [] })).json.key;
    const wild: string = (await generate(si, { models: ['gpt-4o*'] })).json.key;
    const r = await call(si, 'GET', '/v1/models', { key: scoped });
    expect(r.json.object).toBe('list');
    expect(r.json.data[0]).toMatchObject({ id: 'gpt-4o', object: 'model' });
    expect(ids(r)).toEqual(['gpt-4o']);
    expect(ids(await call(si, 'GET', '/models', { key: scoped }))).toEqual(['gpt-4o']);
    expect(ids(await call(si, 'GET', '/v1/models', { key: all }))).toEqual(['gpt-4o-mini', 'gpt-4o', 'claude-3-5-sonnet']);
    expect(ids(await call(si, 'GET', '/v1/models', { key: wild }))).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(ids(await call(si, 'GET', '/v1/models', { key: MASTER }))).toHaveLength(3);
    const info = await call(si, 'GET', '/model/info', { key: MASTER });
    expect(info.json.data.map((m: { model_name: string }) => m.model_name)).toEqual(['gpt-4o-mini', 'gpt-4o', 'claude-3-5-sonnet']);
    expect(info.json.data[0].litellm_params).not.toHaveProperty('api_key');
  });

  it('a key over its budget gets budget_exceeded: 422 on current (the newest default), 400 on 1.77, as configured otherwise', async () => {
    for (const [opts, status] of [[{}, 422], [{ flavor: '1.77' as const }, 400], [{ budgetExceededStatus: 429 as const }, 429]] as const) {
      const si = await standIn(opts);
      const raw = si.addKey({ max_budget: 1, spend: 2 });
      const r = await call(si, 'GET', '/v1/models', { key: raw });
      expect(r.status).toBe(status);
      expect(r.json.error.type).toBe('budget_exceeded');
    }
  });
});

describe('key/info self-auth', () => {
  it('with no ?key= and a virtual key: that key\'s info, echoing its HASH as `key`', async () => {
    const si = await standIn();
    const raw: string = (await generate(si, { key_alias: 'me', models: ['gpt-4o'] })).json.key;
    const r = await call(si, 'GET', '/key/info', { key: raw });
    expect(r.status).toBe(200);
    expect(r.json.key).toBe(sha256(raw));
    expect(r.text).not.toContain(raw);
    expect(r.json.info).toMatchObject({ key_alias: 'me', models: ['gpt-4o'], key_name: `sk-...${raw.slice(-4)}` });
  });

  it('master with no ?key= is 404 not_found_error; another user\'s key is 403; no DB is 500', async () => {
    const si = await standIn();
    const r = await call(si, 'GET', '/key/info', { key: MASTER });
    expect(r.status).toBe(404);
    expect(r.json.error).toMatchObject({ type: 'not_found_error', message: 'Key not found in database', param: 'key' });
    const mine = si.addKey({ user_id: 'u1' });
    const theirs = si.addKey({ user_id: 'u2' });
    expect((await call(si, 'GET', `/key/info?key=${theirs}`, { key: mine })).status).toBe(403);
    expect((await call(si, 'GET', `/key/info?key=${sha256(mine)}`, { key: mine })).status).toBe(200);
    si.setDb('disconnected');
    expect((await call(si, 'GET', `/key/info?key=${mine}`, { key: MASTER })).status).toBe(500);
  });
});

describe('regenerate', () => {
  it('is Enterprise-only: 500 without a license', async () => {
    const si = await standIn();
    const raw = si.addKey({});
    const r = await call(si, 'POST', `/key/${raw}/regenerate`, { key: MASTER });
    expect(r.status).toBe(500);
    expect(r.json.error.message).toMatch(/^Regenerating Virtual Keys is an Enterprise feature/);
  });

  it('with enterprise: a new raw key replaces the old one', async () => {
    const si = await standIn({ enterprise: true });
    const raw = si.addKey({ key_alias: 'r' });
    const r = await call(si, 'POST', `/key/${raw}/regenerate`, { key: MASTER, body: {} });
    expect(r.status).toBe(200);
    expect(r.json.key).not.toBe(raw);
    expect((await call(si, 'GET', '/key/info', { key: r.json.key })).json.info.key_alias).toBe('r');
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(401);
  });
});

describe('fault controls', () => {
  it('listenAfterMs: port reserved, connections refused until then', async () => {
    const si = await standIn({ listenAfterMs: 250 });
    expect(si.port).toBeGreaterThan(0);
    await expect(fetch(`${si.url}/health/liveliness`)).rejects.toThrow();
    await si.whenListening();
    expect((await call(si, 'GET', '/health/liveliness')).status).toBe(200);
  });

  it('readyAfterMs: live at once, db disconnected until then', async () => {
    const si = await standIn({ readyAfterMs: 250 });
    expect((await call(si, 'GET', '/health/liveliness')).status).toBe(200);
    expect(await call(si, 'GET', '/health/readiness')).toMatchObject({ status: 503, json: { db: 'disconnected' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(await call(si, 'GET', '/health/readiness')).toMatchObject({ status: 200, json: { db: 'connected' } });
  });

  it('failNext answers n matching requests with the given status/body, then recovers', async () => {
    const si = await standIn();
    si.failNext(2, { path: '/health/readiness' });
    expect((await call(si, 'GET', '/health/liveliness')).status).toBe(200);
    expect((await call(si, 'GET', '/health/readiness')).status).toBe(503);
    expect((await call(si, 'GET', '/health/readiness')).status).toBe(503);
    expect((await call(si, 'GET', '/health/readiness')).status).toBe(200);
    si.failNext(1, { status: 502, body: '<html>bad gateway</html>' });
    const html = await call(si, 'GET', '/health/liveliness');
    expect(html).toMatchObject({ status: 502, text: '<html>bad gateway</html>' });
    expect(si.requestCount({ path: '/health/readiness' })).toBe(3);
    expect(si.requests.filter((r) => r.path === '/health/readiness').map((r) => r.status)).toEqual([503, 503, 200]);
    si.resetRequests();
    expect(si.requestCount()).toBe(0);
  });

  it('resetNext destroys the socket without an answer; hangNext never answers', async () => {
    const si = await standIn();
    si.resetNext(1);
    await expect(fetch(`${si.url}/health/liveliness`)).rejects.toThrow();
    expect((await call(si, 'GET', '/health/liveliness')).status).toBe(200);
    si.hangNext(1, { path: '/key/info' });
    await expect(call(si, 'GET', '/key/info', { key: MASTER, signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(si.requests.at(-1)).toMatchObject({ path: '/key/info', status: 0 });
    expect((await call(si, 'GET', '/health/liveliness')).status).toBe(200);
  });

  it('onNext runs once, when the next matching request arrives and before it is handled', async () => {
    const si = await standIn();
    const raw: string = (await generate(si, { key_alias: 'gone' })).json.key;
    si.onNext('/key/update', () => si.wipe());
    const r = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: raw, models: ['gpt-4o'] } });
    expect(r.status).toBe(401);
    expect(r.json.error.message).toContain('user key does not exist in db');
    expect((await call(si, 'POST', '/key/update', { key: MASTER, body: { key: raw } })).status).toBe(401);
  });

  it('setDelay delays matching answers', async () => {
    const si = await standIn();
    si.setDelay(300, { path: '/health/readiness' });
    // Asked first, answered last: the delayed readiness answer comes after the liveliness one asked later.
    const answered: string[] = [];
    const readiness = call(si, 'GET', '/health/readiness').then((r) => answered.push(`readiness ${r.status}`));
    await until(() => si.requests.some((q) => q.path === '/health/readiness'));
    await call(si, 'GET', '/health/liveliness').then((r) => answered.push(`liveliness ${r.status}`));
    expect(si.requests.find((q) => q.path === '/health/readiness')?.status).toBe(0); // still in flight
    await readiness;
    expect(answered).toEqual(['liveliness 200', 'readiness 200']);
  });

  it('wipe drops every key; stop/start refuses then serves again and keeps keys', async () => {
    const si = await standIn();
    const keep = si.addKey({ key_alias: 'keep' });
    await si.stop();
    await expect(fetch(`${si.url}/health/liveliness`)).rejects.toThrow();
    await si.start();
    expect((await call(si, 'GET', '/key/info', { key: keep })).status).toBe(200);
    si.wipe();
    const gone = await call(si, 'GET', '/key/info', { key: keep });
    expect(gone.status).toBe(401);
    expect(gone.json.error.type).toBe('token_not_found_in_db');
  });

  it('flap is seeded: the same seed gives the same faults', async () => {
    const run = async (): Promise<number[]> => {
      const si = await standIn();
      si.flap({ seed: 42, errorRate: 0.5 });
      const out: number[] = [];
      for (let i = 0; i < 12; i++) out.push((await call(si, 'GET', '/health/liveliness')).status);
      si.flap(null);
      expect((await call(si, 'GET', '/health/liveliness')).status).toBe(200);
      return out;
    };
    const a = await run();
    expect(a).toEqual(await run());
    expect(a).toContain(503);
    expect(a).toContain(200);
    const si = await standIn();
    si.flap({ seed: 1, readinessToggleMs: 100 });
    expect((await call(si, 'GET', '/health/readiness')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 120));
    expect((await call(si, 'GET', '/health/readiness')).status).toBe(503);
  });
});

describe('HTTP control API', () => {
  it('needs the master key and is not recorded', async () => {
    const si = await standIn();
    expect((await call(si, 'GET', '/__stand-in/state')).status).toBe(401);
    expect((await call(si, 'GET', '/__stand-in/state', { key: 'sk-wrong' })).status).toBe(401);
    const st = await call(si, 'GET', '/__stand-in/state', { key: MASTER });
    expect(st.status).toBe(200);
    expect(st.json).toMatchObject({ requests: [], keys: [], counts: { total: 0 }, db: 'connected', flavor: 'current' });
    expect(si.requestCount()).toBe(0);
  });

  it('drives the same faults and state as the in-process methods', async () => {
    const si = await standIn();
    const ctl = (body: Record<string, unknown>) => call(si, 'POST', '/__stand-in/control', { key: MASTER, body });
    expect((await ctl({ op: 'failNext', n: 1, status: 500 })).status).toBe(200);
    expect((await call(si, 'GET', '/health/liveliness')).status).toBe(500);
    const added = await ctl({ op: 'addKey', row: { key_alias: 'seeded' } });
    const raw: string = added.json.key;
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(200);
    await ctl({ op: 'blockKey', key: raw });
    expect((await call(si, 'GET', '/key/info', { key: raw })).json.error.message).toContain('Key is blocked');
    await ctl({ op: 'setDb', state: 'disconnected' });
    expect((await call(si, 'GET', '/health/readiness')).status).toBe(503);
    await ctl({ op: 'setDb', state: 'connected' });
    await ctl({ op: 'wipe' });
    const st = await call(si, 'GET', '/__stand-in/state', { key: MASTER });
    expect(st.json.keys).toEqual([]);
    expect(st.json.counts.byRoute['GET /key/info']).toBe(2);
    await ctl({ op: 'resetRequests' });
    expect(si.requestCount()).toBe(0);
    await ctl({ op: 'setDelay', ms: 0 });
    await ctl({ op: 'setMasterKey', key: 'sk-new-master' });
    expect((await call(si, 'GET', '/key/list', { key: 'sk-new-master' })).status).toBe(200);
    expect((await ctl({ op: 'nope' })).status).toBe(401); // the old master key no longer opens it
    expect((await call(si, 'POST', '/__stand-in/control', { key: 'sk-new-master', body: { op: 'nope' } })).status).toBe(400);
  });

  it('restart answers, stops listening, and listens again after downMs with the keys kept', async () => {
    const si = await standIn();
    const raw = si.addKey({});
    const r = await call(si, 'POST', '/__stand-in/control', { key: MASTER, body: { op: 'restart', downMs: 150 } });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 50));
    await expect(fetch(`${si.url}/health/liveliness`)).rejects.toThrow();
    await si.whenListening();
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(200);
  });
});

describe('standalone build/test/stand-in.mjs', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const bundle = `${root}build/test/stand-in.mjs`;

  async function ensureBundle(): Promise<void> {
    const sources = ['test/support/litellm-stand-in.ts', 'test/support/stand-in-main.ts'].map((p) => statSync(root + p).mtimeMs);
    if (existsSync(bundle) && statSync(bundle).mtimeMs >= Math.max(...sources)) return;
    // Same bundle as scripts/build.mjs, without touching dist/ (the CLI is not ours to rebuild here).
    const { build } = await import('esbuild');
    await build({
      entryPoints: [`${root}test/support/stand-in-main.ts`],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'esm',
      banner: {
        js: [
          "import { createRequire as __bootstrapCreateRequire } from 'node:module';",
          'const require = __bootstrapCreateRequire(import.meta.url);',
        ].join('\n'),
      },
      legalComments: 'none',
      logLevel: 'warning',
    });
  }

  it('starts as a process, prints one line, answers, and exits 0 on SIGTERM', async () => {
    await ensureBundle();
    const port = await reservePort();
    const child = spawn(process.execPath, [bundle], {
      env: {
        PATH: process.env['PATH'] ?? '',
        PORT: String(port),
        HOST: '127.0.0.1',
        LITELLM_MASTER_KEY: MASTER,
        STAND_IN_MODELS: 'm1, m2',
        DATABASE_URL: 'postgresql://ignored',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const rl = createInterface({ input: child.stdout });
        rl.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited early with ${String(code)}`)));
        setTimeout(() => reject(new Error('no listening line within 5s')), 5000);
      });
      expect(line).toBe(`stand-in listening on http://127.0.0.1:${port}`);
      const url = `http://127.0.0.1:${port}`;
      expect(await (await fetch(`${url}/health/liveliness`)).json()).toBe("I'm alive!");
      const models = (await (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${MASTER}` } })).json()) as {
        data: Array<{ id: string }>;
      };
      expect(models.data.map((m) => m.id)).toEqual(['m1', 'm2']);
    } finally {
      const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    }
  });
});

describe('chat completions: answered only when the provider key in the proxy\'s environment is one the provider issued', () => {
  const UPSTREAM = 'sk-upstream-openai-0123456789abcdef';
  const MODEL = 'openai/gpt-4o-mini';

  async function keyFor(si: LiteLLMStandIn, models: string[]): Promise<string> {
    const r = await call(si, 'POST', '/key/generate', { key: MASTER, body: { models } });
    expect(r.status).toBe(200);
    return r.json.key as string;
  }

  const ask = (si: LiteLLMStandIn, key: string, model = MODEL) =>
    call(si, 'POST', '/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'hi' }] } });

  it('with OPENAI_API_KEY set to a provider key: an OpenAI chat.completion, the key used named by its hash', async () => {
    const si = await standIn({ models: [MODEL], upstreamEnv: { OPENAI_API_KEY: UPSTREAM }, upstreamKeys: [UPSTREAM] });
    const key = await keyFor(si, [MODEL]);
    const res = await fetch(`${si.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-stand-in-upstream-key-sha256')).toBe(sha256(UPSTREAM));
    const body = (await res.json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message.role).toBe('assistant');
    expect(body.choices[0].message.content).toMatch(/\S/);
    expect(body.choices[0].finish_reason).toBe('stop');
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it.each([
    ['unset', {}, /api_key client option must be set .* OPENAI_API_KEY environment variable/],
    ['empty', { OPENAI_API_KEY: '' }, /api_key client option must be set/],
    ['a template placeholder', { OPENAI_API_KEY: 'sk-proxy-default' }, /Incorrect API key provided/],
    ['a key the provider never issued, of any shape', { OPENAI_API_KEY: 'sk-proj-0123456789abcdefghijklmnopqrstuvwxyz' }, /Incorrect API key provided/],
  ])('OPENAI_API_KEY %s: 401 AuthenticationError as LiteLLM relays it, nothing answered', async (_what, env, message) => {
    // The provider's table holds its real key only: it judges what it is sent by that table, nothing else.
    const si = await standIn({ models: [MODEL], upstreamEnv: env, upstreamKeys: [UPSTREAM] });
    const r = await ask(si, await keyFor(si, [MODEL]));
    expect(r.status).toBe(401);
    expect(r.json.error.message).toMatch(/^litellm\.AuthenticationError: AuthenticationError: OpenAIException - /);
    expect(r.json.error.message).toMatch(message);
    expect(r.json.error.message).toContain(`Received Model Group=${MODEL}`);
    expect(r.json.error).toMatchObject({ type: 'auth_error', code: '401' });
    expect(r.json.choices).toBeUndefined();
  });

  it('OPENAI_API_KEY holding a virtual key LiteLLM issued, or the master key, is refused by the provider, and never shown', async () => {
    const env: NodeJS.ProcessEnv = {};
    const si = await standIn({ models: [MODEL], upstreamEnv: env, upstreamKeys: [UPSTREAM] });
    const agentKey = await keyFor(si, [MODEL]);
    env['OPENAI_API_KEY'] = agentKey; // the bug of issue 8: the proxy's env held the agent's key
    const r = await ask(si, agentKey);
    expect(r.status).toBe(401);
    expect(r.json.error.message).toMatch(/Incorrect API key provided/);
    expect(r.text).not.toContain(agentKey);
    env['OPENAI_API_KEY'] = MASTER;
    expect((await ask(si, agentKey)).status).toBe(401);
  });

  it('the provider comes from the model: anthropic/* needs ANTHROPIC_API_KEY', async () => {
    const si = await standIn({ models: [MODEL, 'anthropic/claude-3-5-sonnet'], upstreamEnv: { OPENAI_API_KEY: UPSTREAM }, upstreamKeys: [UPSTREAM] });
    const key = await keyFor(si, ['anthropic/*', MODEL]);
    const r = await ask(si, key, 'anthropic/claude-3-5-sonnet');
    expect(r.status).toBe(401);
    expect(r.json.error.message).toMatch(/AnthropicException - .*ANTHROPIC_API_KEY/);
    expect((await ask(si, key)).status).toBe(200);
  });

  it('the caller must be allowed the model, and the model served; no key is a 401 before anything else', async () => {
    const si = await standIn({ models: [MODEL, 'openai/gpt-4o'], upstreamEnv: { OPENAI_API_KEY: UPSTREAM }, upstreamKeys: [UPSTREAM] });
    const key = await keyFor(si, [MODEL]);
    const denied = await ask(si, key, 'openai/gpt-4o');
    expect(denied.status).toBe(401);
    expect(denied.json.error.type).toBe('key_model_access_denied');
    const unserved = await ask(si, MASTER, 'openai/gpt-5-nano');
    expect(unserved.status).toBe(400);
    expect(unserved.json.error.message).toMatch(/Invalid model name/);
    const anonymous = await call(si, 'POST', '/v1/chat/completions', { body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } });
    expect(anonymous.status).toBe(401);
    expect((await ask(si, MASTER)).status).toBe(200);
  });
});

describe('allowed_routes: what key_type stores, enforced when the key is the credential', () => {
  const UPSTREAM = 'sk-upstream-openai-0123456789abcdef';
  const MODEL = 'openai/gpt-4o-mini';
  const chat = (si: LiteLLMStandIn, key: string) =>
    call(si, 'POST', '/v1/chat/completions', { key, body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } });

  it('key_type becomes allowed_routes (handle_key_type): llm_api, management, read_only; default and none store []', async () => {
    // source: key_management_endpoints.handle_key_type; _types.LiteLLMKeyType
    const si = await standIn();
    const expected: Record<string, string[]> = {
      llm_api: ['llm_api_routes'],
      management: ['management_routes'],
      read_only: ['info_routes'],
      default: [],
    };
    for (const [key_type, routes] of Object.entries(expected)) {
      const r = await generate(si, { key_type });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ key_type: null, allowed_routes: routes });
      const info = await call(si, 'GET', `/key/info?key=${r.json.key}`, { key: MASTER });
      expect(info.json.info.allowed_routes).toEqual(routes);
    }
    expect((await generate(si)).json.allowed_routes).toEqual([]);
    // explicit allowed_routes are kept as sent unless a key_type replaces them
    expect((await generate(si, { allowed_routes: ['/v1/models'] })).json.allowed_routes).toEqual(['/v1/models']);
    expect((await generate(si, { allowed_routes: ['/v1/models'], key_type: 'llm_api' })).json.allowed_routes).toEqual(['llm_api_routes']);
    expect((await generate(si, { key_type: 'admin' })).status).toBe(422);
  });

  it('an llm_api key calls /v1/models, /models and chat completions; /key/info as itself, /key/generate and /model/info get 403 {"detail"} (newer versions)', async () => {
    // source: route_checks.RouteChecks.is_virtual_key_allowed_to_call_route raises HTTPException(403);
    // _types.LiteLLMRoutes.llm_api_routes = openai_routes (+ anthropic, pass-through, mcp): /key/* and /model/info are not in it
    const si = await standIn({ models: [MODEL], upstreamEnv: { OPENAI_API_KEY: UPSTREAM }, upstreamKeys: [UPSTREAM] });
    const key: string = (await generate(si, { key_type: 'llm_api', models: [MODEL] })).json.key;
    expect((await call(si, 'GET', '/v1/models', { key })).status).toBe(200);
    expect((await call(si, 'GET', '/models', { key })).status).toBe(200);
    expect((await chat(si, key)).status).toBe(200);
    const self = await call(si, 'GET', '/key/info', { key });
    expect(self.status).toBe(403);
    expect(self.json).toEqual({
      detail: "Virtual key is not allowed to call this route. Only allowed to call routes: ['llm_api_routes']. Tried to call route: /key/info",
    });
    const gen = await call(si, 'POST', '/key/generate', { key, body: {} });
    expect(gen.status).toBe(403);
    expect(gen.json.detail).toMatch(/Tried to call route: \/key\/generate$/);
    expect((await call(si, 'GET', '/model/info', { key })).status).toBe(403);
    expect(si.keys()).toHaveLength(1); // nothing was issued
    // the master key has no allowed_routes: never checked
    expect((await call(si, 'GET', `/key/info?key=${key}`, { key: MASTER })).status).toBe(200);
  });

  it("routeDenial 'plain-500' (1.77.2, measured): the refusal escapes the auth handler as a 500 with a plain-text body", async () => {
    const si = await standIn({ routeDenial: 'plain-500' });
    const key: string = (await generate(si, { key_type: 'llm_api' })).json.key;
    const self = await call(si, 'GET', '/key/info', { key });
    expect(self.status).toBe(500);
    expect(self.text).toBe('Internal Server Error');
    expect(self.json).toBeUndefined();
    expect((await call(si, 'GET', '/v1/models', { key })).status).toBe(200);
  });

  it('read_only keys read info routes only; management keys manage keys but are no LLM key', async () => {
    const si = await standIn({ models: [MODEL], upstreamEnv: { OPENAI_API_KEY: UPSTREAM }, upstreamKeys: [UPSTREAM] });
    const ro: string = (await generate(si, { key_type: 'read_only' })).json.key;
    expect((await call(si, 'GET', '/key/info', { key: ro })).status).toBe(200);
    expect((await call(si, 'GET', '/model/info', { key: ro })).status).toBe(200);
    expect((await chat(si, ro)).status).toBe(403);
    expect((await call(si, 'GET', '/v1/models', { key: ro })).status).toBe(403);
    const mgmt: string = (await generate(si, { key_type: 'management' })).json.key;
    expect((await call(si, 'GET', '/key/info', { key: mgmt })).status).toBe(200);
    expect((await chat(si, mgmt)).status).toBe(403);
    // past the route check, /key/generate still wants a proxy admin
    const gen = await call(si, 'POST', '/key/generate', { key: mgmt, body: {} });
    expect(gen.status).toBe(401);
    expect(gen.json.error.message).toMatch(/Only proxy admin can be used to generate/);
  });

  it('explicit routes match exactly or as a "/"-prefix, "/x/*" is a wildcard; {param} routes of a group match one segment', async () => {
    // source: RouteChecks._route_matches_allowed_route, _route_matches_wildcard_pattern, _route_matches_pattern
    const si = await standIn({ enterprise: true });
    const only: string = (await generate(si, { allowed_routes: ['/v1/models'] })).json.key;
    expect((await call(si, 'GET', '/v1/models', { key: only })).status).toBe(200);
    expect((await call(si, 'GET', '/models', { key: only })).status).toBe(403);
    const wild: string = (await generate(si, { allowed_routes: ['/key/*'] })).json.key;
    expect((await call(si, 'GET', '/key/info', { key: wild })).status).toBe(200);
    expect((await call(si, 'GET', '/v1/models', { key: wild })).status).toBe(403);
    const mgmt: string = (await generate(si, { key_type: 'management' })).json.key;
    // /key/{key_id}/regenerate is a management route (then the admin check refuses a non-admin)
    const regen = await call(si, 'POST', `/key/${sha256(mgmt)}/regenerate`, { key: mgmt, body: {} });
    expect(regen.status).toBe(401);
  });

  it('the route is checked after the key itself: an expired or unknown llm_api key gets its own error', async () => {
    const si = await standIn();
    const key: string = (await generate(si, { key_type: 'llm_api' })).json.key;
    si.expireKey(key);
    const r = await call(si, 'GET', '/key/info', { key });
    expect(r.status).toBe(401);
    expect(r.json.error.type).toBe('expired_key');
  });

  it('/key/update can change allowed_routes (a key made llm_api later)', async () => {
    const si = await standIn();
    const key: string = (await generate(si)).json.key;
    expect((await call(si, 'GET', '/key/info', { key })).status).toBe(200);
    const u = await call(si, 'POST', '/key/update', { key: MASTER, body: { key, allowed_routes: ['llm_api_routes'] } });
    expect(u.json.allowed_routes).toEqual(['llm_api_routes']);
    expect((await call(si, 'GET', '/key/info', { key })).status).toBe(403);
    expect(si.keys()[0]?.allowed_routes).toEqual(['llm_api_routes']);
  });
});

describe('key attributes teams use: stored on the row, returned by generate, info and list, changed by update', () => {
  it('team_id, tpm_limit, rpm_limit, max_parallel_requests', async () => {
    // source: GenerateRequestBase fields; generate_key_helper_fn writes them to LiteLLM_VerificationToken
    const si = await standIn();
    const attrs = { team_id: 't1', tpm_limit: 1000, rpm_limit: 10, max_parallel_requests: 2 };
    const g = await generate(si, { key_alias: 'a', ...attrs });
    expect(g.json).toMatchObject(attrs);
    const info = await call(si, 'GET', `/key/info?key=${g.json.key}`, { key: MASTER });
    expect(info.json.info).toMatchObject(attrs);
    const list = await call(si, 'GET', '/key/list?key_alias=a&return_full_object=true', { key: MASTER });
    expect(list.json.keys[0]).toMatchObject(attrs);
    const u = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: g.json.key, rpm_limit: 20, team_id: 't2' } });
    expect(u.json).toMatchObject({ rpm_limit: 20, team_id: 't2', tpm_limit: 1000, max_parallel_requests: 2 });
    expect(si.keys()[0]).toMatchObject({ rpm_limit: 20, team_id: 't2', tpm_limit: 1000 });
  });

  it('auto_rotate with rotation_interval sets key_rotation_at = now + interval; rotation_count starts at 0', async () => {
    // source: key_management_endpoints._set_key_rotation_fields / _calculate_key_rotation_time (LiteLLM PR #14877)
    const si = await standIn();
    const before = Date.now();
    const g = await generate(si, { auto_rotate: true, rotation_interval: '30d' });
    expect(g.json).toMatchObject({ auto_rotate: true, rotation_interval: '30d' });
    const info = (await call(si, 'GET', `/key/info?key=${g.json.key}`, { key: MASTER })).json.info;
    expect(info).toMatchObject({ auto_rotate: true, rotation_interval: '30d', rotation_count: 0, last_rotation_at: null });
    const at = Date.parse(info.key_rotation_at);
    expect(at).toBeGreaterThanOrEqual(before + 30 * 86400e3 - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 30 * 86400e3 + 1000);
    // a plain key: off, nothing scheduled
    const plain = (await call(si, 'GET', `/key/info?key=${(await generate(si)).json.key}`, { key: MASTER })).json.info;
    expect(plain).toMatchObject({ auto_rotate: false, rotation_interval: null, rotation_count: 0, key_rotation_at: null });
    // /key/update can switch it off
    const u = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: g.json.key, auto_rotate: false } });
    expect(u.json.auto_rotate).toBe(false);
  });

  it('the legacy flavor (versions before PR #14877) has no rotation columns at all', async () => {
    const si = await standIn({ flavor: 'legacy' });
    const g = await generate(si);
    const info = (await call(si, 'GET', `/key/info?key=${g.json.key}`, { key: MASTER })).json.info;
    for (const f of ['auto_rotate', 'rotation_interval', 'rotation_count', 'last_rotation_at', 'key_rotation_at']) {
      expect(info).not.toHaveProperty(f);
    }
  });

  it('/key/update duration adds exact seconds from now (no calendar rounding), whatever generateExpiry says', async () => {
    // source: prepare_key_update_data: expires = now + timedelta(seconds=duration_in_seconds(duration))
    const si = await standIn({ generateExpiry: 'calendar' });
    const g = await generate(si);
    const before = Date.now();
    const u = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: g.json.key, duration: '97s' } });
    const expires = Date.parse(u.json.expires);
    expect(expires).toBeGreaterThanOrEqual(before + 97e3 - 50);
    expect(expires).toBeLessThanOrEqual(Date.now() + 97e3 + 50);
  });
});

describe('expiry of a new key: exact (newer) or calendar-rounded (1.77.2)', () => {
  it("generateExpiry 'exact' (default): now + duration to the second", async () => {
    const si = await standIn();
    const before = Date.now();
    const expires = Date.parse((await generate(si, { duration: '97s' })).json.expires);
    expect(expires).toBeGreaterThanOrEqual(before + 97e3 - 50);
    expect(expires).toBeLessThanOrEqual(Date.now() + 97e3 + 50);
  });

  it("generateExpiry 'calendar': 30s lands on :00/:30, 1d on midnight, 7d on Monday, 30d on the 1st; 2mo is a 500; nonsense is next midnight", async () => {
    // measured on 1.77.2 (shared litellm-api.md); source: duration_parser.get_next_standardized_reset_time
    const si = await standIn({ generateExpiry: 'calendar' });
    const exp = async (duration: string) => new Date((await generate(si, { duration })).json.expires);
    const s30 = await exp('30s');
    expect(s30.getUTCSeconds() % 30).toBe(0);
    expect(s30.getUTCMilliseconds()).toBe(0);
    expect(s30.getTime() - Date.now()).toBeLessThanOrEqual(30e3);
    const d1 = await exp('1d');
    expect([d1.getUTCHours(), d1.getUTCMinutes(), d1.getUTCSeconds()]).toEqual([0, 0, 0]);
    expect((await exp('7d')).getUTCDay()).toBe(1);
    const d30 = await exp('30d');
    expect([d30.getUTCDate(), d30.getUTCHours()]).toEqual([1, 0]);
    const bad = await generate(si, { duration: '2mo' });
    expect(bad.status).toBe(500);
    expect(bad.json.error.message).toBe('Monthly resets currently only support 1 month intervals');
    const abc = await generate(si, { duration: 'abc' });
    expect(abc.status).toBe(200);
    expect(new Date(abc.json.expires).getUTCHours()).toBe(0);
  });
});

describe("the '1.77' flavour rounds hours like 1.77.2 (measured: 3h issued at 16:17 expires at 18:00)", () => {
  /** The stand-in's clock moved to `hh:mm` UTC of a later day; its answers' Date header follows. */
  async function at(hh: number, mm: number) {
    const si = await standIn({ flavor: '1.77' });
    const now = Date.now();
    const target = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + 1, hh, mm);
    si.advanceClock(target - now);
    return { si, day: target - (hh * 60 + mm) * 60_000 };
  }

  it('3h at 16:17 → 18:00; 3h at 22:40 → 00:00 next day; 50h at 16:17 → 02:00 next day (source: the hour modulo 24)', async () => {
    const { si, day } = await at(16, 17);
    const exp = async (duration: string) => Date.parse((await generate(si, { duration })).json.expires);
    expect(await exp('3h')).toBe(day + 18 * 3_600_000);
    expect(await exp('50h')).toBe(day + 26 * 3_600_000);
    const res = await fetch(`${si.url}/health/liveliness`);
    expect(Math.abs(Date.parse(res.headers.get('date')!) - (day + (16 * 60 + 17) * 60_000))).toBeLessThan(5_000);
    const late = await at(22, 40);
    expect(Date.parse((await generate(late.si, { duration: '3h' })).json.expires)).toBe(late.day + 24 * 3_600_000);
  });
});

describe('regenerate in place (Enterprise) with grace_period', () => {
  it('the path takes the raw key or its hash ("sk" not in it = a hash); the body is optional; identity, spend and budget window stay', async () => {
    // source: regenerate_key_fn (`if "sk" not in key: hashed_api_key = key`), _execute_virtual_key_regeneration
    // (update where token = old hash: same row, new token and key_name)
    const si = await standIn({ enterprise: true });
    const g = await generate(si, { key_alias: 'keep', max_budget: 10, budget_duration: '30d', models: ['gpt-4o'] });
    const raw: string = g.json.key;
    await call(si, 'POST', '/key/update', { key: MASTER, body: { key: raw, spend: 2.5 } });
    const before = (await call(si, 'GET', `/key/info?key=${raw}`, { key: MASTER })).json.info;
    const r = await call(si, 'POST', `/key/${sha256(raw)}/regenerate`, { key: MASTER });
    expect(r.status).toBe(200);
    const fresh: string = r.json.key;
    expect(fresh).toMatch(/^sk-[A-Za-z0-9_-]{22}$/);
    expect(r.json).toMatchObject({ token_id: sha256(fresh), token: null, key_name: `sk-...${fresh.slice(-4)}`, key_alias: 'keep' });
    const after = (await call(si, 'GET', `/key/info?key=${fresh}`, { key: MASTER })).json.info;
    for (const f of ['key_alias', 'spend', 'max_budget', 'budget_duration', 'budget_reset_at', 'created_at', 'models']) {
      expect(after[f]).toEqual(before[f]);
    }
    expect(si.keys()).toHaveLength(1);
    const old = await call(si, 'GET', '/key/info', { key: raw });
    expect(old.status).toBe(401);
    expect(old.json.error.type).toBe('token_not_found_in_db');
    // the raw key in the path works as well, and body.key wins over the path
    const again = await call(si, 'POST', `/key/${fresh}/regenerate`, { key: MASTER, body: {} });
    expect(again.status).toBe(200);
    const third = await call(si, 'POST', '/key/sk-not-this-one/regenerate', { key: MASTER, body: { key: again.json.key } });
    expect(third.status).toBe(200);
    const missing = await call(si, 'POST', `/key/${sha256('sk-nope')}/regenerate`, { key: MASTER });
    expect(missing.status).toBe(404);
    expect(missing.json.error.message).toBe(`{'error': 'Key ${sha256('sk-nope')} not found.'}`);
  });

  it('body fields are applied as /key/update applies them: duration exact from now, models; new_key must start with sk-', async () => {
    // source: _execute_virtual_key_regeneration -> prepare_key_update_data; get_new_token
    const si = await standIn({ enterprise: true });
    const raw: string = (await generate(si, { key_alias: 'b' })).json.key;
    const before = Date.now();
    const r = await call(si, 'POST', `/key/${sha256(raw)}/regenerate`, { key: MASTER, body: { duration: '90s', models: ['gpt-4o'] } });
    expect(r.json.models).toEqual(['gpt-4o']);
    const expires = Date.parse(r.json.expires);
    expect(expires).toBeGreaterThanOrEqual(before + 90e3 - 50);
    expect(expires).toBeLessThanOrEqual(Date.now() + 90e3 + 50);
    const bad = await call(si, 'POST', `/key/${r.json.token_id}/regenerate`, { key: MASTER, body: { new_key: 'plain' } });
    expect(bad.status).toBe(400);
    const custom = await call(si, 'POST', `/key/${r.json.token_id}/regenerate`, { key: MASTER, body: { new_key: 'sk-mine-0123456789' } });
    expect(custom.json.key).toBe('sk-mine-0123456789');
  });

  it('grace_period "1h": the old key keeps working, as the regenerated row, until the grace ends; then token_not_found_in_db', async () => {
    // source: _insert_deprecated_key (LiteLLM_DeprecatedVerificationToken {token, active_token_id, revoke_at});
    // proxy/utils._lookup_deprecated_key: an old token with revoke_at > now authenticates as active_token_id
    const si = await standIn({ enterprise: true });
    const raw: string = (await generate(si, { key_alias: 'g' })).json.key;
    const r = await call(si, 'POST', `/key/${sha256(raw)}/regenerate`, { key: MASTER, body: { grace_period: '1h' } });
    const fresh: string = r.json.key;
    const oldSelf = await call(si, 'GET', '/key/info', { key: raw });
    expect(oldSelf.status).toBe(200);
    expect(oldSelf.json.key).toBe(sha256(fresh)); // it is the new row now
    expect((await call(si, 'GET', '/v1/models', { key: raw })).status).toBe(200);
    expect((await call(si, 'GET', '/key/info', { key: fresh })).status).toBe(200);
    // one row: the old token is no key of its own (the master key finds no row under it)
    expect(si.keys().map((k) => k.token)).toEqual([sha256(fresh)]);
    expect((await call(si, 'GET', `/key/info?key=${raw}`, { key: MASTER })).status).toBe(404);
    const [dep] = si.deprecatedKeys();
    expect(dep).toMatchObject({ token: sha256(raw), active_token_id: sha256(fresh) });
    expect(Date.parse(dep!.revoke_at) - Date.now()).toBeGreaterThan(3590e3);
    si.advanceClock(3601e3);
    const gone = await call(si, 'GET', '/key/info', { key: raw });
    expect(gone.status).toBe(401);
    expect(gone.json.error.type).toBe('token_not_found_in_db');
    expect(si.deprecatedKeys()).toEqual([]);
    expect((await call(si, 'GET', '/key/info', { key: fresh })).status).toBe(200);
  });

  it('no grace_period, an unparseable one or "0s" revoke at once; keyRotationGracePeriod (LITELLM_KEY_ROTATION_GRACE_PERIOD) is the default', async () => {
    const si = await standIn({ enterprise: true });
    for (const body of [{}, { grace_period: 'soon' }, { grace_period: '0s' }]) {
      const raw: string = (await generate(si)).json.key;
      expect((await call(si, 'POST', `/key/${sha256(raw)}/regenerate`, { key: MASTER, body })).status).toBe(200);
      expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(401);
    }
    const withEnv = await standIn({ enterprise: true, keyRotationGracePeriod: '10m' });
    const raw: string = (await generate(withEnv)).json.key;
    await call(withEnv, 'POST', `/key/${sha256(raw)}/regenerate`, { key: MASTER, body: {} });
    expect((await call(withEnv, 'GET', '/key/info', { key: raw })).status).toBe(200);
  });

  it('a key regenerated twice inside its grace: the oldest key follows the chain to the newest row', async () => {
    const si = await standIn({ enterprise: true });
    const k1: string = (await generate(si)).json.key;
    const k2: string = (await call(si, 'POST', `/key/${sha256(k1)}/regenerate`, { key: MASTER, body: { grace_period: '1h' } })).json.key;
    const k3: string = (await call(si, 'POST', `/key/${sha256(k2)}/regenerate`, { key: MASTER, body: { grace_period: '1h' } })).json.key;
    expect((await call(si, 'GET', '/key/info', { key: k1 })).json.key).toBe(sha256(k3));
    // deleting the row ends every old key with it
    await call(si, 'POST', '/key/delete', { key: MASTER, body: { keys: [k3] } });
    expect((await call(si, 'GET', '/key/info', { key: k1 })).status).toBe(401);
  });
});

describe("the proxy's own rotation (auto_rotate, KeyRotationManager) as control operations", () => {
  it('rotateKey: a new key string, the old one stops working, rotation_count + 1, last_rotation_at and key_rotation_at set, identity kept', async () => {
    // source: common_utils/key_rotation_manager.KeyRotationManager._rotate_key (regenerate_key_fn, then the counters)
    const si = await standIn();
    const raw: string = (await generate(si, { key_alias: 'auto', auto_rotate: true, rotation_interval: '1d', max_budget: 5 })).json.key;
    const before = Date.now();
    const { key, token } = si.rotateKey(raw);
    expect(key).not.toBe(raw);
    expect(token).toBe(sha256(key));
    const old = await call(si, 'GET', '/key/info', { key: raw });
    expect(old.status).toBe(401);
    expect(old.json.error.type).toBe('token_not_found_in_db');
    const row = si.keys()[0]!;
    expect(row).toMatchObject({ token, key_alias: 'auto', max_budget: 5, auto_rotate: true, rotation_count: 1 });
    expect(Date.parse(row.last_rotation_at!)).toBeGreaterThanOrEqual(before - 50);
    expect(Date.parse(row.key_rotation_at!) - Date.parse(row.last_rotation_at!)).toBe(86400e3);
    const viaInfo = (await call(si, 'GET', `/key/info?key=${key}`, { key: MASTER })).json.info;
    expect(viaInfo).toMatchObject({ rotation_count: 1, last_rotation_at: expect.any(String), key_rotation_at: expect.any(String) });
    expect(si.rotateKey(key).token).not.toBe(token);
    expect(si.keys()[0]!.rotation_count).toBe(2);
  });

  it('runKeyRotations rotates only auto_rotate keys that are due (key_rotation_at unset or past), again after the interval', async () => {
    // source: KeyRotationManager._find_keys_needing_rotation
    const si = await standIn();
    const auto: string = (await generate(si, { key_alias: 'auto', auto_rotate: true, rotation_interval: '1h' })).json.key;
    await generate(si, { key_alias: 'manual' });
    expect(si.runKeyRotations()).toEqual([]); // not due yet
    si.advanceClock(3601e3);
    expect(si.runKeyRotations()).toEqual([sha256(auto)]);
    expect(si.runKeyRotations()).toEqual([]);
    expect(si.keys().find((k) => k.key_alias === 'manual')!.rotation_count).toBe(0);
    expect(si.keys().find((k) => k.key_alias === 'auto')!.rotation_count).toBe(1);
  });

  it('keyRotationGracePeriod applies to the rotation job too (it regenerates without grace_period)', async () => {
    const si = await standIn({ keyRotationGracePeriod: '5m' });
    const raw: string = (await generate(si, { auto_rotate: true, rotation_interval: '1d' })).json.key;
    si.rotateKey(raw);
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(200);
    si.advanceClock(301e3);
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(401);
  });

  it('over HTTP: rotateKey {key} -> {key, token}, runKeyRotations -> {rotated}, advanceClock {ms} -> {now}; state shows deprecated keys and now', async () => {
    const si = await standIn({ keyRotationGracePeriod: '1m' });
    const raw: string = (await generate(si, { auto_rotate: true, rotation_interval: '1h' })).json.key;
    const ctl = (body: unknown) => call(si, 'POST', '/__stand-in/control', { key: MASTER, body });
    const rot = await ctl({ op: 'rotateKey', key: sha256(raw) });
    expect(rot.json).toMatchObject({ ok: true, token: sha256(rot.json.key) });
    const state = (await call(si, 'GET', '/__stand-in/state', { key: MASTER })).json;
    expect(state.deprecated).toEqual([expect.objectContaining({ token: sha256(raw), active_token_id: sha256(rot.json.key) })]);
    const moved = await ctl({ op: 'advanceClock', ms: 7200e3 });
    expect(Date.parse(moved.json.now) - Date.now()).toBeGreaterThan(7190e3);
    expect((await ctl({ op: 'runKeyRotations' })).json.rotated).toEqual([sha256(rot.json.key)]);
    expect((await ctl({ op: 'advanceClock', ms: 'x' })).status).toBe(400);
  });
});

describe("the stand-in's clock", () => {
  it('advanceClock moves what the proxy decides by time: a key valid for 1h is expired 2h later; new timestamps follow the moved clock', async () => {
    const si = await standIn();
    const raw: string = (await generate(si, { duration: '1h' })).json.key;
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(200);
    si.advanceClock(7200e3);
    const r = await call(si, 'GET', '/key/info', { key: raw });
    expect(r.status).toBe(401);
    expect(r.json.error.type).toBe('expired_key');
    const later = await generate(si);
    expect(Date.parse(later.json.created_at) - Date.now()).toBeGreaterThan(7190e3);
  });

  it('expireKey {key, inMs} sets the expiry that far from now (a key about to expire); without inMs it expires now', async () => {
    const si = await standIn();
    const raw: string = (await generate(si)).json.key;
    await call(si, 'POST', '/__stand-in/control', { key: MASTER, body: { op: 'expireKey', key: raw, inMs: 600e3 } });
    const info = (await call(si, 'GET', `/key/info?key=${raw}`, { key: MASTER })).json.info;
    expect(Date.parse(info.expires) - Date.now()).toBeGreaterThan(590e3);
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(200);
    si.expireKey(raw);
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(401);
  });
});

describe("flavor '1.77': what a running LiteLLM 1.77.2 answers (shared/litellm-api.md, \"Checked against a running LiteLLM 1.77.2\")", () => {
  const v177 = (opts: Partial<StandInOptions> = {}) => standIn({ flavor: '1.77', ...opts });
  const MODEL = 'openai/gpt-4o-mini';

  it('readiness: 200 with `status` carrying the db state, cache, litellm_version and callbacks (no /health/readiness/details)', async () => {
    // source (v1.77.2 _health_endpoints.health_readiness): {"status": "healthy", "db": "connected", ..., **db_health_status},
    // and _db_health_readiness_check's cache {"status": "connected", "last_updated"} overrides `status`.
    const si = await v177();
    const r = await call(si, 'GET', '/health/readiness');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'connected', db: 'connected', cache: null, litellm_version: '1.77.2' });
    expect(Array.isArray(r.json.success_callbacks)).toBe(true);
    expect((await call(si, 'GET', '/health/readiness/details', { key: MASTER })).status).toBe(404);
    const none = await v177({ db: 'Not connected' });
    expect(await call(none, 'GET', '/health/readiness')).toMatchObject({ status: 200, json: { status: 'healthy', db: 'Not connected' } });
  });

  it('readiness while the database is unreachable: 503 {"detail": "Service Unhealthy (...)"}, no db field', async () => {
    // source (v1.77.2): a failed prisma_client.health_check() raises out of health_readiness → HTTPException(503, f"Service Unhealthy ({e})").
    const si = await v177({ db: 'disconnected' });
    const r = await call(si, 'GET', '/health/readiness');
    expect(r.status).toBe(503);
    expect(r.json.detail).toMatch(/^Service Unhealthy \(/);
    expect(r.json).not.toHaveProperty('db');
  });

  it('a new key\'s expiry is rounded like a budget reset: 30s → next :00/:30, 7d → Monday 00:00 UTC, 30d and 1mo → the 1st', async () => {
    // source (v1.77.2 key_management_endpoints.generate_key_helper_fn): expires = get_budget_reset_time(budget_duration=duration)
    // (common_utils/timezone_utils.py → duration_parser.get_next_standardized_reset_time); LiteLLM issue #15142.
    const si = await v177();
    const expiresOf = async (duration: string) => new Date((await generate(si, { duration })).json.expires);
    const now = new Date();
    const s30 = await expiresOf('30s');
    expect([0, 30]).toContain(s30.getUTCSeconds());
    expect(s30.getUTCMilliseconds()).toBe(0);
    expect(s30.getTime() - now.getTime()).toBeLessThanOrEqual(31_000);
    const monday = await expiresOf('7d');
    expect([monday.getUTCDay(), monday.getUTCHours(), monday.getUTCMinutes()]).toEqual([1, 0, 0]);
    expect(monday.getTime() - now.getTime()).toBeLessThanOrEqual(7 * 86_400_000);
    const first = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    expect((await expiresOf('30d')).getTime()).toBe(first);
    expect((await expiresOf('1mo')).getTime()).toBe(first);
  });

  it("'current' adds the exact duration on generate (the fix of LiteLLM issue #15142)", async () => {
    const si = await standIn({ flavor: 'current' });
    const before = Date.now();
    const r = await generate(si, { duration: '30d' });
    expect(Date.parse(r.json.expires) - before).toBeGreaterThanOrEqual(30 * 86_400_000 - 1000);
    expect(Date.parse(r.json.expires) - Date.now()).toBeLessThanOrEqual(30 * 86_400_000 + 1000);
  });

  it('a duration of Nmo other than 1mo is a 500 "Monthly resets currently only support 1 month intervals"; nothing stored', async () => {
    // source: duration_parser._handle_month_reset raises ValueError for value != 1; /key/generate answers it as a 500.
    const si = await v177();
    const r = await generate(si, { duration: '2mo' });
    expect(r.status).toBe(500);
    expect(r.json.error.message).toBe('Monthly resets currently only support 1 month intervals');
    expect(si.keys()).toHaveLength(0);
  });

  it('an unparseable duration is a 200 with a key expiring at the next midnight (UTC)', async () => {
    // source: get_next_standardized_reset_time falls back to the next midnight when re.match(r"(\d+)([a-z]+)") fails.
    const si = await v177();
    const r = await generate(si, { duration: 'abc' });
    expect(r.status).toBe(200);
    const now = new Date();
    expect(Date.parse(r.json.expires)).toBe(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  });

  it('/key/update with duration adds exact seconds (no rounding)', async () => {
    // source (v1.77.2 prepare_key_update_data): expires = now + timedelta(seconds=duration_in_seconds(duration)).
    const si = await v177();
    const raw: string = (await generate(si, {})).json.key;
    const before = Date.now();
    const r = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: raw, duration: '30d' } });
    expect(r.status).toBe(200);
    expect(Date.parse(r.json.expires) - before).toBeGreaterThanOrEqual(30 * 86_400_000 - 1000);
    expect(Date.parse(r.json.expires) - Date.now()).toBeLessThanOrEqual(30 * 86_400_000 + 1000);
  });

  it('POST /key/block and /key/unblock (master key, raw key or hash) set `blocked` and answer the row', async () => {
    // source: key_management_endpoints.block_key / unblock_key: update blocked, drop the key from user_api_key_cache, return the record.
    const si = await v177();
    const raw: string = (await generate(si, { key_alias: 'b' })).json.key;
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(200); // cached now: block must still take effect
    const blocked = await call(si, 'POST', '/key/block', { key: MASTER, body: { key: raw } });
    expect(blocked).toMatchObject({ status: 200, json: { token: sha256(raw), blocked: true, key_alias: 'b' } });
    const refused = await call(si, 'GET', '/key/info', { key: raw });
    expect(refused.status).toBe(401);
    expect(refused.json.error.message).toContain('Key is blocked');
    const unblocked = await call(si, 'POST', '/key/unblock', { key: MASTER, body: { key: sha256(raw) } });
    expect(unblocked).toMatchObject({ status: 200, json: { blocked: false } });
    expect((await call(si, 'GET', '/key/info', { key: raw })).status).toBe(200);
    expect((await call(si, 'POST', '/key/block', { key: raw, body: { key: raw } })).status).toBe(401); // admin only
    expect((await call(si, 'POST', '/key/block', { key: MASTER, body: { key: 'sk-unknown' } })).status).toBe(404);
  });

  it('/key/generate with a new user_id creates the user row; /user/info shows it with its keys; /user/new creates a user and its key', async () => {
    // source: generate_key_helper_fn upserts LiteLLM_UserTable for user_id; internal_user_endpoints.new_user / user_info.
    const si = await v177();
    const raw: string = (await generate(si, { user_id: 'task-agent', key_alias: 'k' })).json.key;
    const info = await call(si, 'GET', '/user/info?user_id=task-agent', { key: MASTER });
    expect(info.status).toBe(200);
    expect(info.json).toMatchObject({ user_id: 'task-agent', user_info: { user_id: 'task-agent' }, teams: [] });
    expect(info.json.keys.map((k: { token: string }) => k.token)).toEqual([sha256(raw)]);
    const created = await call(si, 'POST', '/user/new', { key: MASTER, body: { user_id: 'memory', models: [MODEL] } });
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ user_id: 'memory', models: [MODEL] });
    expect(created.json.key).toMatch(/^sk-/);
    expect(si.keys().find((k) => k.token === sha256(created.json.key))?.user_id).toBe('memory');
    expect((await call(si, 'GET', '/user/info?user_id=nobody', { key: MASTER })).status).toBe(404);
  });

  it('a key that authenticated keeps working 60 s after its row is deleted behind the proxy\'s back; /key/delete ends it at once', async () => {
    // source (v1.77.2 user_api_key_auth): get_key_object reads user_api_key_cache (in-memory, 60 s TTL) before the DB;
    // delete_verification_tokens drops the cache entries of the keys it deletes.
    const si = await v177();
    const raw: string = (await generate(si, {})).json.key;
    expect((await call(si, 'GET', '/v1/models', { key: raw })).status).toBe(200);
    si.wipe(); // like a DELETE in SQL
    expect((await call(si, 'GET', '/v1/models', { key: raw })).status).toBe(200);
    // The master key reads the database: the row is gone.
    expect((await call(si, 'GET', `/key/info?key=${raw}`, { key: MASTER })).status).toBe(404);
    const other: string = (await generate(si, {})).json.key;
    expect((await call(si, 'GET', '/v1/models', { key: other })).status).toBe(200);
    expect((await call(si, 'POST', '/key/delete', { key: MASTER, body: { keys: [other] } })).status).toBe(200);
    expect((await call(si, 'GET', '/v1/models', { key: other })).json.error.type).toBe('token_not_found_in_db');
    // 'current' models no cache: a wiped key is unknown at once.
    const cur = await standIn({ flavor: 'current' });
    const k: string = (await generate(cur, {})).json.key;
    expect((await call(cur, 'GET', '/v1/models', { key: k })).status).toBe(200);
    cur.wipe();
    expect((await call(cur, 'GET', '/v1/models', { key: k })).status).toBe(401);
  });

  it('a completion for a model whose provider key the proxy lacks is a 500 with the AuthenticationError message (current: 401, same message)', async () => {
    // Measured on 1.77.2: the openai client raises "The api_key client option must be set ..." before any request.
    for (const [flavor, status] of [['1.77', 500], ['current', 401]] as const) {
      const si = await standIn({ flavor, models: [MODEL], upstreamEnv: {} });
      const key: string = (await generate(si, { models: [MODEL] })).json.key;
      const r = await call(si, 'POST', '/v1/chat/completions', { key, body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } });
      expect(r.status).toBe(status);
      expect(r.json.error.message).toMatch(/^litellm\.AuthenticationError: AuthenticationError: OpenAIException - The api_key client option must be set /);
    }
  });

  it('no alias format check at all (spaces, /, é, #); a duplicate alias is still the 400; options of newer versions are refused', async () => {
    // source (v1.77.2 generate_key_fn): only _enforce_unique_key_alias; _validate_key_alias_format came with v1.82.0.
    const si = await v177();
    for (const alias of ['task-agent default', 'a/b', 'café', '#1', 'x']) expect((await generate(si, { key_alias: alias })).status).toBe(200);
    expect((await generate(si, { key_alias: 'x' })).json.error.message).toContain('already exists');
    await expect(v177({ keyAliasPattern: 'builtin' })).rejects.toThrow(/newer than 1\.77/);
    await expect(v177({ masterKeyLockout: true })).rejects.toThrow(/newer than 1\.77/);
  });

  it('/key/update of an unknown key is 401 auth_error; the master key\'s own /key/info is 404', async () => {
    // source (v1.77.2): update_key_fn raises "invalid user key - user key does not exist in db" (auth_error);
    // info_key_fn looks the master key's hash up like any key: not found.
    const si = await v177();
    const u = await call(si, 'POST', '/key/update', { key: MASTER, body: { key: 'sk-unknown', models: [] } });
    expect(u.status).toBe(401);
    expect(u.json.error.type).toBe('auth_error');
    expect((await call(si, 'GET', '/key/info', { key: MASTER })).status).toBe(404);
  });

  it('the default flavour comes from STAND_IN_FLAVOR (how the scenario suite runs on both); a bad value is refused', () => {
    expect(defaultFlavor({})).toBe('current');
    expect(defaultFlavor({ STAND_IN_FLAVOR: '1.77' })).toBe('1.77');
    expect(() => defaultFlavor({ STAND_IN_FLAVOR: '1.76' })).toThrow(/STAND_IN_FLAVOR must be one of current, 1\.77, legacy/);
  });
});
