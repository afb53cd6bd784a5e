/**
 * The key's life after it is issued, as a user sees it: renewal before expiry with a grace
 * period, `--check` for a key inside its window, repair after the proxy rotated the key,
 * rotation in place where the proxy is licensed, least-privilege (llm_api) keys, and the
 * keys-file attributes teams use. The built CLI as a process, real files, the stand-in on loopback.
 */
import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256Hex } from '../support/litellm-stand-in.ts';
import { WatchedSecrets } from '../support/cli.ts';
import { messages, scenarioLab } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-keylife-3b9e1d7c5a';
const UPSTREAM = 'sk-proj-KEYLIFEupstreamSECRET0123456789abcdefgh';
/** Every run of this file fails if it prints any 8-character piece of one of these (support/cli.ts). */
const secretsSeen = new WatchedSecrets([MASTER, UPSTREAM]);
const ALIAS = 'task-agent default';
const OURS = { provisioned_by: 'llm-proxy-bootstrap', bootstrap_alias: ALIAS };

const template = (extra = '') => `# LLM proxy settings
LITELLM_MASTER_KEY=${MASTER}
LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini
LITELLM_OPENAI_API_KEY=${UPSTREAM}
${extra}
# The agent's key, written by the bootstrap
OPENAI_API_KEY=sk-proxy-default
`;

const lab = scenarioLab({
  template: template(),
  proxy: { masterKey: MASTER, models: ['openai/*'], upstreamEnv: { OPENAI_API_KEY: 'sk-upstream-openai-not-real-0123456789' }, upstreamKeys: ['sk-upstream-openai-not-real-0123456789'] },
  secrets: secretsSeen,
});
const { proxy, dir, startProxy, run, agentKey, chat } = lab;

/** A management call as the master key (what an operator does in LiteLLM's UI). */
async function asOperator(route: string, body: unknown): Promise<void> {
  const res = await fetch(`${proxy.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.text()).toBe(200);
}

/** How far to move a clock at `now` to reach the next 12:00 UTC. */
const midday = (now: Date) => {
  const noon = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 12);
  return (noon - now.getTime() + 86_400_000) % 86_400_000;
};

const withAlias = (alias = ALIAS) => proxy.keys().filter((k) => k.key_alias === alias);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A key of ours already in .env, issued a month ago, that expires in `ms` (as the proxy reports it). */
async function keyExpiringIn(ms: number, extra: Record<string, unknown> = {}): Promise<string> {
  const raw = proxy.addKey({ created_at: new Date(Date.now() - 30 * 86_400_000).toISOString(), key_alias: ALIAS, models: ['openai/gpt-4o-mini'], user_id: 'task-agent', metadata: { ...OURS, team: 'platform' }, expires: new Date(Date.now() + ms).toISOString(), allowed_routes: ['llm_api_routes'], ...extra } as never);
  secretsSeen.add(raw);
  await dir.write(template().replace('OPENAI_API_KEY=sk-proxy-default', `OPENAI_API_KEY=${raw}`));
  return raw;
}

describe('renewal before expiry, with a grace period', () => {
  it('a key inside its renew window is replaced; the old key works during its grace and is gone after a run past it', async () => {
    const old = await keyExpiringIn(30 * 60_000);
    const r = await run([], { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '1h', LITELLM_KEY_GRACE_PERIOD: '3s' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/renewed key "task-agent default"/);
    const key = await agentKey();
    expect(key).not.toBe(old);
    // Both work: consumers still holding the old key can switch during the grace.
    expect(await chat(key)).toBe(200);
    expect(await chat(old)).toBe(200);
    // Exactly one key carries the alias; the old one is retired, its metadata kept and marked.
    expect(withAlias().map((k) => k.token)).toEqual([sha256Hex(key)]);
    const retired = proxy.keys().find((k) => k.token === sha256Hex(old))!;
    expect(retired.key_alias).toBeNull();
    expect(retired.metadata).toMatchObject({ ...OURS, team: 'platform' });
    expect(typeof retired.metadata.bootstrap_retired_until).toBe('string');
    // The new key: the proxy's expiry window is new, the old one's life is now the grace.
    expect(Date.parse(retired.expires!)).toBeLessThanOrEqual(Date.now() + 3_500);
    expect(proxy.keys()).toHaveLength(2);
    // A warm run inside the grace leaves both alone, and costs two requests (the key, the models).
    proxy.resetRequests();
    const warm = await run([], { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '1h', LITELLM_KEY_GRACE_PERIOD: '3s' });
    expect(warm.code, warm.stderr).toBe(0);
    expect(proxy.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /key/info', 'GET /model/info']);
    expect(proxy.keys()).toHaveLength(2);
    // Past the grace: the old key no longer works, and the next run deletes it.
    await sleep(3_500);
    // An expired key: 401 on the newest versions, 400 expired_key on 1.77 to early-2026 builds.
    expect([400, 401]).toContain(await chat(old));
    const after = await run([], { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '1h', LITELLM_KEY_GRACE_PERIOD: '3s' });
    expect(after.code, after.stderr).toBe(0);
    expect(after.last).toMatch(/deleted the retired keys of "task-agent default"/);
    expect(proxy.keys().map((k) => k.token)).toEqual([sha256Hex(key)]);
    expect(await chat(key)).toBe(200);
    // The ledger forgot it; the run after is warm again.
    expect(JSON.parse(await readFile(path.join(dir.dir, '.llm-proxy-bootstrap.json'), 'utf8')).retired).toBeUndefined();
    proxy.resetRequests();
    expect((await run([], { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '1h' })).code).toBe(0);
    expect(proxy.requestCount()).toBe(2); // the key, the models
  });

  it('--check exits 5 for a key inside its window, and 0 for one outside it; nothing changes', async () => {
    const old = await keyExpiringIn(30 * 60_000);
    expect((await run(['--mirror-only'])).code).toBe(0);
    const inside = await run(['--check'], { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '1h' });
    expect(inside.code, inside.stderr).toBe(5);
    expect(inside.stdout).toMatch(/renew key "task-agent default" \(it expires .*, within renew_before 1h\)/);
    const outside = await run(['--check'], { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '10m' });
    expect(outside.code, outside.stdout).toBe(0);
    expect(await agentKey()).toBe(old);
    expect(proxy.keys()).toHaveLength(1);
  });

  it('a renew window as long as the key\'s lifetime is bad input, exit 2 naming both settings', async () => {
    const r = await run([], { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '30d', LITELLM_DEFAULT_KEY_DURATION: '30d' });
    expect(r.code).toBe(2);
    expect(r.last).toMatch(/LITELLM_DEFAULT_KEY_RENEW_BEFORE .*LITELLM_DEFAULT_KEY_DURATION/);
    expect(proxy.requestCount()).toBe(0);
  });

  it("a proxy that rounds a new key's expiry (1.77: a 1d key expires at the next midnight) still gives the key its whole day", async () => {
    await startProxy({ generateExpiry: 'calendar' });
    // Not within a minute after midnight UTC, where the rounding would take nothing off.
    proxy.advanceClock(midday(new Date())); // a fresh stand-in's clock is the real one
    const r = await run([], { LITELLM_DEFAULT_KEY_DURATION: '1d', LITELLM_DEFAULT_KEY_RENEW_BEFORE: '23h' });
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toMatch(/expiry \(.*T00:00:00.*\) short of its LITELLM_DEFAULT_KEY_DURATION \(1d\).*exact lifetime is set/);
    const row = proxy.keys()[0]!;
    const life = Date.parse(row.expires!) - Date.parse(row.created_at);
    expect(life).toBeGreaterThanOrEqual(86_400_000);
    expect(life).toBeLessThan(86_400_000 + 60_000);
    // The next run finds nothing to renew.
    const again = await run(['--check'], { LITELLM_DEFAULT_KEY_DURATION: '1d', LITELLM_DEFAULT_KEY_RENEW_BEFORE: '23h' });
    expect(again.code, again.stdout).toBe(0);
  });

  it('renewal where the proxy is licensed regenerates in place: spend kept, old key in its grace by the proxy, no key left to delete', async () => {
    await startProxy({ enterprise: true });
    const old = await keyExpiringIn(30 * 60_000, { spend: 1.25 });
    const r = await run([], { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '1h', LITELLM_KEY_GRACE_PERIOD: '1h', LITELLM_DEFAULT_KEY_DURATION: '30d' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/renewed key "task-agent default"/);
    const key = await agentKey();
    expect(proxy.keys()).toHaveLength(1);
    expect(proxy.keys()[0]).toMatchObject({ token: sha256Hex(key), key_alias: ALIAS, spend: 1.25 });
    // A fresh lifetime: duration sent with the regenerate.
    expect(Date.parse(proxy.keys()[0]!.expires!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect(await chat(old)).toBe(200);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(0);
  });
});

describe('--rotate', () => {
  it('uses /key/{hash}/regenerate when licensed: spend and identity kept, the old key revoked at once, the raw key never in a URL', async () => {
    await startProxy({ enterprise: true });
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    await asOperator('/key/update', { key: sha256Hex(old), spend: 2.5 });
    proxy.resetRequests();
    const r = await run(['--rotate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/rotated key "task-agent default"/);
    const key = await agentKey();
    expect(key).not.toBe(old);
    expect(proxy.keys()).toHaveLength(1);
    expect(proxy.keys()[0]).toMatchObject({ token: sha256Hex(key), key_alias: ALIAS, spend: 2.5 });
    expect(await chat(key)).toBe(200);
    expect(await chat(old)).toBe(401);
    const posts = proxy.requests.filter((q) => q.method === 'POST' && q.path.startsWith('/key/')).map((q) => q.path);
    expect(posts).toEqual([`/key/${sha256Hex(old)}/regenerate`]);
  });

  it('falls back once when unlicensed: one refused regenerate, then generate + write + revoke for every key', async () => {
    const keysFile = path.join(dir.dir, 'keys.yaml');
    await writeFile(keysFile, 'keys:\n  - alias: a\n    env: A_API_KEY\n  - alias: b\n    env: B_API_KEY\n  - alias: c\n    env: C_API_KEY\n');
    const extra = { LITELLM_BOOTSTRAP_CONFIG: keysFile };
    expect((await run([], extra)).code).toBe(0);
    const before = await Promise.all(['A_API_KEY', 'B_API_KEY', 'C_API_KEY'].map((n) => agentKey(n)));
    proxy.resetRequests();
    const r = await run(['--rotate'], extra);
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/rotated key "a", "b", "c"/);
    expect(proxy.requests.filter((q) => q.path.endsWith('/regenerate')).map((q) => q.status)).toEqual([500]);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(3);
    expect(messages(r)).toMatch(/does not regenerate keys in place/);
    const after = await Promise.all(['A_API_KEY', 'B_API_KEY', 'C_API_KEY'].map((n) => agentKey(n)));
    for (const [i, key] of after.entries()) {
      expect(key).not.toBe(before[i]);
      expect(await chat(key)).toBe(200);
      expect(await chat(before[i]!)).toBe(401);
    }
    expect(proxy.keys().map((k) => k.key_alias).sort()).toEqual(['a', 'b', 'c']);
  });

  it('--rotate --grace keeps the old key working for the grace (unlicensed: retired, deleted by a later run)', async () => {
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    const r = await run(['--rotate', '--grace', '2s']);
    expect(r.code, r.stderr).toBe(0);
    const key = await agentKey();
    expect(await chat(old)).toBe(200);
    expect(await chat(key)).toBe(200);
    expect(withAlias().map((k) => k.token)).toEqual([sha256Hex(key)]);
    await sleep(2_500);
    expect((await run()).code).toBe(0);
    expect(proxy.keys().map((k) => k.token)).toEqual([sha256Hex(key)]);
  });
});

describe('repair after the proxy rotated a key', () => {
  for (const enterprise of [false, true]) {
    it(`says so in one line, replaces the key, leaves one key with the alias, exit 0 (${enterprise ? 'licensed: regenerated' : 'unlicensed: re-issued'})`, async () => {
      await startProxy({ enterprise });
      expect((await run()).code).toBe(0);
      const old = await agentKey();
      // An operator turns on the proxy's rotation for the key; its job rotates it.
      await asOperator('/key/update', { key: sha256Hex(old), auto_rotate: true, rotation_interval: '30d' });
      proxy.advanceClock(31 * 86_400_000);
      expect(proxy.runKeyRotations()).toEqual([sha256Hex(old)]);
      proxy.advanceClock(-31 * 86_400_000);
      expect(await chat(old)).toBe(401);
      const r = await run();
      expect(r.code, r.stderr).toBe(0);
      const lines = r.logs.filter((l) => /rotated by the proxy/.test(String(l.msg)));
      expect(lines).toHaveLength(1);
      expect(String(lines[0]!.msg)).toMatch(/key "task-agent default" was rotated by the proxy \(auto_rotate, rotation 1/);
      expect(r.last).toMatch(/repaired key "task-agent default"/);
      const key = await agentKey();
      expect(await chat(key)).toBe(200);
      expect(withAlias()).toHaveLength(1);
      expect(proxy.keys()).toHaveLength(1);
      // Keys we issue do not rotate by the proxy unless asked: the next run turns it off, then all is warm.
      await run();
      expect(proxy.keys()[0]).toMatchObject({ auto_rotate: false });
      proxy.resetRequests();
      expect((await run()).code).toBe(0);
      expect(proxy.requestCount()).toBe(2); // the key, the models
    });
  }
});

describe('least privilege: the agent key is llm_api', () => {
  for (const routeDenial of ['http-403', 'plain-500'] as const) {
    it(`works for completions and cannot call /key/generate; the warm run stays two requests (the key, the models) (${routeDenial === 'plain-500' ? "1.77's plain 500" : 'a clean 403'})`, async () => {
      await startProxy({ routeDenial });
      const r = await run();
      expect(r.code, r.stderr).toBe(0);
      const key = await agentKey();
      expect(proxy.keys()[0]).toMatchObject({ allowed_routes: ['llm_api_routes'] });
      expect(proxy.requests.find((q) => q.path === '/key/generate')?.sent?.fields).toContain('key_type');
      expect(await chat(key)).toBe(200);
      const generate = await fetch(`${proxy.url}/key/generate`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
      await generate.arrayBuffer();
      expect(generate.status).toBe(routeDenial === 'plain-500' ? 500 : 403);
      expect(proxy.keys()).toHaveLength(1);
      proxy.resetRequests();
      const warm = await run();
      expect(warm.code, warm.stderr).toBe(0);
      expect(proxy.requests.map((q) => `${q.method} ${q.path} ${q.auth} ${q.status}`)).toEqual(['GET /key/info master 200', 'GET /model/info master 200']);
    });
  }

  it('a key issued before (a default key) is narrowed to llm_api in place; LITELLM_DEFAULT_KEY_TYPE=default keeps it', async () => {
    expect((await run([], { LITELLM_DEFAULT_KEY_TYPE: 'default' })).code).toBe(0);
    const key = await agentKey();
    expect(proxy.keys()[0]!.allowed_routes).toEqual([]);
    proxy.resetRequests();
    expect((await run([], { LITELLM_DEFAULT_KEY_TYPE: 'default' })).code).toBe(0);
    expect(proxy.requestCount()).toBe(2); // the key, the models
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toMatch(/update key "task-agent default": key_type \(llm_api\)/);
    expect(await agentKey()).toBe(key);
    expect(proxy.keys()[0]!.allowed_routes).toEqual(['llm_api_routes']);
  });
});

describe('the keys-file attributes teams use', () => {
  it('team_id, key_type, tpm_limit, rpm_limit and max_parallel_requests are issued, drift-checked and updated alone (never a null)', async () => {
    const keysFile = path.join(dir.dir, 'keys.yaml');
    const write = (tpm: number, type = 'read_only') =>
      writeFile(keysFile, `keys:\n  - alias: reporting\n    env: REPORT_API_KEY\n    team_id: analytics\n    key_type: ${type}\n    tpm_limit: ${tpm}\n    rpm_limit: 60\n    max_parallel_requests: 4\n`);
    await write(1000);
    const extra = { LITELLM_BOOTSTRAP_CONFIG: keysFile };
    const r = await run([], extra);
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.keys()[0]).toMatchObject({ key_alias: 'reporting', team_id: 'analytics', tpm_limit: 1000, rpm_limit: 60, max_parallel_requests: 4, allowed_routes: ['info_routes'] });
    // In place, nothing to do.
    expect((await run(['--check'], extra)).code).toBe(0);
    // Someone raised the limit on the proxy: drift.
    const key = await agentKey('REPORT_API_KEY');
    await asOperator('/key/update', { key: sha256Hex(key), tpm_limit: 99_999 });
    const check = await run(['--check'], extra);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/update key "reporting": tpm_limit/);
    proxy.resetRequests();
    expect((await run([], extra)).code).toBe(0);
    const update = proxy.requests.find((q) => q.path === '/key/update')!;
    expect(update.sent?.fields.sort()).toEqual(['key', 'tpm_limit']);
    expect(proxy.keys()[0]).toMatchObject({ tpm_limit: 1000, team_id: 'analytics' });
    // A changed key type is an update of allowed_routes, the key kept.
    await write(1000, 'llm_api');
    expect((await run([], extra)).code).toBe(0);
    expect(await agentKey('REPORT_API_KEY')).toBe(key);
    expect(proxy.keys()[0]!.allowed_routes).toEqual(['llm_api_routes']);
  });

  it('a bad attribute is exit 2 naming its line, before any request', async () => {
    const keysFile = path.join(dir.dir, 'keys.yaml');
    await writeFile(keysFile, 'keys:\n  - alias: a\n    env: A_API_KEY\n    key_type: admin\n');
    const r = await run([], { LITELLM_BOOTSTRAP_CONFIG: keysFile });
    expect(r.code).toBe(2);
    expect(r.last).toMatch(/line 4: keys.0.key_type must be one of default, llm_api, management, read_only/);
    await writeFile(keysFile, 'keys:\n  - alias: a\n    env: A_API_KEY\n    tpm_limit: 1.5\n');
    const limit = await run([], { LITELLM_BOOTSTRAP_CONFIG: keysFile });
    expect(limit.code).toBe(2);
    expect(limit.last).toMatch(/line 4: keys.0.tpm_limit must be a whole number/);
    expect(proxy.requestCount()).toBe(0);
  });
});
