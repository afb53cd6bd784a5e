/**
 * The proxy's own key policy, as a user meets it: what the proxy tells before anything changes
 * (its version: month durations on 1.77) is refused locally with exit 2; what it tells only when it
 * refuses (its upper bounds, an operator's key hook) is exit 4 naming the proxy's setting, with
 * the keys issued before the refusal written to .env. The built CLI, real files, the stand-in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256Hex } from '../support/litellm-stand-in.ts';
import { allOutput, valueOf } from '../support/cli.ts';
import { scenarioLab } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-policy-4c8e2a7f1b';
const UPSTREAM = 'sk-proj-POLICYupstreamSECRET0123456789abcdefgh';
const secretsSeen = new Set<string>([MASTER, UPSTREAM]);

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

afterEach(() => {
  for (const out of allOutput) for (const secret of secretsSeen) if (secret) expect(out).not.toContain(secret);
});

describe('a key duration in months (LITELLM_DEFAULT_KEY_DURATION=2mo)', () => {
  it('LiteLLM 1.77 (its version says so) takes only 1mo: exit 2 before any write, naming the setting and the version, saying to use days', async () => {
    await startProxy({ flavor: '1.77' });
    await dir.write(template('LITELLM_DEFAULT_KEY_DURATION=2mo'));
    const r = await run();
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/LITELLM_DEFAULT_KEY_DURATION 2mo: the proxy \(LiteLLM 1\.77\.2\) issues keys for months only as 1mo/);
    expect(r.stderr).toMatch(/use days instead, e\.g\. 60d/);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(0);
    expect(proxy.keys()).toHaveLength(0);
    expect(await dir.read()).toBe(template('LITELLM_DEFAULT_KEY_DURATION=2mo'));
  });

  it.each(['--check', '--dry-run'])('%s on LiteLLM 1.77 gives the same refusal as the run would (exit 2, the same line), prints no plan, changes nothing', async (flag) => {
    await startProxy({ flavor: '1.77' });
    await dir.write(template('LITELLM_DEFAULT_KEY_DURATION=2mo'));
    const applying = await run();
    expect(applying.code, applying.stderr).toBe(2);
    const r = await run([flag]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toBe(applying.last);
    expect(r.last).toMatch(/LITELLM_DEFAULT_KEY_DURATION 2mo: the proxy \(LiteLLM 1\.77\.2\) issues keys for months only as 1mo/);
    expect(r.stderr).toMatch(/use days instead, e\.g\. 60d/);
    expect(r.stdout).not.toMatch(/Plan/);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(0);
    expect(await dir.read()).toBe(template('LITELLM_DEFAULT_KEY_DURATION=2mo'));
    // Days instead, as the line says: the plan is printed (exit 5 for --check: a key to issue), and the run issues it.
    const days = await run([flag], { LITELLM_DEFAULT_KEY_DURATION: '60d' });
    expect(days.code, days.stderr).toBe(flag === '--check' ? 5 : 0);
    expect(days.stdout).toMatch(/Plan \(\d+ step\(s\)\)/);
  });

  it('a newer LiteLLM issues it: the key lives two calendar months; the warm run after stays two requests', async () => {
    await startProxy({ flavor: 'current' });
    await dir.write(template('LITELLM_DEFAULT_KEY_DURATION=2mo'));
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const key = await agentKey();
    const row = proxy.keys().find((k) => k.token === sha256Hex(key))!;
    // Two calendar months: 59 to 62 days, to the second of its issue.
    const created = new Date(row.created_at);
    const expires = new Date(row.expires!);
    const days = (expires.getTime() - created.getTime()) / 86_400_000;
    expect(days).toBeGreaterThanOrEqual(59);
    expect(days).toBeLessThanOrEqual(62);
    expect(expires.getUTCMonth()).toBe((created.getUTCMonth() + 2) % 12);
    expect(expires.toISOString().slice(11)).toBe(created.toISOString().slice(11));
    expect(await chat(key)).toBe(200);
    proxy.resetRequests();
    expect((await run()).code).toBe(0);
    expect(proxy.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /key/info', 'GET /model/info']);
  });
});

describe("refusals the proxy's policy gives only when asked", () => {
  it("a budget over the proxy's upper bound: exit 4 naming upperbound_key_generate_params; the key issued before it is in .env and works", async () => {
    await startProxy({ keyPolicy: { upperbound: { max_budget: 10 } } });
    await writeFile(
      path.join(dir.dir, 'keys.yaml'),
      'keys:\n  - alias: task-agent\n    env: OPENAI_API_KEY\n    max_budget: 5\n  - alias: memory service\n    env: MEMORY_API_KEY\n    max_budget: 50\n',
    );
    const r = await run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml', LITELLM_MAX_CONCURRENCY: '1' });
    expect(r.code, r.stderr).toBe(4);
    expect(r.last).toMatch(/the proxy's litellm_settings\.upperbound_key_generate_params refuses it \(.*max_budget is over max limit set in config - user_value=50\.?0?; max_value=10/);
    expect(r.last).not.toMatch(/LITELLM_MASTER_KEY/);
    // What was issued is what .env holds: one key, working; nothing for the refused one.
    const env = await dir.read();
    const agent = valueOf(env, 'OPENAI_API_KEY')!;
    secretsSeen.add(agent);
    expect(proxy.keys().map((k) => k.token)).toEqual([sha256Hex(agent)]);
    expect(await chat(agent)).toBe(200);
    expect(valueOf(env, 'MEMORY_API_KEY') ?? '').toBe('');
  });

  it("an operator's custom_key_generate hook refusing new keys: exit 4 naming the proxy's policy, not the master key; .env unchanged", async () => {
    await startProxy({ keyPolicy: { customKeyGenerateDenial: 'keys are issued by the platform team only' } });
    const r = await run();
    expect(r.code, r.stderr).toBe(4);
    expect(r.last).toMatch(/the proxy's own key policy refused it \(general_settings\.custom_key_generate, custom_key_update or custom_key_policy\): keys are issued by the platform team only/);
    expect(r.last).not.toMatch(/rejected LITELLM_MASTER_KEY/);
    expect(await dir.read()).toBe(template());
    expect(proxy.keys()).toHaveLength(0);
  });
});
