/**
 * The teams section of the bench (issue 22): a keys file declaring T teams and N keys spread over
 * them (each key joins its team by alias), into one .env, against the LiteLLM stand-in answering
 * every management request after 20 ms (a LiteLLM + Postgres round trip). First run (T /team/new,
 * then N keys issued into their teams, at most LITELLM_MAX_CONCURRENCY in flight) and warm re-run
 * (nothing to do: the key listing, one /team/list, /model/info) wall time and requests; checked:
 * every team created once, every key in its team and working, the warm run writes nothing.
 *
 * Self-contained: bench/run.ts calls teamsBench() and prints what it returns.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startLiteLLMStandIn } from '../test/support/litellm-stand-in.ts';
import { stats, timedSpawn, type Stats, type TimedRun } from './lib.ts';
import type { ManyKeysOptions } from './many-keys.ts';

export const TEAM_SHAPES = [{ keys: 1000, teams: 20 }];
export const DELAY_MS = 20;
export const TEAM_GOALS = { keys: 1000, firstMs: 5000, warmMs: 1000, inFlight: 8 };

export interface TeamsRow {
  keys: number;
  teams: number;
  first: Stats;
  warm: Stats;
  firstRequests: number;
  warmRequests: number;
  mostInFlight: number;
  /** Every team created once; every key in its team, written and working. */
  everyKeyInItsTeam: boolean;
  /** The warm runs sent no write (POST). */
  warmWroteNothing: boolean;
}

export type TeamsOptions = ManyKeysOptions & { shapes: { keys: number; teams: number }[] };

function fail(what: string, r: TimedRun): never {
  throw new Error(`${what} exited ${r.code ?? r.signal}:\n${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
}

export async function teamsBench(o: TeamsOptions): Promise<{ rows: TeamsRow[]; markdown: string; failed: string[] }> {
  const rows: TeamsRow[] = [];
  for (const { keys: n, teams: t } of o.shapes) {
    const yaml = [
      'teams:',
      ...Array.from({ length: t }, (_, j) => [`  - alias: bench team ${j}`, '    models: [gpt-4o-mini]', '    max_budget: 100', '    budget_duration: 30d', '    tpm_limit: 50000']).flat(),
      'keys:',
      ...Array.from({ length: n }, (_, i) => [`  - alias: bench agent ${i}`, `    env: BENCH_${i}_KEY`, `    team: bench team ${i % t}`, '    models: [gpt-4o-mini]']).flat(),
      '',
    ].join('\n');
    const firstMs: number[] = [];
    const warmMs: number[] = [];
    let firstRequests = 0;
    let warmRequests = 0;
    let mostInFlight = 0;
    let inTeams = true;
    let warmWroteNothing = true;
    for (let run = 0; run < o.runs; run++) {
      o.progress(`teams: ${n} keys in ${t} teams, round ${run + 1} of ${o.runs}`);
      const standIn = await startLiteLLMStandIn({ masterKey: o.masterKey, models: ['gpt-4o-mini'] });
      const dir = await mkdtemp(path.join(o.scratch, `teams-${n}-`));
      try {
        await writeFile(path.join(dir, '.env'), `LITELLM_MASTER_KEY=${o.masterKey}\nLITELLM_DEFAULT_MODELS=gpt-4o-mini\nLITELLM_OPENAI_API_KEY=sk-bench-upstream-openai-0123456789abcdef\n`, { mode: 0o600 });
        await writeFile(path.join(dir, 'keys.yaml'), yaml);
        const env: NodeJS.ProcessEnv = {
          ...o.baseEnv,
          LOG_FORMAT: 'json',
          ENV_FILE_PATH: path.join(dir, '.env'),
          LITELLM_ENV_FILE_PATH: path.join(dir, '.env.litellm'),
          LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml',
          PROXY_BASE_URL: standIn.url,
          LITELLM_PROXY_WAIT_SECONDS: '60',
        };
        standIn.setDelay(DELAY_MS);
        standIn.resetRequests();
        const first = await timedSpawn(o.node, [o.cli], { env, timeoutMs: 300_000 });
        if (first.code !== 0) fail(`a first run over ${n} keys in ${t} teams`, first);
        firstMs.push(first.ms);
        firstRequests = Math.max(firstRequests, standIn.requests.length);
        mostInFlight = Math.max(mostInFlight, standIn.maxInFlight);
        standIn.setDelay(DELAY_MS);
        standIn.resetRequests();
        const warm = await timedSpawn(o.node, [o.cli], { env, timeoutMs: 300_000 });
        if (warm.code !== 0) fail(`a warm run over ${n} keys in ${t} teams`, warm);
        warmMs.push(warm.ms);
        warmRequests = Math.max(warmRequests, standIn.requests.length);
        mostInFlight = Math.max(mostInFlight, standIn.maxInFlight);
        if (standIn.requests.some((r) => r.method === 'POST')) warmWroteNothing = false;
        if (run === 0) {
          standIn.clearFaults(); // checked without the delay: not part of any figure
          const res = await fetch(`${standIn.url}/team/list`, { headers: { authorization: `Bearer ${o.masterKey}` } });
          const teams = (await res.json()) as { team_id: string; team_alias: string }[];
          const idOf = new Map(teams.map((x) => [x.team_alias, x.team_id]));
          const text = await readFile(path.join(dir, '.env'), 'utf8');
          const keyRows = standIn.keys();
          inTeams = teams.length === t && idOf.size === t && keyRows.length === n;
          for (let i = 0; inTeams && i < n; i++) {
            const row = keyRows.filter((k) => k.key_alias === `bench agent ${i}`);
            if (row.length !== 1 || row[0]!.team_id !== idOf.get(`bench team ${i % t}`)) inTeams = false;
          }
          const values = Array.from({ length: n }, (_, i) => new RegExp(`^BENCH_${i}_KEY=(.*)$`, 'm').exec(text)?.[1]);
          for (let i = 0; inTeams && i < n; i += 50) {
            const statuses = await Promise.all(values.slice(i, i + 50).map(async (k) => (await fetch(`${standIn.url}/v1/models`, { headers: { authorization: `Bearer ${k}` } })).status));
            if (statuses.some((s) => s !== 200)) inTeams = false;
          }
        }
      } finally {
        await standIn.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
    rows.push({ keys: n, teams: t, first: stats(firstMs), warm: stats(warmMs), firstRequests, warmRequests, mostInFlight, everyKeyInItsTeam: inTeams, warmWroteNothing });
  }
  const failed: string[] = [];
  for (const r of rows) {
    if (r.keys === TEAM_GOALS.keys && r.first.median > TEAM_GOALS.firstMs) failed.push(`${r.keys} keys in ${r.teams} teams: first run ${(r.first.median / 1000).toFixed(2)} s > ${TEAM_GOALS.firstMs / 1000} s`);
    if (r.keys === TEAM_GOALS.keys && r.warm.median > TEAM_GOALS.warmMs) failed.push(`${r.keys} keys in ${r.teams} teams: warm run ${(r.warm.median / 1000).toFixed(2)} s > ${TEAM_GOALS.warmMs / 1000} s`);
    if (r.mostInFlight > TEAM_GOALS.inFlight) failed.push(`${r.keys} keys in ${r.teams} teams: ${r.mostInFlight} requests in flight`);
    if (!r.everyKeyInItsTeam) failed.push(`${r.keys} keys in ${r.teams} teams: not every team created once with its keys in it, working`);
    if (!r.warmWroteNothing) failed.push(`${r.keys} keys in ${r.teams} teams: a warm run wrote`);
  }
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  const head = '| keys in teams | first run | requests | warm re-run | requests (warm) | most in flight | every key in its team, working | warm run writes nothing |';
  const sep = `|${head.split('|').slice(1, -1).map((c) => '-'.repeat(c.length)).join('|')}|`;
  const markdown = [
    `Teams: a keys file declaring T teams and N keys joining them by alias (all into one .env), the stand-in answering every request after ${DELAY_MS} ms, LITELLM_MAX_CONCURRENCY default (8); medians of ${o.runs} round(s), each on a fresh proxy and .env; requests and in-flight are the stand-in's counts.`,
    '',
    head,
    sep,
    ...rows.map((r) => `| ${r.keys.toLocaleString('en')} in ${r.teams} | ${sec(r.first.median)} s | ${r.firstRequests} | ${sec(r.warm.median)} s | ${r.warmRequests} | ${r.mostInFlight} | ${r.everyKeyInItsTeam ? 'yes' : '**no**'} | ${r.warmWroteNothing ? 'yes' : '**no**'} |`),
    '',
    `Goals at ${TEAM_GOALS.keys.toLocaleString('en')} keys: first run ≤ ${TEAM_GOALS.firstMs / 1000} s, warm ≤ ${TEAM_GOALS.warmMs / 1000} s, never more than ${TEAM_GOALS.inFlight} requests in flight, a warm run writes nothing. ${failed.length ? `Not met: ${failed.join('; ')}.` : 'All met.'}`,
  ].join('\n');
  return { rows, markdown, failed };
}
