/**
 * Ownership, as users sharing one LiteLLM see it: two stacks (two env directories) against one
 * proxy never revoke each other's keys; a key dropped from the keys file is retired; a key made
 * by hand survives everything; a lost env directory takes its alias back only when told to
 * (--take-over-alias). The built CLI as a process, real files, the stand-in on loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256Hex } from '../support/litellm-stand-in.ts';
import { allOutput, envDir, runCli, valueOf, type EnvDir } from '../support/cli.ts';
import { scenarioLab } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-ownership-8c2f4a1e9d';
const UPSTREAM = 'sk-proj-OWNERSHIPupstreamSECRET0123456789abcd';
const secretsSeen = new Set<string>([MASTER, UPSTREAM]);
const ALIAS = 'task-agent default';

const template = `# LLM proxy settings
LITELLM_MASTER_KEY=${MASTER}
LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini
LITELLM_OPENAI_API_KEY=${UPSTREAM}
# The agent's key, written by the bootstrap
OPENAI_API_KEY=sk-proxy-default
`;

const lab = scenarioLab({
  template,
  proxy: { masterKey: MASTER, models: ['openai/*'], upstreamEnv: { OPENAI_API_KEY: 'sk-upstream-openai-not-real-0123456789' }, upstreamKeys: ['sk-upstream-openai-not-real-0123456789'] },
  secrets: secretsSeen,
});
const { proxy, dir, run, agentKey, chat } = lab;

/** A management call as the master key (what an operator does in LiteLLM's UI). */
async function asOperator(route: string, body: unknown): Promise<void> {
  const res = await fetch(`${proxy.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.text()).toBe(200);
}

/** A second stack's env directory (staging, another checkout) against the same proxy. */
const others: EnvDir[] = [];
async function secondStack(): Promise<{ dir: EnvDir; run: (args?: string[], extra?: Record<string, string>) => ReturnType<typeof runCli>; key: (name?: string) => Promise<string> }> {
  const d = await envDir(template);
  others.push(d);
  return {
    dir: d,
    run: (args = [], extra = {}) => runCli(args, { env: { ENV_FILE_PATH: d.env, LITELLM_ENV_FILE_PATH: d.litellm, PROXY_BASE_URL: proxy.url, LITELLM_PROXY_WAIT_SECONDS: '10', ...extra } }),
    key: async (name = 'OPENAI_API_KEY') => {
      const k = valueOf(await d.read(), name) ?? '';
      secretsSeen.add(k);
      return k;
    },
  };
}

afterEach(async () => {
  for (const d of others.splice(0)) await d.cleanup();
  for (const out of allOutput) for (const secret of secretsSeen) if (secret) expect(out).not.toContain(secret);
});

describe('two stacks on one proxy', () => {
  it('the second stack with the same alias is refused (exit 2, naming LITELLM_DEFAULT_KEY_ALIAS and the remedy); the first keeps its key', async () => {
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    const devKey = await agentKey();
    const staging = await secondStack();
    const second = await staging.run();
    expect(second.code, second.stderr).toBe(2);
    expect(second.last).toMatch(/LITELLM_DEFAULT_KEY_ALIAS/);
    expect(second.last).toMatch(/another installation/);
    expect(second.stderr).toMatch(/--take-over-alias/);
    // Nothing was revoked: the first stack's agent still works, nothing was written to the second's .env.
    expect(await chat(devKey)).toBe(200);
    expect(valueOf(await staging.dir.read(), 'OPENAI_API_KEY')).toBe('sk-proxy-default');
    // --check says the same without writing.
    const check = await staging.run(['--check']);
    expect(check.code).toBe(2);
  });

  it('with different aliases, both keep working after many alternating runs', async () => {
    const staging = await secondStack();
    for (let i = 0; i < 4; i++) {
      const a = await run();
      expect(a.code, a.stderr).toBe(0);
      const b = await staging.run([], { LITELLM_DEFAULT_KEY_ALIAS: 'task-agent staging' });
      expect(b.code, b.stderr).toBe(0);
    }
    const devKey = await agentKey();
    const stagingKey = await staging.key();
    expect(devKey).not.toBe(stagingKey);
    expect(await chat(devKey)).toBe(200);
    expect(await chat(stagingKey)).toBe(200);
    expect(proxy.keys()).toHaveLength(2);
    // Each key carries the installation that issued it, and they differ.
    const [a, b] = [sha256Hex(devKey), sha256Hex(stagingKey)].map((t) => proxy.keys().find((k) => k.token === t)!.metadata.bootstrap_installation);
    expect(typeof a).toBe('string');
    expect(a).not.toBe(b);
  });

  it('a .env restored from the template (the ledger kept) converges as before: the old key replaced', async () => {
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    await dir.write(template);
    const again = await run();
    expect(again.code, again.stderr).toBe(0);
    const key = await agentKey();
    expect(key).not.toBe(old);
    expect(await chat(key)).toBe(200);
    expect(proxy.keys().filter((k) => k.key_alias === ALIAS)).toHaveLength(1);
  });

  it('a whole env directory lost: a clear refusal; --take-over-alias takes the alias back', async () => {
    expect((await run()).code).toBe(0);
    const old = await agentKey();
    // The directory is gone: a fresh one from the template, no ledger.
    await rm(path.join(dir.dir, '.llm-proxy-bootstrap.json'));
    await dir.write(template);
    const refused = await run();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--take-over-alias/);
    expect(await chat(old)).toBe(200);
    const taken = await run(['--take-over-alias']);
    expect(taken.code, taken.stderr).toBe(0);
    const key = await agentKey();
    expect(await chat(key)).toBe(200);
    expect(await chat(old)).toBe(401);
    // From now on the alias is this directory's: a plain run reuses it.
    const warm = await run();
    expect(warm.code, warm.stderr).toBe(0);
    expect(await agentKey()).toBe(key);
  });

  it('a key issued by an earlier version and recorded in this directory\'s ledger is adopted (metadata added), not replaced', async () => {
    expect((await run()).code).toBe(0);
    const key = await agentKey();
    const row = proxy.keys().find((k) => k.token === sha256Hex(key))!;
    // What an earlier version left: no installation in the key's metadata, none in the ledger.
    const { bootstrap_installation: _, ...legacy } = row.metadata;
    await asOperator('/key/update', { key: row.token, metadata: legacy });
    const ledgerPath = path.join(dir.dir, '.llm-proxy-bootstrap.json');
    const ledger = JSON.parse(await readFile(ledgerPath, 'utf8')) as Record<string, unknown>;
    delete ledger.installation;
    await writeFile(ledgerPath, JSON.stringify(ledger));
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(await agentKey()).toBe(key);
    const after = JSON.parse(await readFile(ledgerPath, 'utf8')) as { installation?: string };
    expect(proxy.keys().find((k) => k.token === sha256Hex(key))!.metadata.bootstrap_installation).toBe(after.installation);
  });
});

describe('keys dropped from the keys file', () => {
  const keysFile = () => path.join(dir.dir, 'keys.yaml');
  const declare = (aliases: string[]) =>
    writeFile(keysFile(), `keys:\n${aliases.map((a) => `  - alias: ${a}\n    env: ${a.toUpperCase().replace(/-/g, '_')}_KEY\n    models: [openai/gpt-4o-mini]\n`).join('')}`);
  const withKeys = { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' };

  it('a key removed from the file: --check exits 5 naming it, --dry-run shows it, a run revokes it and empties its variable; the others keep working', async () => {
    await declare(['researcher-1', 'researcher-2']);
    expect((await run([], withKeys)).code).toBe(0);
    const [one, two] = [await agentKey('RESEARCHER_1_KEY'), await agentKey('RESEARCHER_2_KEY')];
    expect(await chat(two)).toBe(200);
    // The teammate leaves: researcher-2 is dropped from the file.
    await declare(['researcher-1']);
    const before = await dir.read();
    const check = await run(['--check'], withKeys);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/retire key "researcher-2" \(no longer declared\)/);
    const dry = await run(['--dry-run'], withKeys);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/retire key "researcher-2"/);
    expect(await dir.read()).toBe(before);
    expect(await chat(two)).toBe(200);
    const r = await run([], withKeys);
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/revoked and deleted the key\(s\) of "researcher-2"/);
    expect(await chat(two)).toBe(401);
    expect(await chat(one)).toBe(200);
    // The variable stays where it was, emptied; every other line is as it was.
    const after = await dir.read();
    expect(after).toBe(before.replace(`RESEARCHER_2_KEY=${two}`, 'RESEARCHER_2_KEY='));
    // Converged: the next check is clean and the next run asks nothing about the dropped key.
    const clean = await run(['--check'], withKeys);
    expect(clean.code, clean.stdout).toBe(0);
  });

  it('a key made by hand and another installation\'s key survive every run, whatever the file says', async () => {
    // An operator's key (LiteLLM's UI), and a second stack with its own alias.
    const res = await fetch(`${proxy.url}/key/generate`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ key_alias: 'ci bot', models: ['openai/gpt-4o-mini'] }) });
    const handMade = ((await res.json()) as { key: string }).key;
    secretsSeen.add(handMade);
    const staging = await secondStack();
    expect((await staging.run([], { LITELLM_DEFAULT_KEY_ALIAS: 'staging agent' })).code).toBe(0);
    const stagingKey = await staging.key();
    await declare(['researcher-1', 'researcher-2']);
    expect((await run([], withKeys)).code).toBe(0);
    await declare(['researcher-2']);
    expect((await run([], withKeys)).code).toBe(0);
    await declare(['researcher-3']);
    expect((await run([], withKeys)).code).toBe(0);
    // Back to the default key alone: the keys file's keys go too.
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(await chat(handMade)).toBe(200);
    expect(await chat(stagingKey)).toBe(200);
    expect(await chat(await agentKey())).toBe(200);
    expect(proxy.keys().map((k) => k.key_alias).sort()).toEqual(['ci bot', 'staging agent', ALIAS].sort());
  });
});
