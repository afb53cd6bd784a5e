/**
 * Runs the built CLI (dist/cli.cjs) as a real process against real files, and
 * checks everything it printed for secrets as each run ends: a run that printed any
 * 8-character piece of a secret the test file registered (`watchSecrets`) fails the
 * test that ran it, whatever order the tests run in.
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

/** How long a piece of a secret may not appear in any output. */
export const SECRET_PIECE = 8;
/**
 * Documented prefixes that say what a secret is, not what it is: a piece lying wholly inside
 * one at the secret's start is public (`sk-proj-` is in OpenAI's docs), so not looked for.
 */
const PUBLIC_PREFIXES = ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 'sk-ant-api03-', 'sk-ant-admin01-', 'sk-or-v1-', 'https://', 'http://'];
/** Every secret the test file registered (master, salt, provider, virtual keys, tokens). */
const watched = new Set<string>();
/** Piece → the secret it is a piece of; secrets of 8 characters or fewer are looked for whole. */
const pieces = new Map<string, string>();
const shortSecrets = new Set<string>();

function piecesOf(value: string): string[] {
  const prefix = Math.max(0, ...PUBLIC_PREFIXES.filter((p) => value.startsWith(p)).map((p) => p.length));
  const out: string[] = [];
  for (let i = 0; i + SECRET_PIECE <= value.length; i++) if (i + SECRET_PIECE > prefix) out.push(value.slice(i, i + SECRET_PIECE));
  return out;
}

/**
 * Registers secrets: from now on every CLI run of this test process fails when its stdout or
 * stderr holds any 8-character piece of one (outside its documented public prefix). Throws
 * when a run before already printed a piece of a secret registered now (a key read from .env
 * after the run that issued it).
 */
export function watchSecrets(...values: (string | undefined | null)[]): void {
  const added: string[] = [];
  for (const value of values) {
    if (!value || watched.has(value)) continue;
    watched.add(value);
    added.push(value);
    if (value.length <= SECRET_PIECE) shortSecrets.add(value);
    else for (const piece of piecesOf(value)) pieces.set(piece, value);
  }
  if (added.length === 0) return;
  const mine = new Set(added);
  const earlier = allOutput.flatMap((out) => secretPiecesIn(out).filter((f) => mine.has(f.secret)));
  if (earlier.length > 0) throw new Error(`an earlier run printed secrets: ${[...new Set(earlier.map(describeFinding))].join('; ')}`);
}

export interface SecretFinding {
  secret: string;
  at: number;
}

/** The registered secrets `text` shows a piece of (the first place of each). */
export function secretPiecesIn(text: string): SecretFinding[] {
  const found = new Map<string, number>();
  for (let i = 0; i + SECRET_PIECE <= text.length; i++) {
    const secret = pieces.get(text.slice(i, i + SECRET_PIECE));
    if (secret !== undefined && !found.has(secret)) found.set(secret, i);
  }
  for (const secret of shortSecrets) {
    const at = text.indexOf(secret);
    if (at !== -1 && !found.has(secret)) found.set(secret, at);
  }
  return [...found].map(([secret, at]) => ({ secret, at }));
}

/** A finding as a line: the secret's length and first 3 characters, and where; never the piece. */
export const describeFinding = (f: SecretFinding) => `a piece of a registered secret (${f.secret.length} characters, starting ${JSON.stringify(f.secret.slice(0, 3))}) at offset ${f.at}`;

/** A Set of a test file's secrets whose every value is watched (watchSecrets) as it is added. */
export class WatchedSecrets extends Set<string> {
  override add(value: string): this {
    watchSecrets(value);
    return super.add(value);
  }
}

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
      const leaked = [...secretPiecesIn(stdout).map((f) => `stdout: ${describeFinding(f)}`), ...secretPiecesIn(stderr).map((f) => `stderr: ${describeFinding(f)}`)];
      if (leaked.length > 0) {
        reject(new Error(`the run printed secrets (llm-proxy-bootstrap ${args.join(' ')}): ${leaked.join('; ')}`));
        return;
      }
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
