/**
 * Keys on a proxy that rounds a new key's expiry (LiteLLM 1.77, measured: `3h` issued at 16:17
 * expires at 18:00), with LITELLM_DEFAULT_KEY_DURATION=3h and LITELLM_DEFAULT_KEY_RENEW_BEFORE=2h:
 * the key the proxy hands out can land inside its own renew window. The user sees one key that
 * lives its three hours, renewals that move the expiry later, no pile of retired keys, and a
 * `--check` line that says what is wrong with a key an older bootstrap left. The stand-in's
 * '1.77' flavour (its rounding is 1.77's) and its clock, which the bootstrap reads from the
 * proxy's Date header like any proxy's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../support/litellm-stand-in.ts';
import { allOutput } from '../support/cli.ts';
import { messages, scenarioLab } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-rounding-6d1f0b9a2e';
const UPSTREAM = 'sk-proj-ROUNDINGupstreamSECRET0123456789abcdef';
const secretsSeen = new Set<string>([MASTER, UPSTREAM]);
const ALIAS = 'task-agent default';
const HOUR = 3_600_000;
const MIN = 60_000;

const template = (agentKey = 'sk-proxy-default') => `# LLM proxy settings
LITELLM_MASTER_KEY=${MASTER}
LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini
LITELLM_OPENAI_API_KEY=${UPSTREAM}
LITELLM_DEFAULT_KEY_DURATION=3h
LITELLM_DEFAULT_KEY_RENEW_BEFORE=2h
LITELLM_KEY_GRACE_PERIOD=30m
# The agent's key, written by the bootstrap
OPENAI_API_KEY=${agentKey}
`;

const lab = scenarioLab({
  template: template(),
  proxy: { masterKey: MASTER, flavor: '1.77', models: ['openai/*'], upstreamEnv: { OPENAI_API_KEY: 'sk-upstream-openai-not-real-0123456789' }, upstreamKeys: ['sk-upstream-openai-not-real-0123456789'] },
  secrets: secretsSeen,
});
const { proxy, dir, run, agentKey, chat } = lab;

afterEach(() => {
  for (const out of allOutput) for (const secret of secretsSeen) if (secret) expect(out).not.toContain(secret);
});

/**
 * Moves the (fresh, real-time) stand-in's clock to 20 minutes before a 3-hour boundary of the day
 * (UTC 00:00, 03:00, ...), where 1.77 rounds a `3h` key: it would live 20 minutes. Returns that boundary.
 */
function twentyMinutesBeforeABoundary(): number {
  const now = Date.now();
  const ms = ((((2 * HOUR + 40 * MIN) - (now % (3 * HOUR))) % (3 * HOUR)) + 3 * HOUR) % (3 * HOUR);
  proxy.advanceClock(ms);
  return now + ms + 20 * MIN;
}

const life = (row: { expires: string | null; created_at: string }) => Date.parse(row.expires!) - Date.parse(row.created_at);
const generated = () => proxy.requests.filter((q) => q.path === '/key/generate').length;

describe('LiteLLM 1.77 rounds a 3h key to the next 3-hour boundary; renew_before 2h', () => {
  it('a first run and five more leave one key: it lives its 3 hours, one renewal moves the expiry later, the retired key is gone after its grace', async () => {
    const boundary = twentyMinutesBeforeABoundary();
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    // The proxy said 20 minutes; the key got its exact 3 hours (no renewal on the next runs).
    expect(messages(first)).toMatch(new RegExp(`expiry \\(${new Date(boundary).toISOString().slice(0, 16)}.*short of its LITELLM_DEFAULT_KEY_DURATION \\(3h\\)`));
    const key1 = await agentKey();
    const [row1] = proxy.keys();
    expect(life(row1!)).toBeGreaterThanOrEqual(3 * HOUR);
    expect(Date.parse(row1!.expires!)).toBeGreaterThan(boundary);

    // Runs every 25 minutes. The first two find the key outside its window and change nothing, two requests each.
    for (const _ of [1, 2]) {
      proxy.advanceClock(25 * MIN);
      proxy.resetRequests();
      const warm = await run();
      expect(warm.code, warm.stderr).toBe(0);
      expect(await agentKey()).toBe(key1);
      expect(proxy.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /key/info', 'GET /model/info']);
    }
    // 75 minutes in, 105 minutes are left: within 2h, renewed once. The new key lives 3 hours too (the proxy
    // rounded it to the next boundary, 2h05 away), so its expiry is later than the old one's.
    proxy.advanceClock(25 * MIN);
    proxy.resetRequests();
    const renewing = await run();
    expect(renewing.code, renewing.stderr).toBe(0);
    expect(renewing.last).toMatch(/renewed key "task-agent default"/);
    expect(generated()).toBe(1);
    const key2 = await agentKey();
    expect(key2).not.toBe(key1);
    const row2 = proxy.keys().find((k) => k.token === sha256Hex(key2))!;
    expect(life(row2)).toBeGreaterThanOrEqual(3 * HOUR);
    expect(Date.parse(row2.expires!)).toBeGreaterThan(Date.parse(row1!.expires!));
    expect(await chat(key2)).toBe(200);

    // Two more runs: the same key; the retired one is deleted once its 30-minute grace is over.
    for (const _ of [1, 2]) {
      proxy.advanceClock(25 * MIN);
      proxy.resetRequests();
      const later = await run();
      expect(later.code, later.stderr).toBe(0);
      expect(await agentKey()).toBe(key2);
      expect(generated()).toBe(0);
    }
    expect(proxy.keys().map((k) => k.token)).toEqual([sha256Hex(key2)]);
    expect(await chat(key2)).toBe(200);
  });

  it('--check names both settings and the expiry the proxy chose for a key an older bootstrap left inside its window; a run keeps the key and ends it', async () => {
    const boundary = twentyMinutesBeforeABoundary();
    // What an older bootstrap left: the key as the proxy issued it, expiring at the boundary.
    const res = await fetch(`${proxy.url}/key/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ key_alias: ALIAS, models: ['openai/gpt-4o-mini'], user_id: 'task-agent', duration: '3h', key_type: 'llm_api', metadata: { provisioned_by: 'llm-proxy-bootstrap', bootstrap_alias: ALIAS } }),
    });
    const { key: old, expires } = (await res.json()) as { key: string; expires: string };
    secretsSeen.add(old);
    expect(Date.parse(expires)).toBe(boundary - (boundary % 1000));
    await dir.write(template(old));
    expect((await run(['--mirror-only'])).code).toBe(0);

    const check = await run(['--check']);
    expect(check.code, check.stdout).toBe(5);
    const steps = check.stdout.split('\n').filter((l) => l.startsWith('- '));
    expect(steps).toHaveLength(1);
    expect(steps[0]).toMatch(
      new RegExp(
        `^- update key "task-agent default": expiry \\(the proxy chose ${new Date(boundary).toISOString().slice(0, 19)}\\S*, within LITELLM_DEFAULT_KEY_RENEW_BEFORE 2h of the key's issue, so a renewal would not move it later; the key is kept and gets its exact LITELLM_DEFAULT_KEY_DURATION 3h\\)$`,
      ),
    );

    const fix = await run();
    expect(fix.code, fix.stderr).toBe(0);
    expect(await agentKey()).toBe(old);
    expect(generated()).toBe(1); // the older bootstrap's, none since
    const [row] = proxy.keys();
    expect(Date.parse(row!.expires!)).toBeGreaterThanOrEqual(boundary + 2 * HOUR);
    expect((await run(['--check'])).code).toBe(0);
    proxy.advanceClock(30 * MIN);
    expect((await run()).code).toBe(0);
    expect(await agentKey()).toBe(old);
    expect(proxy.keys()).toHaveLength(1);
  });
});
