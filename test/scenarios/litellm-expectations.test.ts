/**
 * The user's stories against a proxy that behaves like real LiteLLM where our
 * stand-in used to be kinder: alias rules, month budgets, wildcard model names,
 * key updates that must reach LiteLLM's key cache, keys that vanish meanwhile,
 * the readiness "Not connected" state and the master-key lockout. The built CLI
 * as a process, real files, the stand-in on loopback.
 */
import { describe, expect, it } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256Hex } from '../support/litellm-stand-in.ts';
import { WatchedSecrets } from '../support/cli.ts';
import { messages, scenarioLab } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-expect-5d1c8e2a9b';
const UPSTREAM = 'sk-proj-EXPECTATIONSupstreamSECRET0123456789abcd';
/** Every run of this file fails if it prints any 8-character piece of one of these (support/cli.ts). */
const secretsSeen = new WatchedSecrets([MASTER, UPSTREAM]);

const template = (extra = '') => `# LLM proxy settings
LITELLM_MASTER_KEY=${MASTER}
LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini
LITELLM_OPENAI_API_KEY=${UPSTREAM}
${extra}
# The agent's key, written by the bootstrap
OPENAI_API_KEY=sk-proxy-default
LITELLM_SALT_KEY=sk-salt-expect-0b9c7d1e2f
`;

const lab = scenarioLab({
  template: template(),
  // The shipped volumes/litellm/proxy_config.yaml: provider wildcards.
  proxy: { masterKey: MASTER, models: ['openai/*', 'anthropic/*'], upstreamEnv: { OPENAI_API_KEY: 'sk-upstream-openai-not-real-0123456789', ANTHROPIC_API_KEY: 'sk-ant-upstream-not-real-0123456789' }, upstreamKeys: ['sk-upstream-openai-not-real-0123456789', 'sk-ant-upstream-not-real-0123456789'] },
  secrets: secretsSeen,
});
const { proxy, dir, startProxy, run, agentKey, chat } = lab;

describe('a proxy that checks key aliases', () => {
  it('refuses the default alias "task-agent default": exit 2 at once naming LITELLM_DEFAULT_KEY_ALIAS and quoting the rule; nothing changed, no key left', async () => {
    await startProxy({ flavor: 'current', keyAliasPattern: 'builtin' });
    const r = await run();
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain('LITELLM_DEFAULT_KEY_ALIAS "task-agent default" is refused by the proxy');
    expect(r.last).toContain('Invalid key_alias format. Must be 2-255 characters, start/end with alphanumeric');
    expect(r.last).toContain('e.g. "task-agent-default"');
    // No retries: one attempt at issuing.
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(1);
    expect(messages(r)).not.toContain('retrying');
    expect(await dir.read()).toBe(template());
    expect(proxy.keys()).toHaveLength(0);
    expect((await readdir(dir.dir)).filter((f) => f.includes('backup'))).toEqual([]);
  });

  it("names the .env line, and an operator's key_alias_pattern is quoted as the proxy states it", async () => {
    await startProxy({ flavor: 'current', keyAliasPattern: '[a-z0-9]+(-[a-z0-9]+)*' });
    await dir.write(template('LITELLM_DEFAULT_KEY_ALIAS=Task Agent'));
    const r = await run();
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/LITELLM_DEFAULT_KEY_ALIAS \(.*\.env line 5\) "Task Agent" is refused/);
    expect(r.last).toContain('match the configured key_alias_pattern: [a-z0-9]+(-[a-z0-9]+)*');
    expect(proxy.keys()).toHaveLength(0);
  });

  it('names the keys-file line of a refused alias', async () => {
    await startProxy({ flavor: 'current', keyAliasPattern: 'builtin' });
    await writeFile(path.join(dir.dir, 'keys.yaml'), 'keys:\n  - alias: task-agent\n    env: OPENAI_API_KEY\n  - alias: memory service\n    env: MEMORY_API_KEY\n');
    const r = await run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/the alias at .*keys\.yaml line 4 "memory service" is refused/);
  });

  it('--rotate works under the check for a valid alias: the new key never carries an alias of our own making', async () => {
    await startProxy({ flavor: 'current', keyAliasPattern: 'builtin' });
    await dir.write(template('LITELLM_DEFAULT_KEY_ALIAS=task-agent-default'));
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    proxy.resetRequests();
    const r = await run(['--rotate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/rotated key "task-agent-default"/);
    const key = await agentKey();
    expect(key).not.toBe(old);
    expect(await chat(key)).toBe(200);
    expect(await chat(old)).toBe(401);
    const rows = proxy.keys();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ token: sha256Hex(key), key_alias: 'task-agent-default' });
    // The rotation's mark is gone with the rename.
    expect(rows[0]!.metadata).toEqual({ provisioned_by: 'llm-proxy-bootstrap', bootstrap_alias: 'task-agent-default', bootstrap_installation: expect.stringMatching(/^env-/) });
    // No request of the bootstrap's was refused (but the one /key/{hash}/regenerate an unlicensed proxy refuses).
    expect(proxy.requests.filter((q) => q.status >= 400 && q.path.startsWith('/key/')).map((q) => q.path.replace(/[0-9a-f]{64}/, '<hash>'))).toEqual(['/key/<hash>/regenerate']);
    // Under an operator's pattern too.
    await startProxy({ flavor: 'current', keyAliasPattern: '[a-z]+(-[a-z]+)*' });
    await dir.write(template('LITELLM_DEFAULT_KEY_ALIAS=task-agent-default'));
    expect((await run()).code).toBe(0);
    const again = await run(['--rotate']);
    expect(again.code, again.stderr).toBe(0);
    expect(proxy.keys().map((k) => k.key_alias)).toEqual(['task-agent-default']);
  });

  it('a rule set after the key was named: --rotate puts the new key in place, then exits 2 naming the setting; the key works', async () => {
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    // The operator turns the check on later: the key keeps its alias (an unchanged alias is not checked).
    const keys = proxy.keys();
    await startProxy({ flavor: 'current', keyAliasPattern: 'builtin' });
    for (const k of keys) proxy.addKey({ key: old, key_alias: k.key_alias, models: k.models, user_id: k.user_id, metadata: k.metadata });
    expect((await run()).code).toBe(0);
    const r = await run(['--rotate']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain('LITELLM_DEFAULT_KEY_ALIAS "task-agent default" is refused');
    const key = await agentKey();
    expect(key).not.toBe(old);
    expect(await chat(key)).toBe(200);
    expect(await chat(old)).toBe(401);
    expect(proxy.keys()).toHaveLength(1);
    // Once the alias is one the rule accepts, the unnamed key (ours: the ledger knows it) takes it.
    await dir.write((await dir.read()).replace('LITELLM_OPENAI_API_KEY=', 'LITELLM_DEFAULT_KEY_ALIAS=task-agent-default\nLITELLM_OPENAI_API_KEY='));
    const fixed = await run(['--rotate']);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(proxy.keys().map((k) => k.key_alias)).toEqual(['task-agent-default']);
    expect(await agentKey()).toBe(key);
    expect(await chat(key)).toBe(200);
    expect((await run(['--rotate'])).code).toBe(0);
    expect(await agentKey()).not.toBe(key);
    expect(proxy.keys().map((k) => k.key_alias)).toEqual(['task-agent-default']);
  });

  it('a rotation killed after issuing leaves an unaliased, marked key that the next --rotate removes', async () => {
    await dir.write(template('LITELLM_DEFAULT_KEY_ALIAS=task-agent-default'));
    expect((await run()).code).toBe(0);
    // What a kill between /key/generate and the .env write leaves behind (it carries this directory's installation id).
    const { installation } = JSON.parse(await readFile(path.join(dir.dir, '.llm-proxy-bootstrap.json'), 'utf8')) as { installation: string };
    proxy.addKey({ user_id: 'task-agent', metadata: { provisioned_by: 'llm-proxy-bootstrap', bootstrap_alias: 'task-agent-default', bootstrap_rotation: 'pending', bootstrap_installation: installation } });
    expect((await run()).code).toBe(0);
    expect(proxy.keys()).toHaveLength(2);
    const r = await run(['--rotate']);
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.keys()).toHaveLength(1);
    expect(proxy.keys()[0]!.token).toBe(sha256Hex(await agentKey()));
  });
});

describe('month budgets', () => {
  it('LITELLM_DEFAULT_KEY_BUDGET_DURATION=2mo: exit 2 naming the setting, before any request to the proxy', async () => {
    await dir.write(template('LITELLM_DEFAULT_KEY_BUDGET=5\nLITELLM_DEFAULT_KEY_BUDGET_DURATION=2mo'));
    const r = await run();
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/LITELLM_DEFAULT_KEY_BUDGET_DURATION \(.*\.env line 6\) can only use months as 1mo/);
    expect(proxy.requestCount()).toBe(0);
  });

  it('a keys file with budget_duration: 2mo: exit 2 naming its line, before any request', async () => {
    await writeFile(path.join(dir.dir, 'keys.yaml'), 'keys:\n  - alias: task-agent\n    env: OPENAI_API_KEY\n    max_budget: 5\n    budget_duration: 2mo\n');
    const r = await run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/keys\.yaml: line 5: keys\.0\.budget_duration can only use months as 1mo/);
    expect(proxy.requestCount()).toBe(0);
  });

  it('spellings LiteLLM would misread are refused too (30days would reset at midnight)', async () => {
    const r = await run([], { LITELLM_DEFAULT_KEY_BUDGET: '5', LITELLM_DEFAULT_KEY_BUDGET_DURATION: '30days', LITELLM_DEFAULT_KEY_DURATION: '0d' });
    expect(r.code).toBe(2);
    expect(r.last).toContain('LITELLM_DEFAULT_KEY_BUDGET_DURATION must be a number and a unit');
    expect(r.last).toContain('LITELLM_DEFAULT_KEY_DURATION must be more than 0');
    expect(proxy.requestCount()).toBe(0);
  });

  it('1mo is issued, and a 500 that states a validation error is not retried as if the proxy were down', async () => {
    const ok = await run([], { LITELLM_DEFAULT_KEY_BUDGET: '5', LITELLM_DEFAULT_KEY_BUDGET_DURATION: '1mo' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(proxy.keys()[0]).toMatchObject({ max_budget: 5, budget_duration: '1mo' });
    // A proxy refusing what it was sent with a 500 (LiteLLM's /key/generate for 2mo).
    await dir.write(template());
    proxy.failNext(1, {
      status: 500,
      path: '/key/generate',
      body: { error: { message: 'Monthly resets currently only support 1 month intervals', type: 'internal_server_error', param: 'None', code: '500' } },
    });
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.last).toContain('Monthly resets currently only support 1 month intervals');
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(2);
    expect(messages(r)).not.toContain('retrying');
  });
});

describe('wildcard model names', () => {
  it('the shipped config (openai/*) serves openai/gpt-4o-mini: no "not served" warning, and the agent can call it', async () => {
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).not.toContain('not served');
    expect(r.logs.filter((l) => (l.level === 'warn' || l.level === 40) && !/readable by every user/.test(String(l.msg)))).toEqual([]); // (the fixture's .env is 0644 in a 0755 directory: that warning is right)
    expect(await chat(await agentKey())).toBe(200);
  });

  it('a model no route serves still gets the warning', async () => {
    const r = await run([], { LITELLM_DEFAULT_MODELS: 'mistral/mistral-large' });
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toContain('model "mistral/mistral-large" of key "task-agent default" is not served by the proxy');
    await agentKey();
  });
});

describe('updates LiteLLM applies at once', () => {
  it('a models change is sent by the raw key (LiteLLM clears its cache for the key as sent), which appears in no output', async () => {
    expect((await run()).code).toBe(0);
    const key = await agentKey();
    proxy.resetRequests();
    const r = await run([], { LITELLM_DEFAULT_MODELS: 'anthropic/claude-3-5-sonnet' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/updated key "task-agent default"/);
    const updates = proxy.requests.filter((q) => q.path === '/key/update');
    expect(updates.map((q) => q.sent)).toEqual([{ key: 'raw', token: sha256Hex(key), fields: ['key', 'models'] }]);
    expect(await chat(key, 'anthropic/claude-3-5-sonnet')).toBe(200);
    expect(await chat(key)).toBe(401);
    expect(r.stdout + r.stderr).not.toContain(key);
  });

  it('a key deleted meanwhile (401 from /key/update) is looked up again and replaced, not blamed on the master key', async () => {
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    proxy.onNext('/key/update', () => proxy.wipe());
    const r = await run([], { LITELLM_DEFAULT_MODELS: 'anthropic/claude-3-5-sonnet' });
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toContain('is gone from the proxy since it was looked at; issuing a new one');
    expect(r.last).not.toMatch(/LITELLM_MASTER_KEY/);
    const key = await agentKey();
    expect(key).not.toBe(old);
    expect(await chat(key, 'anthropic/claude-3-5-sonnet')).toBe(200);
    expect(proxy.keys().map((k) => k.key_alias)).toEqual(['task-agent default']);
  });
});

describe('honest messages', () => {
  it('readiness db "Not connected": says both causes (no database configured, or its first connection failed)', async () => {
    proxy.setDb('Not connected');
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.last).toContain('no database is configured');
    expect(r.last).toContain('first connection to the database failed although DATABASE_URL is set');
    expect(await dir.read()).toBe(template());
  });

  it("the master-key lockout (a weak master key): exit 4 saying so, not 'wrong master key'", async () => {
    await startProxy({ flavor: 'current', masterKeyLockout: true });
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.last).toContain('until its master key is a strong one');
    expect(r.last).not.toContain('rejected LITELLM_MASTER_KEY');
    expect(await dir.read()).toBe(template());
  });

  it('an expired key is replaced whether the proxy answers 400 expired_key (older) or 401 (newest)', async () => {
    await startProxy({ expiredKeyStatus: 400 });
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    proxy.expireKey(old);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/replaced key/);
    expect(await chat(await agentKey())).toBe(200);
  });
});
