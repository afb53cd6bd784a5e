/**
 * Bench plumbing: timed child processes, peak RSS, small statistics, the machine
 * description, Docker helpers and the table renderer. No test framework, no
 * dependency beyond Node; bench/run.ts drives it.
 */
import { dockerCliPath, exec as run, type ExecResult } from '../test/support/process.ts';
import { mulberry32 } from '../test/support/litellm-stand-in.ts';
import { spawn, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  mean: number;
  p90: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function stats(values: number[]): Stats {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    median: quantile(sorted, 0.5),
    min: n ? sorted[0]! : Number.NaN,
    max: n ? sorted[n - 1]! : Number.NaN,
    mean: n ? sorted.reduce((a, b) => a + b, 0) / n : Number.NaN,
    p90: quantile(sorted, 0.9),
  };
}

/** The stand-in's seeded PRNG, so the readiness offsets are the same every run. */
export const prng = mulberry32;

export function shuffle<T>(items: T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Timed child processes
// ---------------------------------------------------------------------------

export interface TimedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** performance.now() just before spawn() and at the child's 'exit' event. */
  t0: number;
  tExit: number;
  /** The same two instants on the wall clock (Date.now()), to line up with the stand-in's request timestamps. */
  wall0: number;
  wallExit: number;
  /** tExit - t0 in ms. */
  ms: number;
}

/**
 * Spawns `file args` and resolves once its stdio is closed. The duration is spawn → 'exit'
 * (the process is gone), measured in this process with performance.now().
 * `onSpawned` runs right after spawn() returns (the readiness figure starts its watch there).
 */
export function timedSpawn(
  file: string,
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; onSpawned?: (run: Pick<TimedRun, 't0' | 'wall0'>) => void },
): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { env: opts.env, cwd: opts.cwd ?? process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] };
    const wall0 = Date.now();
    const t0 = performance.now();
    const child = spawn(file, args, spawnOpts);
    opts.onSpawned?.({ t0, wall0 });
    let tExit = Number.NaN;
    let wallExit = Number.NaN;
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', () => {
      tExit = performance.now();
      wallExit = Date.now();
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (Number.isNaN(tExit)) {
        tExit = performance.now();
        wallExit = Date.now();
      }
      resolve({ code, signal, stdout, stderr, t0, tExit, wall0, wallExit, ms: tExit - t0 });
    });
  });
}

// ---------------------------------------------------------------------------
// Peak RSS
// ---------------------------------------------------------------------------

export const GNU_TIME = '/usr/bin/time';

/**
 * Peak RSS of `node args` in KiB, from the OS: GNU time's %M (ru_maxrss of the child) when
 * /usr/bin/time exists, else a preload that reads VmHWM from /proc/self/status at 'exit'
 * (the CLI ends with process.exit, which still fires 'exit').
 */
export async function peakRssKiB(
  node: string,
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; scratch: string },
): Promise<{ kib: number; how: string; run: TimedRun }> {
  const out = path.join(opts.scratch, `rss-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  try {
    if (existsSync(GNU_TIME)) {
      const run = await timedSpawn(GNU_TIME, ['-f', '%M', '-o', out, node, ...args], { env: opts.env });
      const kib = Number((await readFile(out, 'utf8')).trim().split('\n').pop());
      return { kib, how: '/usr/bin/time -f %M (ru_maxrss)', run };
    }
    const probe = path.join(opts.scratch, 'rss-probe.mjs');
    if (!existsSync(probe)) {
      await writeFile(
        probe,
        [
          "import { readFileSync, writeFileSync } from 'node:fs';",
          'const out = process.env.BENCH_RSS_OUT;',
          "process.on('exit', () => {",
          "  const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));",
          "  if (out && m) writeFileSync(out, m[1] + '\\n');",
          '});',
          '',
        ].join('\n'),
      );
    }
    const run = await timedSpawn(node, ['--import', probe, ...args], { env: { ...opts.env, BENCH_RSS_OUT: out } });
    const kib = Number((await readFile(out, 'utf8')).trim());
    return { kib, how: 'VmHWM from /proc/self/status at exit (preload; /usr/bin/time not found)', run };
  } finally {
    await rm(out, { force: true });
  }
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

export interface Machine {
  date: string;
  nproc: number;
  cpuModel: string;
  memTotalMiB: number;
  node: string;
  kernel: string;
  loadavgStart: number[];
  loadavgEnd?: number[];
}

export function machine(): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    /* not Linux */
  }
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel,
    memTotalMiB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavgStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

// ---------------------------------------------------------------------------
// Docker
// ---------------------------------------------------------------------------

export const dockerCli = dockerCliPath;
export type { ExecResult };

/** Like the tests' exec, but a program that cannot start is a result (code 127), not an error. */
export async function exec(file: string, args: readonly string[], timeoutMs = 60_000): Promise<ExecResult> {
  try {
    return await run(file, args, { env: process.env, timeoutMs });
  } catch (err) {
    return { code: 127, stdout: '', stderr: (err as Error).message, ms: 0 };
  }
}

/** Docker's RFC 3339 timestamps carry nanoseconds; keep the sub-millisecond part. */
export function isoMs(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return Date.parse(ts);
  return Date.parse(`${m[1]}${m[3]}`) + Number(`0.${m[2] ?? '0'}`) * 1000;
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

export interface Row {
  id: string;
  figure: string;
  unit: 'ms' | 'req' | 'MiB' | '×';
  stats?: Stats;
  /** Median ÷ median of `node -e 0`, for wall times. */
  ratio?: number;
  /** Human text of the goal, e.g. "≤ 1.5 × node -e 0". */
  goal?: string;
  pass?: boolean;
  note?: string;
}

function fmt(v: number | undefined, unit: Row['unit']): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (unit === 'req') return Number.isInteger(v) ? String(v) : v.toFixed(1);
  if (unit === 'MiB') return v.toFixed(1);
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/**
 * A Markdown table, columns padded so it also reads well in a terminal.
 * `compact`: figure, unit, median, min, max, n only.
 */
export function table(rows: Row[], opts: { compact?: boolean } = {}): string {
  const columns = opts.compact ? 6 : 9;
  const head = ['figure', 'unit', 'median', 'min', 'max', 'n', '÷ node -e 0', 'goal', 'result'].slice(0, columns);
  const body = rows.map((r) => [
    r.figure,
    r.unit,
    fmt(r.stats?.median, r.unit),
    fmt(r.stats?.min, r.unit),
    fmt(r.stats?.max, r.unit),
    r.stats ? String(r.stats.n) : '–',
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
    r.goal ?? (r.note ? '' : 'report'),
    r.pass === undefined ? (r.note ?? '') : r.pass ? 'PASS' : '**FAIL**',
  ].slice(0, columns));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
