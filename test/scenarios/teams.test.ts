/**
 * Teams and users declared in the keys file, as a user sees them: created, reconciled in place
 * (same team_id, the keys kept working), removed after their keys when dropped, never a team or
 * user this installation did not make; a key naming a team nobody has is refused before anything
 * is written; --check and --dry-run show the team and user steps; a warm run writes nothing. The
 * built CLI as a process, real files, the stand-in on loopback (both flavours: vitest.config.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { allOutput } from '../support/cli.ts';
import { scenarioLab } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-teams-5d1c9e7a2b';
const UPSTREAM = 'sk-proj-TEAMSupstreamSECRET0123456789abcdefgh';
const secretsSeen = new Set<string>([MASTER, UPSTREAM]);

const template = `# LLM proxy settings
LITELLM_MASTER_KEY=${MASTER}
LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini
LITELLM_OPENAI_API_KEY=${UPSTREAM}
OPENAI_API_KEY=sk-proxy-default
`;

const lab = scenarioLab({
  template,
  proxy: { masterKey: MASTER, models: ['openai/*'], upstreamEnv: { OPENAI_API_KEY: 'sk-upstream-openai-not-real-0123456789' }, upstreamKeys: ['sk-upstream-openai-not-real-0123456789'] },
  secrets: secretsSeen,
});
const { proxy, dir, run, agentKey, chat } = lab;
const withKeys = { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' };
const declare = (yaml: string) => writeFile(path.join(dir.dir, 'keys.yaml'), yaml);

interface Team {
  team_id: string;
  team_alias: string | null;
  max_budget: number | null;
  models: string[];
  metadata: Record<string, unknown>;
}
interface User {
  user_id: string;
  max_budget: number | null;
  metadata: Record<string, unknown>;
}

/** What an operator sees in LiteLLM: the master key's calls. */
async function operator<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${proxy.url}${route}`, { method, headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as T;
}
const teams = () => operator<Team[]>('GET', '/team/list');
const users = async () => (await operator<{ users: User[] }>('GET', '/user/list?page_size=100')).users;
const teamOf = async (alias: string) => (await teams()).filter((t) => t.team_alias === alias);
const writes = () => proxy.requests.filter((r) => r.method === 'POST').length;

const RESEARCH = `teams:
  - alias: research
    models: [openai/gpt-4o-mini, openai/gpt-5]
    max_budget: 25
    budget_duration: 30d
    tpm_limit: 50000
keys:
  - alias: researcher-1
    env: RESEARCH_KEY
    team: research
    models: [openai/gpt-4o-mini]
`;

afterEach(() => {
  for (const out of allOutput) for (const secret of secretsSeen) if (secret) expect(out).not.toContain(secret);
});

describe('teams declared in the keys file', () => {
  it('created with the key in it; a warm run writes nothing; an edit is applied in place (same team_id, the key kept working)', async () => {
    await declare(RESEARCH);
    const first = await run([], withKeys);
    expect(first.code, first.stderr).toBe(0);
    expect(first.last).toMatch(/created team "research"/);
    const [team] = await teamOf('research');
    expect(team).toMatchObject({ max_budget: 25, models: ['openai/gpt-4o-mini', 'openai/gpt-5'] });
    const key = await agentKey('RESEARCH_KEY');
    expect(proxy.keys().find((k) => k.key_alias === 'researcher-1')!.team_id).toBe(team!.team_id);
    expect(await chat(key)).toBe(200);

    proxy.resetRequests();
    const warm = await run([], withKeys);
    expect(warm.code, warm.stderr).toBe(0);
    expect(writes()).toBe(0);
    expect((await run(['--check'], withKeys)).code).toBe(0);

    await declare(RESEARCH.replace('max_budget: 25', 'max_budget: 40').replace('[openai/gpt-4o-mini, openai/gpt-5]', '[openai/gpt-4o-mini]'));
    const check = await run(['--check'], withKeys);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/update team "research": models, max_budget/);
    const edited = await run([], withKeys);
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.last).toMatch(/updated team "research"/);
    const after = await teamOf('research');
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ team_id: team!.team_id, max_budget: 40, models: ['openai/gpt-4o-mini'] });
    expect(await agentKey('RESEARCH_KEY')).toBe(key);
    expect(await chat(key)).toBe(200);
  });

  it('dropped from the file: its key revoked first, then the team removed; a hand-made team survives', async () => {
    await operator('POST', '/team/new', { team_alias: 'ops (by hand)' });
    await declare(RESEARCH);
    expect((await run([], withKeys)).code).toBe(0);
    const key = await agentKey('RESEARCH_KEY');
    await declare('teams: []\nkeys:\n  - alias: other\n    env: OTHER_KEY\n    models: [openai/gpt-4o-mini]\n');
    const dry = await run(['--dry-run'], withKeys);
    expect(dry.stdout).toMatch(/remove team "research"/);
    expect(dry.stdout).toMatch(/retire key "researcher-1"/);
    const r = await run([], withKeys);
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/revoked and deleted the key\(s\) of "researcher-1"/);
    expect(r.last).toMatch(/removed team "research"/);
    expect(await chat(key)).toBe(401);
    expect((await teams()).map((t) => t.team_alias)).toEqual(['ops (by hand)']);
    expect(await chat(await agentKey('OTHER_KEY'))).toBe(200);
  });

  it('a key moved to another team is reissued there (LiteLLM moves a key only for a team member), the old team removed after it', async () => {
    await declare(RESEARCH);
    expect((await run([], withKeys)).code).toBe(0);
    const old = await agentKey('RESEARCH_KEY');
    await declare(RESEARCH.replace('  - alias: research\n', '  - alias: science\n').replace('team: research', 'team: science'));
    const check = await run(['--check'], withKeys);
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/move key "researcher-1" into team "science"/);
    const r = await run([], withKeys);
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/moved key "researcher-1"/);
    const key = await agentKey('RESEARCH_KEY');
    expect(key).not.toBe(old);
    expect(await chat(key)).toBe(200);
    expect(await chat(old)).toBe(401);
    const [science] = await teamOf('science');
    expect(proxy.keys().filter((k) => k.key_alias === 'researcher-1').map((k) => k.team_id)).toEqual([science!.team_id]);
    expect(await teamOf('research')).toEqual([]);
    expect((await run(['--check'], withKeys)).code).toBe(0);
  });

  it('an alias held by a team this installation did not make: exit 2 naming the line, nothing written; --take-over-alias adopts it in place', async () => {
    const made = await operator<{ team_id: string }>('POST', '/team/new', { team_alias: 'research', max_budget: 5 });
    await declare(RESEARCH);
    const before = await dir.read();
    proxy.resetRequests();
    const refused = await run([], withKeys);
    expect(refused.code).toBe(2);
    expect(refused.last).toMatch(/keys\.yaml line 2: team alias "research" is held by a team this installation did not create/);
    expect(refused.stderr).toMatch(/--take-over-alias/);
    expect(writes()).toBe(0);
    expect(await dir.read()).toBe(before);
    expect((await teamOf('research'))[0]).toMatchObject({ team_id: made.team_id, max_budget: 5 });
    const taken = await run(['--take-over-alias'], withKeys);
    expect(taken.code, taken.stderr).toBe(0);
    expect(await teamOf('research')).toEqual([expect.objectContaining({ team_id: made.team_id, max_budget: 25 })]);
    expect((await run(['--check'], withKeys)).code).toBe(0);
  });

  it('a key joining a team nobody declared nor made: exit 2 naming the line, before any write; a team made by hand may be joined by its alias', async () => {
    await declare('keys:\n  - alias: researcher-1\n    env: RESEARCH_KEY\n    team: nowhere\n    models: [openai/gpt-4o-mini]\n');
    const before = await dir.read();
    proxy.resetRequests();
    const r = await run([], withKeys);
    expect(r.code).toBe(2);
    expect(r.last).toMatch(/keys\.yaml line 4: key "researcher-1" joins team "nowhere", which is neither declared/);
    expect(writes()).toBe(0);
    expect(await dir.read()).toBe(before);
    const made = await operator<{ team_id: string }>('POST', '/team/new', { team_alias: 'nowhere' });
    const joined = await run([], withKeys);
    expect(joined.code, joined.stderr).toBe(0);
    expect(proxy.keys().find((k) => k.key_alias === 'researcher-1')!.team_id).toBe(made.team_id);
    expect((await teamOf('nowhere'))[0]!.team_id).toBe(made.team_id);
  });

  it('another stack declaring the same team alias is refused; each stack keeps its own team', async () => {
    await declare(RESEARCH);
    expect((await run([], withKeys)).code).toBe(0);
    // A second env directory, as after losing this one (no ledger): another installation.
    await rm(path.join(dir.dir, '.llm-proxy-bootstrap.json'));
    await dir.write(template);
    const second = await run([], withKeys);
    expect(second.code).toBe(2);
    expect(second.last).toMatch(/team alias "research" is held by another installation of the bootstrap \(env-/);
    expect(await teamOf('research')).toHaveLength(1);
  });
});

describe('users declared in the keys file', () => {
  const USERS = `users:
  - user_id: alice
    max_budget: 10
    budget_duration: 30d
    tpm_limit: 1000
keys:
  - alias: alice-key
    env: ALICE_KEY
    user_id: alice
    models: [openai/gpt-4o-mini]
`;

  it('created before the key that joins it, updated in place, removed after its key when dropped; a hand-made user survives', async () => {
    await operator('POST', '/user/new', { user_id: 'bob (by hand)', auto_create_key: false });
    await declare(USERS);
    const dry = await run(['--dry-run'], withKeys);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/create user "alice" \(.*keys\.yaml line 2\)/);
    const check = await run(['--check'], withKeys);
    expect(check.code).toBe(5);
    const first = await run([], withKeys);
    expect(first.code, first.stderr).toBe(0);
    expect(first.last).toMatch(/created user "alice"/);
    const alice = (await users()).find((u) => u.user_id === 'alice')!;
    expect(alice.max_budget).toBe(10);
    expect(typeof alice.metadata['bootstrap_installation']).toBe('string');
    const key = await agentKey('ALICE_KEY');
    expect(proxy.keys().find((k) => k.key_alias === 'alice-key')!.user_id).toBe('alice');
    expect(await chat(key)).toBe(200);

    proxy.resetRequests();
    expect((await run([], withKeys)).code).toBe(0);
    expect(writes()).toBe(0);

    await declare(USERS.replace('max_budget: 10', 'max_budget: 12'));
    const edited = await run([], withKeys);
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.last).toMatch(/updated user "alice"/);
    expect((await users()).find((u) => u.user_id === 'alice')!.max_budget).toBe(12);
    expect(await agentKey('ALICE_KEY')).toBe(key);

    await declare('users: []\nkeys:\n  - alias: other\n    env: OTHER_KEY\n    models: [openai/gpt-4o-mini]\n');
    const dropped = await run([], withKeys);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.last).toMatch(/removed user "alice"/);
    expect(await chat(key)).toBe(401);
    const left = (await users()).map((u) => u.user_id);
    expect(left).not.toContain('alice');
    expect(left).toContain('bob (by hand)');
    expect(await dir.read()).toMatch(/^ALICE_KEY=$/m);
  });

  it('a user_id held by a user this installation did not make: exit 2 naming the line, nothing written', async () => {
    await operator('POST', '/user/new', { user_id: 'alice', max_budget: 3, auto_create_key: false });
    await declare(USERS);
    proxy.resetRequests();
    const r = await run([], withKeys);
    expect(r.code).toBe(2);
    expect(r.last).toMatch(/keys\.yaml line 2: user_id "alice" is a user of a user this installation did not create/);
    expect(writes()).toBe(0);
    expect((await users()).find((u) => u.user_id === 'alice')!.max_budget).toBe(3);
  });
});

describe('the default single-key stack', () => {
  it('asks nothing about teams or users: a warm run stays at two requests', async () => {
    expect((await run()).code).toBe(0);
    proxy.resetRequests();
    const warm = await run();
    expect(warm.code, warm.stderr).toBe(0);
    expect(proxy.requests.map((r) => r.path)).toEqual(['/key/info', '/model/info']);
  });
});
