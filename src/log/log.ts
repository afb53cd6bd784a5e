/**
 * The logger: one line per event on stderr, written synchronously (a one-shot
 * CLI must not lose its last line to process.exit), scrubbed of every
 * registered secret.
 *
 * `json` lines carry pino's field names (`level` as a number, `time`, `name`,
 * `msg`), so log tooling that reads pino output reads these. `pretty` is a
 * terminal format: `HH:MM:ss.mmm LEVEL: message key=value`.
 *
 * Not pino: loading and creating a pino logger costs ~25 ms on every start
 * (docs/performance.md), more than the whole warm run may spend; the
 * bootstrap logs a handful of lines and needs none of pino's machinery.
 */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { REDACTED, scrub } from './redact.ts';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
type Fields = Record<string, unknown>;

export interface LogFn {
  (msg: string): void;
  (fields: Fields, msg: string): void;
}

export interface Logger {
  readonly level: LogLevel;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/** pino's numbers, which log tooling keys on. */
export const LEVELS: Record<Exclude<LogLevel, 'silent'>, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** Field names whose values may be a secret: replaced before anything is serialised (top level and one level down). */
const SECRET_FIELDS = new Set(['key', 'token', 'masterKey', 'apiKey', 'value', 'authorization']);

function redactFields(fields: Fields, nested = false): Fields {
  const out: Fields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (SECRET_FIELDS.has(name) && value !== undefined) out[name] = REDACTED;
    else if (!nested && value !== null && typeof value === 'object' && !Array.isArray(value)) out[name] = redactFields(value as Fields, true);
    else out[name] = value;
  }
  return out;
}

const COLORS: Record<string, string> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };

function prettyLine(level: Exclude<LogLevel, 'silent'>, time: Date, fields: Fields, msg: string, color: boolean): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${pad(time.getMilliseconds(), 3)}`;
  const name = level.toUpperCase();
  const tag = color ? `\x1b[${COLORS[level]}m${name}\x1b[39m` : name;
  const extra = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `[${clock}] ${tag}: ${msg}${extra.length ? ` ${extra.join(' ')}` : ''}\n`;
}

/** Where lines go; tests and the CLI use stderr. */
export type Sink = (line: string) => void;
const stderrSink: Sink = (line) => {
  writeSync(2, line);
};

export function createLogger(opts: { level: LogLevel; format: LogFormat; color?: boolean; sink?: Sink; now?: () => Date }): Logger {
  const threshold = opts.level === 'silent' ? Infinity : LEVELS[opts.level];
  const sink = opts.sink ?? stderrSink;
  const now = opts.now ?? (() => new Date());
  const color = opts.color ?? isatty(2);
  const emit = (level: Exclude<LogLevel, 'silent'>): LogFn =>
    ((a: Fields | string, b?: string) => {
      if (LEVELS[level] < threshold) return;
      const fields = typeof a === 'string' ? {} : redactFields(a);
      const msg = typeof a === 'string' ? a : (b ?? '');
      const time = now();
      const line =
        opts.format === 'pretty'
          ? prettyLine(level, time, fields, msg, color)
          : `${JSON.stringify({ level: LEVELS[level], time: time.toISOString(), name: 'llm-proxy-bootstrap', ...fields, msg })}\n`;
      sink(scrub(line));
    }) as LogFn;
  return {
    level: opts.level,
    trace: emit('trace'),
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    fatal: emit('fatal'),
  };
}

/** A logger for the moments before settings are known (bad settings, --help). */
export function fallbackLogger(): Logger {
  return createLogger({ level: 'info', format: 'json' });
}
