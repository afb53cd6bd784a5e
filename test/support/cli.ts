/**
 * Runs the built CLI (dist/cli.cjs) as a real process against real files, and
 * keeps everything it printed so a test can check no secret ever got out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CLI = path.resolve('dist/cli.cjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stderr JSON log lines, parsed. */
  logs: Record<string, unknown>[];
  /** The last log line's message: the one-line summary or reason. */
  last: string;
  ms: number;
}

/** Everything every run printed in this test process, for the no-secret checks. */
export const allOutput: string[] = [];

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  uid?: number;
  gid?: number;
  timeoutMs?: number;
}

/** A started CLI process. */
export interface Running {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process is gone, with everything it printed. */
  exited: Promise<CliResult>;
  kill(): Promise<CliResult>;
}

/** Starts the built CLI without waiting for it. */
export function startCli(args: string[], opts: RunOptions = {}): Running {
  const started = Date.now();
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json' };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
  const child = spawn(process.execPath, [CLI, ...args], {
    env,
    cwd: opts.cwd ?? process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      allOutput.push(stdout, stderr);
      const logs = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return []; // a line cut by SIGKILL
          }
        });
      resolve({ code, signal, stdout, stderr, logs, last: String(logs.at(-1)?.msg ?? ''), ms: Date.now() - started });
    });
  });
  return {
    child,
    pid: child.pid!,
    exited,
    kill: () => {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return startCli(args, opts).exited;
}

export interface EnvDir {
  dir: string;
  env: string;
  litellm: string;
  read(): Promise<string>;
  write(content: string): Promise<void>;
  readLitellm(): Promise<string>;
  cleanup(): Promise<void>;
}

export async function envDir(content: string): Promise<EnvDir> {
  const dir = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-'));
  await chmod(dir, 0o755);
  const env = path.join(dir, '.env');
  await writeFile(env, content, { mode: 0o644 });
  return {
    dir,
    env,
    litellm: path.join(dir, '.env.litellm'),
    read: () => readFile(env, 'utf8'),
    write: (c) => writeFile(env, c),
    readLitellm: () => readFile(path.join(dir, '.env.litellm'), 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The value of `name` in a .env text (simple KEY=value lines only; tests use it on files they wrote). */
export function valueOf(text: string, name: string): string | undefined {
  const re = new RegExp(`^(?:export\\s+)?${name}\\s*=\\s*["']?([^"'\\r\\n#]*)`, 'gm');
  let last: string | undefined;
  for (const m of text.matchAll(re)) last = m[1]?.trim();
  return last;
}
