/**
 * Helpers of the fault-injection suite (test/faults/*.test.ts).
 *
 * - A `Lab` is one user's world: a temp directory with a `.env`, a LiteLLM
 *   stand-in on loopback, and the built CLI run as a real process against them.
 * - `spawnCli` starts the CLI without waiting for it, so a test can SIGKILL it
 *   at a chosen moment (after a seeded random delay, when the stand-in has seen
 *   or answered a given request, or when a temp file appears next to `.env`).
 * - The journal (`journal`) keeps every byte every run of the suite printed and
 *   every file every lab left behind, so the secrets test can look at all of it.
 */
import { watch, type FSWatcher } from 'node:fs';
import { chmod, lstat, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as dotenvParse } from 'dotenv';
import { Agent, fetch as undiciFetch } from 'undici';
import { startLiteLLMStandIn, type LiteLLMStandIn, type StandInOptions } from '../support/litellm-stand-in.ts';
import { allOutput, runCli, startCli, WatchedSecrets, type CliResult, type RunOptions, type Running } from '../support/cli.ts';

export const MASTER = 'sk-master-Rw6Tq1Zx9Lb4Vm8Nc3Kj7Hp2';
export const OPENAI_UPSTREAM = 'sk-proj-Ty1LlnkmkQRfTWjZTsU7XaCD3UOhbHk9FV2CRtF8fR';
export const ANTHROPIC_UPSTREAM = 'sk-ant-api03-Wq1NkRu9teIPxQ5c7nuv5VetgpQMZj02F3';
export const GEMINI_UPSTREAM = 'AIzasrJVr7mfKFYjPjuEmQMYiEGqGWoIYpfOiqu';
/** A user's own upstream key found in OPENAI_API_KEY: the bootstrap must never lose it. */
export const USER_KEY = 'sk-proj-PIPoznYtzeEx1uqXlVK0Bv34p5xcd3CSuCCYWfcfu';
export const ALIAS = 'task-agent default';
/**
 * An operator's key_alias_pattern that accepts ALIAS but no alias of the bootstrap's own
 * making (such as the "<alias> (rotating)" of earlier versions): rotation lanes run under it.
 */
export const ALIAS_PATTERN = '[a-z][a-z0-9 -]*';
export const PLACEHOLDER = 'sk-proxy-default';
export const MODELS_A = 'gpt-4o-mini,gpt-4o';
export const MODELS_B = 'claude-3-5-sonnet';

export const TEMPLATE = `# LLM proxy settings
LITELLM_MASTER_KEY=${MASTER}
LITELLM_DEFAULT_MODELS=${MODELS_A}

# Upstream provider secrets (stay inside the proxy)
LITELLM_OPENAI_API_KEY=${OPENAI_UPSTREAM}
LITELLM_ANTHROPIC_API_KEY=${ANTHROPIC_UPSTREAM}
LITELLM_GEMINI_API_KEY=

# The agent's key, written by the bootstrap
OPENAI_API_KEY=${PLACEHOLDER}
OPENAI_BASE_URL=http://llm-proxy:4000/v1
# a user's trailing note, kept byte for byte
`;

/** Temp files of src/store/fs-atomic.ts: `.<name>.llm-proxy-bootstrap.<random>.tmp` (no pid: see fs-atomic.ts). */
export const TEMP_FILE = /^\..+\.llm-proxy-bootstrap\.[0-9a-z]{8,}\.tmp$/;
/** The file a temp file was going to replace: `..env.llm-proxy-bootstrap.0a1b2c3d4e.tmp` → `.env`. */
export const tempTarget = (name: string) => name.replace(/\.llm-proxy-bootstrap\.[0-9a-z]{8,}\.tmp$/, '').slice(1);
/** A LiteLLM virtual key: `sk-` + 22 url-safe characters (the stand-in issues exactly these). */
export const VIRTUAL_KEY_SHAPE = /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{22}(?![A-Za-z0-9_-])/g;

// ---------------------------------------------------------------------------
// Journal: what the whole suite printed and left
// ---------------------------------------------------------------------------

export interface LeftFile {
  lab: string;
  /** Path relative to the lab directory. */
  name: string;
  mode: number;
  /** Content, except for the env file itself (allowed to hold secrets, can be 10 MB). */
  content: Buffer | undefined;
  /** The mode the lab expects for it, when it has an opinion. */
  expectedMode: number | undefined;
}

export const journal = {
  /** Every secret the suite knows of: master key, upstream keys, virtual keys seen in files (each run's output is checked for any 8-character piece: support/cli.ts). */
  secrets: new WatchedSecrets([MASTER, OPENAI_UPSTREAM, ANTHROPIC_UPSTREAM, GEMINI_UPSTREAM, USER_KEY]) as Set<string>,
  files: [] as LeftFile[],
  /** runs[class] = how many CLI processes a fault class started. */
  runs: {} as Record<string, number>,
  /** Output of runs started with spawnCli (runCli's go to allOutput; both are checked). */
  outputs: allOutput,
};

/** Names (never values) of the known secrets found in `text`, plus any virtual-key-shaped string. */
export function secretsIn(text: string): string[] {
  const found: string[] = [];
  for (const s of journal.secrets) if (text.includes(s)) found.push(describeSecret(s));
  for (const m of text.matchAll(VIRTUAL_KEY_SHAPE)) if (!journal.secrets.has(m[0])) found.push(`a virtual key (${m[0].slice(0, 5)}…)`);
  return [...new Set(found)];
}

export function describeSecret(s: string): string {
  if (s === MASTER) return 'the master key';
  if (s === OPENAI_UPSTREAM || s === ANTHROPIC_UPSTREAM || s === GEMINI_UPSTREAM) return 'an upstream provider key';
  if (s === USER_KEY) return "the user's own upstream key";
  return `a virtual key (${s.slice(0, 5)}…)`;
}

export function countRun(kind: string): void {
  journal.runs[kind] = (journal.runs[kind] ?? 0) + 1;
}

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A seeded PRNG (mulberry32): case parameters are reproducible from the seed. */
export function rng(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
  };
}

/** Polls `pred` (every 1 ms) until it holds; false on timeout. */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return true;
    await sleep(1);
  }
  return pred();
}

/** Splits into lines, each keeping its own line break (LF, CRLF or a lone CR). */
export function linesOf(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
}

const assignmentOf = (line: string): string | undefined => /^\s*(?:export\s+)?([\w.-]+)\s*[=:]/.exec(line)?.[1];

/**
 * Lines of `after` that differ from `before`, as variable names (`?` for a
 * non-assignment line). A different line count is reported as `#lines`.
 */
export function changedLines(before: string, after: string): string[] {
  const a = linesOf(before);
  const b = linesOf(after);
  if (a.length !== b.length) return ['#lines'];
  const changed: string[] = [];
  a.forEach((line, i) => {
    if (line !== b[i]) changed.push(assignmentOf(line) === assignmentOf(b[i]!) ? (assignmentOf(line) ?? '?') : '?');
  });
  return changed;
}

// ---------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------

export type { Running };

/** Starts the built CLI without waiting for it, counting the run for the report. */
export function spawnCli(args: string[], opts: RunOptions & { kind: string }): Running {
  countRun(opts.kind);
  return startCli(args, opts);
}

// ---------------------------------------------------------------------------
// A lab: one .env, one proxy
// ---------------------------------------------------------------------------

export interface LabOptions {
  name: string;
  template?: string | Buffer;
  envMode?: number;
  standIn?: Partial<StandInOptions>;
  /** Extra settings for every run of this lab. */
  env?: Record<string, string | undefined>;
}

/** One connection per request, closed after it. */
const FRESH_CONNECTIONS = new Agent({ pipelining: 0 });

export class Lab {
  readonly name: string;
  readonly dir: string;
  readonly envPath: string;
  readonly litellmPath: string;
  readonly ledgerPath: string;
  readonly backupPath: string;
  proxy: LiteLLMStandIn;
  envMode: number;
  private readonly extraEnv: Record<string, string | undefined>;
  private closed = false;

  private constructor(name: string, dir: string, proxy: LiteLLMStandIn, envMode: number, extraEnv: Record<string, string | undefined>) {
    this.name = name;
    this.dir = dir;
    this.envPath = path.join(dir, '.env');
    this.litellmPath = path.join(dir, '.env.litellm');
    this.ledgerPath = path.join(dir, '.llm-proxy-bootstrap.json');
    this.backupPath = path.join(dir, '.env.bootstrap-backup');
    this.proxy = proxy;
    this.envMode = envMode;
    this.extraEnv = extraEnv;
  }

  static async open(opts: LabOptions): Promise<Lab> {
    const dir = await mkdtemp(path.join(tmpdir(), `llm-proxy-bootstrap-faults-${opts.name.replace(/[^\w-]/g, '_')}-`));
    await chmod(dir, 0o755);
    const proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-sonnet'], ...opts.standIn });
    const lab = new Lab(opts.name, dir, proxy, opts.envMode ?? 0o644, opts.env ?? {});
    await lab.reset(opts.template ?? TEMPLATE);
    return lab;
  }

  /** A fresh start: this .env, no ledger, no proxy env file, an empty proxy. */
  async reset(template: string | Buffer = TEMPLATE): Promise<void> {
    this.proxy.clearFaults();
    this.proxy.wipe();
    for (const f of [this.litellmPath, this.ledgerPath, this.backupPath]) await rm(f, { force: true });
    await this.write(template);
  }

  async write(content: string | Buffer): Promise<void> {
    await writeFile(this.envPath, content);
    await chmod(this.envPath, this.envMode);
  }

  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      ENV_FILE_PATH: this.envPath,
      LITELLM_ENV_FILE_PATH: this.litellmPath,
      PROXY_BASE_URL: this.proxy.url,
      LITELLM_PROXY_WAIT_SECONDS: '5',
      LITELLM_REQUEST_TIMEOUT_SECONDS: '2',
      ...this.extraEnv,
      ...extra,
    };
  }

  run(kind: string, args: string[] = [], extra: Record<string, string | undefined> = {}, opts: Omit<RunOptions, 'env'> = {}): Promise<CliResult> {
    countRun(kind);
    return runCli(args, { timeoutMs: 60_000, ...opts, env: this.env(extra) });
  }

  spawn(kind: string, args: string[] = [], extra: Record<string, string | undefined> = {}, opts: Omit<RunOptions, 'env'> = {}): Running {
    return spawnCli(args, { timeoutMs: 60_000, ...opts, env: this.env(extra), kind });
  }

  read(): Promise<Buffer> {
    return readFile(this.envPath);
  }

  async text(): Promise<string> {
    return (await this.read()).toString('utf8');
  }

  /** The agent's key as dotenv reads it (noted as a secret for the leak check). */
  async agentKey(name = 'OPENAI_API_KEY'): Promise<string | undefined> {
    const v = dotenvParse(await this.read())[name];
    if (v && v !== PLACEHOLDER) journal.secrets.add(v);
    return v;
  }

  /**
   * What the agent would see: does /v1/models answer 200 with this key? On a connection of its own
   * (no keep-alive): lanes restart the stand-in, and a pooled socket it closed meanwhile answers
   * ECONNRESET, which says nothing about the key.
   */
  async works(key: string | undefined): Promise<boolean> {
    if (!key || key === PLACEHOLDER) return false;
    const res = await undiciFetch(`${this.proxy.url}/v1/models`, { headers: { authorization: `Bearer ${key}` }, dispatcher: FRESH_CONNECTIONS });
    await res.arrayBuffer();
    return res.status === 200;
  }

  keysWithAlias(alias = ALIAS) {
    return this.proxy.keys().filter((k) => k.key_alias === alias);
  }

  /** Keys a killed rotation issued and never put in place: unaliased and marked (or an earlier version's "(rotating)" alias). */
  rotationLeftovers(alias = ALIAS) {
    return this.proxy.keys().filter((k) => k.key_alias === `${alias} (rotating)` || (k.key_alias === null && k.metadata.bootstrap_alias === alias && 'bootstrap_rotation' in k.metadata));
  }

  async names(): Promise<string[]> {
    return (await readdir(this.dir)).sort();
  }

  async temps(): Promise<string[]> {
    return (await this.names()).filter((n) => TEMP_FILE.test(n));
  }

  /**
   * Resolves with the name of the first temp file created in the lab directory
   * after this call (of `target` only, when given: `.env`, `.env.litellm`, the ledger).
   */
  watchTemps(target?: string): { appeared: Promise<string>; close(): void } {
    let watcher: FSWatcher | undefined;
    const matches = (name: string) => TEMP_FILE.test(name) && (target === undefined || tempTarget(name) === target);
    const appeared = new Promise<string>((resolve) => {
      watcher = watch(this.dir, (_event, file) => {
        if (file && matches(String(file))) resolve(String(file));
      });
    });
    return { appeared, close: () => watcher?.close() };
  }

  /** Records every file left in the lab directory in the journal, then removes everything. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.proxy.close().catch(() => undefined);
    await recordFiles(this.name, this.dir, (name) => {
      if (name === '.env') return this.envMode;
      if (name === '.env.litellm' || name === '.env.bootstrap-backup' || name === '.llm-proxy-bootstrap.json') return 0o600;
      return undefined;
    });
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Puts every file under `dir` in the journal (content too, except `.env`). */
export async function recordFiles(lab: string, dir: string, expectedMode: (name: string) => number | undefined = () => undefined): Promise<void> {
  const walk = async (sub: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(path.join(dir, sub));
    } catch {
      return;
    }
    for (const n of names) {
      const rel = path.join(sub, n);
      const full = path.join(dir, rel);
      const st = await lstat(full).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        await walk(rel);
        continue;
      }
      if (!st.isFile()) continue;
      const isEnv = path.basename(rel) === '.env' || st.size > 4 * 1024 * 1024;
      journal.files.push({
        lab,
        name: rel,
        mode: st.mode & 0o7777,
        content: isEnv ? undefined : await readFile(full).catch(() => undefined),
        expectedMode: expectedMode(rel),
      });
    }
  };
  await walk('');
}

/** `stat(...).mode & 0o777` or undefined when missing. */
export async function modeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mode & 0o777;
  } catch {
    return undefined;
  }
}
