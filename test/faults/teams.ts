/**
 * Crash safety of the team and user steps: the CLI is SIGKILLed while it creates, updates or
 * removes teams and users, moves keys between teams (reissued there) and prunes the keys of
 * dropped teams. At the instant of each kill every key still declared works, and nothing of
 * another installation or of a person is touched (a hand-made team with its key, another
 * installation's team, a hand-made user); the next run converges: the declared teams and users
 * exist, every key is in its team, dropped teams and users are gone, and `--check` is clean.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as dotenvParse } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { journal, Lab, MASTER, MODELS_A, rng, sleep, TEMPLATE, until } from './support.ts';

const SETTINGS = { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml', LITELLM_DEFAULT_MODELS: MODELS_A };

interface File {
  teams: { alias: string; budget: number }[];
  users: string[];
  keys: { alias: string; env: string; team?: string; user?: string }[];
}
const AGENT = { alias: 'task-agent default', env: 'OPENAI_API_KEY' };
const START: File = {
  teams: [
    { alias: 'research', budget: 25 },
    { alias: 'science', budget: 10 },
  ],
  users: ['alice', 'bob'],
  keys: [AGENT, { alias: 'memory service', env: 'MEMORY_API_KEY', team: 'research', user: 'alice' }, { alias: 'crawler', env: 'CRAWLER_API_KEY', team: 'science', user: 'bob' }],
};
/** The edits a user makes between runs. */
const EDITS: { name: string; file: File }[] = [
  { name: 'drop a team and its key', file: { teams: [START.teams[0]!], users: START.users, keys: START.keys.slice(0, 2) } },
  { name: 'move a key, drop its team', file: { teams: [START.teams[0]!], users: START.users, keys: [AGENT, START.keys[1]!, { ...START.keys[2]!, team: 'research' }] } },
  { name: 'edit, add a team, move a key into it', file: { teams: [{ alias: 'research', budget: 40 }, START.teams[1]!, { alias: 'lab', budget: 5 }], users: [...START.users, 'carol'], keys: [AGENT, START.keys[1]!, { ...START.keys[2]!, team: 'lab', user: 'carol' }] } },
  { name: 'drop every team and user', file: { teams: [], users: [], keys: [AGENT] } },
];
const yaml = (f: File) =>
  `teams:${f.teams.length ? '' : ' []'}\n${f.teams.map((t) => `  - alias: ${t.alias}\n    max_budget: ${t.budget}\n`).join('')}` +
  `users:${f.users.length ? '' : ' []'}\n${f.users.map((u) => `  - user_id: ${u}\n    max_budget: 10\n`).join('')}` +
  `keys:\n${f.keys.map((k) => `  - alias: ${k.alias}\n    env: ${k.env}\n${k.team ? `    team: ${k.team}\n` : ''}${k.user ? `    user_id: ${k.user}\n` : ''}`).join('')}`;

type Trigger = { kind: 'seen' | 'answered'; path: string; ms: number } | { kind: 'temp'; target: string } | { kind: 'after'; ms: number };

export const teamStats = { kills: 0, finishedBeforeTheKill: 0, converged: 0, violations: [] as string[] };

async function operator<T>(lab: Lab, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${lab.proxy.url}${route}`, { method, headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return (await res.json()) as T;
}
type Team = { team_id: string; team_alias: string | null; max_budget: number | null; metadata: Record<string, unknown> };
const teamsOf = (lab: Lab) => operator<Team[]>(lab, 'GET', '/team/list');
const usersOf = async (lab: Lab) => (await operator<{ users: { user_id: string; max_budget: number | null }[] }>(lab, 'GET', '/user/list?page_size=100')).users;

async function teamCase(lab: Lab, seed: number): Promise<void> {
  const r = rng(seed);
  const where = `[teams seed ${seed}]`;
  const fail = (what: string) => teamStats.violations.push(`${where} ${what}`);
  await lab.reset(TEMPLATE);
  await writeFile(path.join(lab.dir, 'keys.yaml'), yaml(START));
  const first = await lab.run('teams', [], SETTINGS);
  if (first.code !== 0) throw new Error(`${where} converging run failed: ${first.last}`);
  // What others made: a team by hand with a key in it, another installation's team, a user by hand.
  const handTeam = await operator<{ team_id: string }>(lab, 'POST', '/team/new', { team_alias: 'ops' });
  const handKey = (await operator<{ key: string }>(lab, 'POST', '/key/generate', { key_alias: 'ops bot', team_id: handTeam.team_id })).key;
  journal.secrets.add(handKey);
  const otherTeam = await operator<{ team_id: string }>(lab, 'POST', '/team/new', { team_alias: 'staging research', metadata: { provisioned_by: 'llm-proxy-bootstrap', bootstrap_installation: 'env-someone-else' } });
  await operator(lab, 'POST', '/user/new', { user_id: 'dave', auto_create_key: false });
  const edit = r.pick(EDITS);
  await writeFile(path.join(lab.dir, 'keys.yaml'), yaml(edit.file));
  const before = dotenvParse(Buffer.from(await lab.text()));
  for (const v of Object.values(before)) if (v.startsWith('sk-') && v.length === 25) journal.secrets.add(v);

  const trigger: Trigger = r.pick<Trigger>([
    { kind: 'seen', path: '/team/new', ms: r.int(20, 100) },
    { kind: 'answered', path: '/team/update', ms: r.int(0, 15) },
    { kind: 'seen', path: '/team/delete', ms: r.int(20, 100) },
    { kind: 'answered', path: '/team/delete', ms: r.int(0, 15) },
    { kind: 'answered', path: '/user/new', ms: r.int(0, 15) },
    { kind: 'seen', path: '/user/delete', ms: r.int(20, 100) },
    { kind: 'answered', path: '/key/generate', ms: r.int(0, 15) },
    { kind: 'answered', path: '/key/delete', ms: r.int(0, 15) },
    { kind: 'temp', target: '.env' },
    { kind: 'after', ms: r.int(0, 200) },
  ]);
  lab.proxy.clearFaults();
  lab.proxy.resetRequests();
  if (trigger.kind === 'seen') lab.proxy.setDelay(trigger.ms, { path: trigger.path });
  const watcher = trigger.kind === 'temp' ? lab.watchTemps(trigger.target) : undefined;
  const running = lab.spawn('teams', [], SETTINGS);
  const kill = async () => {
    if (trigger.kind === 'temp') await watcher!.appeared;
    else if (trigger.kind === 'after') await sleep(trigger.ms);
    else {
      const { path: route, kind, ms } = trigger;
      await until(() => lab.proxy.requests.some((q) => q.path === route && (kind === 'seen' || q.status !== 0)), 8000);
      await sleep(kind === 'answered' ? ms : 0);
    }
    await running.kill();
  };
  const result = await Promise.race([kill().then(() => running.exited), running.exited]);
  watcher?.close();
  await running.kill();
  if (result.signal === 'SIGKILL') teamStats.kills++;
  else teamStats.finishedBeforeTheKill++;
  lab.proxy.clearFaults();

  const check = async (when: string) => {
    const now = dotenvParse(Buffer.from(await lab.text()));
    for (const k of edit.file.keys) {
      const v = now[k.env];
      if (v && v.startsWith('sk-') && v.length === 25) journal.secrets.add(v);
      if (!(await lab.works(v))) fail(`${when}: ${k.env} (key ${JSON.stringify(k.alias)}, still declared) does not work`);
    }
    if (!(await lab.works(handKey))) fail(`${when}: the hand-made key in the hand-made team no longer works`);
    const teams = await teamsOf(lab);
    if (!teams.some((t) => t.team_id === handTeam.team_id)) fail(`${when}: the hand-made team is gone`);
    if (!teams.some((t) => t.team_id === otherTeam.team_id)) fail(`${when}: another installation's team is gone`);
    if (!(await usersOf(lab)).some((u) => u.user_id === 'dave')) fail(`${when}: the hand-made user is gone`);
    return { now, teams };
  };
  await check('at the kill');

  const next = await lab.run('teams', [], SETTINGS);
  if (next.code !== 0) {
    fail(`the next run (${edit.name}) exited ${next.code}: ${next.last}`);
    return;
  }
  const { now, teams } = await check(`after the next run (${edit.name})`);
  const mine = teams.filter((t) => t.team_id !== handTeam.team_id && t.team_id !== otherTeam.team_id);
  const wanted = edit.file.teams.map((t) => t.alias).sort();
  if (JSON.stringify(mine.map((t) => t.team_alias).sort()) !== JSON.stringify(wanted)) fail(`after the next run (${edit.name}) the teams are ${JSON.stringify(mine.map((t) => t.team_alias))}, not ${JSON.stringify(wanted)}`);
  for (const t of edit.file.teams) if (mine.find((m) => m.team_alias === t.alias)?.max_budget !== t.budget) fail(`after the next run (${edit.name}) team ${t.alias} lacks its budget`);
  for (const k of edit.file.keys) {
    const rows = lab.keysWithAlias(k.alias);
    const teamId = k.team ? mine.find((m) => m.team_alias === k.team)?.team_id : null;
    if (rows.length !== 1 || (rows[0]!.team_id ?? null) !== (teamId ?? null)) fail(`after the next run (${edit.name}) key ${JSON.stringify(k.alias)} is not alone in its team (${JSON.stringify(rows.map((x) => x.team_id))})`);
  }
  const userIds = (await usersOf(lab)).map((u) => u.user_id);
  for (const u of edit.file.users) if (!userIds.includes(u)) fail(`after the next run (${edit.name}) user ${u} is missing`);
  for (const u of START.users) if (!edit.file.users.includes(u) && userIds.includes(u)) fail(`after the next run (${edit.name}) the dropped user ${u} is still there`);
  for (const k of START.keys) {
    if (edit.file.keys.some((d) => d.alias === k.alias)) continue;
    if (before[k.env] && (await lab.works(before[k.env]))) fail(`after the next run (${edit.name}) the dropped key ${JSON.stringify(k.alias)} still works`);
    if (now[k.env] !== '') fail(`after the next run (${edit.name}) ${k.env} (dropped) is not empty`);
  }
  const clean = await lab.run('teams', ['--check'], SETTINGS);
  if (clean.code !== 0) fail(`--check after the next run (${edit.name}) exited ${clean.code}: ${clean.stdout.trim()}`);
  else teamStats.converged++;
}

export function teamCrashSafety(): void {
  describe('crash safety: team and user steps killed at every step', () => {
    it('teams and users created, updated, moved into and removed: a SIGKILL anywhere loses no declared key, touches nothing of a person or another installation, and the next run converges', { timeout: 300_000 }, async () => {
      const lab = await Lab.open({ name: 'teams' });
      try {
        for (let seed = 7000; seed < 7024; seed++) await teamCase(lab, seed);
      } finally {
        await lab.close();
      }
      console.log(JSON.stringify({ teams: teamStats }, null, 2));
      expect(teamStats.violations).toEqual([]);
      expect(teamStats.kills).toBeGreaterThanOrEqual(10);
      expect(teamStats.converged).toBe(24);
    });
  });
}
