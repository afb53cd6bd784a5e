/**
 * The many-keys section of the bench (issue 10): N declared keys (a YAML keys file, every key
 * into one .env) against the LiteLLM stand-in answering every management request after 20 ms
 * (a LiteLLM + Postgres round trip). For each N: first and warm wall time, requests, most
 * requests in flight (counted by the stand-in), peak RSS; checked: every key written and
 * working, a warm run changes no byte. Also an SVG of time against N.
 *
 * Self-contained: bench/run.ts calls manyKeysBench() and prints what it returns.
 */
import { readdir, readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../test/support/litellm-stand-in.ts';
import { peakRssKiB, stats, timedSpawn, type Stats, type TimedRun } from './lib.ts';

export const KEY_COUNTS = [10, 100, 1000];
export const DELAY_MS = 20;

export const MANY_GOALS = { n: 1000, firstMs: 5000, warmMs: 1000, inFlight: 8 };

/**
 * Measured before this work (issue 10): everything sequential, a warm run one request per key.
 * Same machine, same stand-in delay.
 */
export const BEFORE: Record<number, { firstMs: number; firstReq: number; warmMs: number; warmReq: number }> = {
  10: { firstMs: 600, firstReq: 22, warmMs: 300, warmReq: 10 },
  100: { firstMs: 4900, firstReq: 202, warmMs: 2300, warmReq: 100 },
  1000: { firstMs: 64000, firstReq: 2002, warmMs: 21500, warmReq: 1000 },
};

export interface ManyKeysRow {
  n: number;
  first: Stats;
  warm: Stats;
  firstRequests: number;
  warmRequests: number;
  firstInFlight: number;
  warmInFlight: number;
  rssFirstMiB: number;
  rssWarmMiB: number;
  /** Every declared key is in .env, distinct, and authenticates (GET /v1/models 200). */
  everyKeyWorks: boolean;
  /** Every warm run left every file byte for byte as it was. */
  warmChangedNoByte: boolean;
}

export interface ManyKeysResult {
  rows: ManyKeysRow[];
  markdown: string;
  svg: string;
  failed: string[];
}

export interface ManyKeysOptions {
  node: string;
  cli: string;
  scratch: string;
  masterKey: string;
  counts: number[];
  runs: number;
  /** Environment every CLI run gets (PATH, compile cache, ...). */
  baseEnv: NodeJS.ProcessEnv;
  progress: (msg: string) => void;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) out.set(name, sha256(await readFile(path.join(dir, name), 'latin1')));
  return out;
}

const sameSnapshot = (a: Map<string, string>, b: Map<string, string>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

function fail(what: string, r: TimedRun): never {
  throw new Error(`${what} exited ${r.code ?? r.signal}:\n${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
}

async function everyKeyWorks(standIn: LiteLLMStandIn, envFile: string, n: number): Promise<boolean> {
  const text = await readFile(envFile, 'utf8');
  const keys = Array.from({ length: n }, (_, i) => new RegExp(`^BENCH_${i}_KEY=(.*)$`, 'm').exec(text)?.[1]);
  if (keys.some((k) => !k?.startsWith('sk-')) || new Set(keys).size !== n) return false;
  standIn.clearFaults(); // checked without the delay: not part of any figure
  for (let i = 0; i < n; i += 50) {
    const statuses = await Promise.all(
      keys.slice(i, i + 50).map(async (k) => {
        const res = await fetch(`${standIn.url}/v1/models`, { headers: { authorization: `Bearer ${k}` } });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    if (statuses.some((s) => s !== 200)) return false;
  }
  const rows = standIn.keys();
  return rows.length === n && Array.from({ length: n }, (_, i) => i).every((i) => rows.filter((r) => r.key_alias === `bench agent ${i}`).length === 1);
}

export async function manyKeysBench(o: ManyKeysOptions): Promise<ManyKeysResult> {
  const standIn = await startLiteLLMStandIn({ masterKey: o.masterKey, models: ['gpt-4o-mini'] });
  const rows: ManyKeysRow[] = [];
  try {
    for (const n of o.counts) {
      const yaml = `keys:\n${Array.from({ length: n }, (_, i) => `  - alias: bench agent ${i}\n    env: BENCH_${i}_KEY\n`).join('')}`;
      const fresh = async () => {
        standIn.clearFaults();
        standIn.wipe();
        const dir = await mkdtemp(path.join(o.scratch, `keys-${n}-`));
        await writeFile(path.join(dir, '.env'), `LITELLM_MASTER_KEY=${o.masterKey}\nLITELLM_DEFAULT_MODELS=gpt-4o-mini\nLITELLM_OPENAI_API_KEY=sk-bench-upstream-openai-0123456789abcdef\n# the team's own settings\nTEAM=platform\n`, { mode: 0o600 });
        await writeFile(path.join(dir, 'keys.yaml'), yaml);
        standIn.setDelay(DELAY_MS);
        standIn.resetRequests();
        return dir;
      };
      const env = (dir: string): NodeJS.ProcessEnv => ({
        ...o.baseEnv,
        LOG_FORMAT: 'json',
        ENV_FILE_PATH: path.join(dir, '.env'),
        LITELLM_ENV_FILE_PATH: path.join(dir, '.env.litellm'),
        LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml',
        PROXY_BASE_URL: standIn.url,
        LITELLM_PROXY_WAIT_SECONDS: '60',
      });
      const firstMs: number[] = [];
      const warmMs: number[] = [];
      let firstRequests = 0;
      let warmRequests = 0;
      let firstInFlight = 0;
      let warmInFlight = 0;
      let works = true;
      let noByte = true;
      let rssFirstMiB = 0;
      let rssWarmMiB = 0;
      for (let run = 0; run < o.runs; run++) {
        o.progress(`many keys: N = ${n}, round ${run + 1} of ${o.runs}`);
        const dir = await fresh();
        const first = await timedSpawn(o.node, [o.cli], { env: env(dir), timeoutMs: 300_000 });
        if (first.code !== 0) fail(`a first run over ${n} keys`, first);
        firstMs.push(first.ms);
        firstRequests = Math.max(firstRequests, standIn.requests.length);
        firstInFlight = Math.max(firstInFlight, standIn.maxInFlight);
        const before = await snapshot(dir);
        standIn.setDelay(DELAY_MS);
        standIn.resetRequests();
        const warm = await timedSpawn(o.node, [o.cli], { env: env(dir), timeoutMs: 300_000 });
        if (warm.code !== 0) fail(`a warm run over ${n} keys`, warm);
        warmMs.push(warm.ms);
        warmRequests = Math.max(warmRequests, standIn.requests.length);
        warmInFlight = Math.max(warmInFlight, standIn.maxInFlight);
        if (!sameSnapshot(before, await snapshot(dir))) noByte = false;
        if (run === 0) {
          works = await everyKeyWorks(standIn, path.join(dir, '.env'), n);
          // Peak RSS: one more warm run, then a first run, under /usr/bin/time (apart from the timed runs).
          standIn.setDelay(DELAY_MS);
          const rw = await peakRssKiB(o.node, [o.cli], { env: env(dir), scratch: o.scratch });
          if (rw.run.code !== 0) fail(`a warm run over ${n} keys (RSS)`, rw.run);
          rssWarmMiB = rw.kib / 1024;
          const dir2 = await fresh();
          const rf = await peakRssKiB(o.node, [o.cli], { env: env(dir2), scratch: o.scratch });
          if (rf.run.code !== 0) fail(`a first run over ${n} keys (RSS)`, rf.run);
          rssFirstMiB = rf.kib / 1024;
          await rm(dir2, { recursive: true, force: true });
        }
        await rm(dir, { recursive: true, force: true });
      }
      rows.push({ n, first: stats(firstMs), warm: stats(warmMs), firstRequests, warmRequests, firstInFlight, warmInFlight, rssFirstMiB, rssWarmMiB, everyKeyWorks: works, warmChangedNoByte: noByte });
    }
  } finally {
    await standIn.close();
  }
  const goal = rows.find((r) => r.n === MANY_GOALS.n);
  const failed: string[] = [];
  if (goal) {
    if (goal.first.median > MANY_GOALS.firstMs) failed.push(`${goal.n} keys: first run ${(goal.first.median / 1000).toFixed(2)} s > ${MANY_GOALS.firstMs / 1000} s`);
    if (goal.warm.median > MANY_GOALS.warmMs) failed.push(`${goal.n} keys: warm run ${(goal.warm.median / 1000).toFixed(2)} s > ${MANY_GOALS.warmMs / 1000} s`);
  }
  for (const r of rows) {
    if (Math.max(r.firstInFlight, r.warmInFlight) > MANY_GOALS.inFlight) failed.push(`${r.n} keys: ${Math.max(r.firstInFlight, r.warmInFlight)} requests in flight`);
    if (!r.everyKeyWorks) failed.push(`${r.n} keys: not every key written and working`);
    if (!r.warmChangedNoByte) failed.push(`${r.n} keys: a warm run changed a file`);
  }
  return { rows, markdown: markdown(rows, failed, o.runs), svg: chart(rows), failed };
}

const sec = (ms: number) => (ms >= 10_000 ? (ms / 1000).toFixed(1) : (ms / 1000).toFixed(2));

function markdown(rows: ManyKeysRow[], failed: string[], runs: number): string {
  const head = '| keys | first run | requests | warm re-run | requests (warm-run cost) | most in flight | peak RSS first / warm | every key works | warm run changes no byte | before: first / warm |';
  const sep = `|${head.split('|').slice(1, -1).map((c) => '-'.repeat(c.length)).join('|')}|`;
  const lines = rows.map((r) => {
    const b = BEFORE[r.n];
    return `| ${r.n.toLocaleString('en')} | ${sec(r.first.median)} s | ${r.firstRequests} | ${sec(r.warm.median)} s | ${r.warmRequests} | ${Math.max(r.firstInFlight, r.warmInFlight)} | ${r.rssFirstMiB.toFixed(0)} / ${r.rssWarmMiB.toFixed(0)} MiB | ${r.everyKeyWorks ? 'yes' : '**no**'} | ${r.warmChangedNoByte ? 'yes' : '**no**'} | ${b ? `${sec(b.firstMs)} s, ${b.firstReq} req / ${sec(b.warmMs)} s, ${b.warmReq} req` : '–'} |`;
  });
  const goals = `Goals at ${MANY_GOALS.n.toLocaleString('en')} keys: first run ≤ ${MANY_GOALS.firstMs / 1000} s, warm ≤ ${MANY_GOALS.warmMs / 1000} s, never more than ${MANY_GOALS.inFlight} requests in flight, every key written and working, a warm run changes no byte. ${failed.length ? `Not met: ${failed.join('; ')}.` : rows.some((r) => r.n === MANY_GOALS.n) ? 'All met.' : `(${MANY_GOALS.n.toLocaleString('en')} keys not measured in this run.)`}`;
  return [
    `Many keys: N declared keys (keys file, all into one .env), the stand-in answering every request after ${DELAY_MS} ms, LITELLM_MAX_CONCURRENCY default (8); medians of ${runs} round(s) (first run, then warm re-run, on a fresh proxy and .env each round); requests and in-flight are the stand-in's counts.`,
    '',
    head,
    sep,
    ...lines,
    '',
    goals,
  ].join('\n');
}

/** Time against N, log–log, now and before; a small hand-made SVG. */
export function chart(rows: ManyKeysRow[]): string {
  const W = 690;
  const H = 380;
  const m = { l: 64, r: 170, t: 36, b: 48 };
  const xs = [10, 100, 1000];
  const yTicks = [0.01, 0.1, 1, 10, 100];
  const x = (n: number) => m.l + ((Math.log10(n) - 1) / 2) * (W - m.l - m.r);
  const y = (s: number) => m.t + (1 - (Math.log10(Math.max(s, 0.01)) + 2) / 4) * (H - m.t - m.b);
  const series = [
    { label: 'first run, before', color: '#d62728', dash: '6 4', pts: xs.map((n) => [n, BEFORE[n]!.firstMs / 1000] as const) },
    { label: 'warm re-run, before', color: '#1f77b4', dash: '6 4', pts: xs.map((n) => [n, BEFORE[n]!.warmMs / 1000] as const) },
    { label: 'first run, now', color: '#d62728', dash: '', pts: rows.map((r) => [r.n, r.first.median / 1000] as const) },
    { label: 'warm re-run, now', color: '#1f77b4', dash: '', pts: rows.map((r) => [r.n, r.warm.median / 1000] as const) },
  ];
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${m.l}" y="20" font-size="14" font-weight="bold">Wall time against the number of keys (${DELAY_MS} ms per proxy request)</text>`);
  for (const t of yTicks) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 8}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t} s</text>`);
  }
  for (const n of xs) {
    out.push(`<line x1="${x(n).toFixed(1)}" x2="${x(n).toFixed(1)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${x(n).toFixed(1)}" y="${H - m.b + 18}" text-anchor="middle">${n.toLocaleString('en')}</text>`);
  }
  out.push(`<text x="${((m.l + W - m.r) / 2).toFixed(1)}" y="${H - 10}" text-anchor="middle">keys (log scale)</text>`);
  out.push(`<text transform="translate(16 ${((m.t + H - m.b) / 2).toFixed(1)}) rotate(-90)" text-anchor="middle">seconds (log scale)</text>`);
  // The goals at 1,000 keys.
  for (const [s, label] of [[MANY_GOALS.firstMs / 1000, 'goal: first ≤ 5 s'], [MANY_GOALS.warmMs / 1000, 'goal: warm ≤ 1 s']] as const) {
    out.push(`<circle cx="${x(MANY_GOALS.n).toFixed(1)}" cy="${y(s).toFixed(1)}" r="6" fill="none" stroke="#2ca02c" stroke-width="1.5"/>`);
    out.push(`<text x="${(x(MANY_GOALS.n) - 10).toFixed(1)}" y="${(y(s) - 9).toFixed(1)}" text-anchor="end" fill="#2ca02c">${label}</text>`);
  }
  series.forEach((s, i) => {
    if (s.pts.length === 0) return;
    const d = s.pts.map(([n, v], j) => `${j ? 'L' : 'M'}${x(n).toFixed(1)} ${y(v).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}" opacity="0.6"` : ''}/>`);
    for (const [n, v] of s.pts) out.push(`<circle cx="${x(n).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"${s.dash ? ' opacity="0.6"' : ''}><title>${s.label}, ${n} keys: ${v.toFixed(2)} s</title></circle>`);
    const ly = m.t + 14 + i * 20;
    out.push(`<line x1="${W - m.r + 14}" x2="${W - m.r + 40}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}" opacity="0.6"` : ''}/>`);
    out.push(`<text x="${W - m.r + 46}" y="${ly}">${s.label}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
