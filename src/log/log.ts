/**
 * The logger: pino, one line per event on stderr.
 *
 * - json (off a terminal): pino's own lines (`level` as a number, `time`,
 *   `name: "llm-proxy-bootstrap"`, the fields, `msg`), so pino's tooling reads them.
 * - pretty (on a terminal): pino-pretty, run in this process as the destination
 *   stream (prettyFactory), not as a worker transport: the CLI is one bundled
 *   file, and a worker would need a file of its own.
 *
 * Secrets: pino's `redact` replaces the fields that may hold one (top level and
 * one level down), and every line is scrubbed of every registered secret value
 * (redact.ts) before it is written. Writes are synchronous (sonic-boom with
 * `sync: true`), so the last line of a run is never lost to process.exit.
 */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import { REDACTED, scrub } from './redact.ts';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type Logger = PinoLogger;

/** Field names whose values may be a secret. */
const SECRET_FIELDS = ['key', 'token', 'masterKey', 'apiKey', 'value', 'authorization'];
const REDACT_PATHS = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

/** Where lines go (one complete line per call); the CLI writes to stderr. */
export type Sink = (line: string) => void;

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Colours in pretty output; default: whether stderr is a terminal. */
  color?: boolean;
  sink?: Sink;
  /** The clock (tests). */
  now?: () => Date;
}

function stderrSink(): Sink {
  const dest = pino.destination({ dest: 2, sync: true });
  return (line) => dest.write(line);
}

function make(opts: LoggerOptions, stream: DestinationStream): Logger {
  const now = opts.now ?? (() => new Date());
  return pino(
    {
      name: 'llm-proxy-bootstrap',
      level: opts.level,
      base: {},
      timestamp: () => `,"time":"${now().toISOString()}"`,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
    },
    stream,
  );
}

export async function createLogger(opts: LoggerOptions): Promise<Logger> {
  const sink = opts.sink ?? stderrSink();
  if (opts.format === 'json') return make(opts, { write: (line) => sink(scrub(line)) });
  // pino-pretty loads only for a terminal (or LOG_FORMAT=pretty).
  const { prettyFactory } = await import('pino-pretty');
  const color = opts.color ?? process.getBuiltinModule('node:tty').isatty(2);
  const pretty = prettyFactory({ colorize: color, translateTime: 'HH:MM:ss.l', ignore: 'name,pid,hostname', singleLine: true });
  return make(opts, { write: (line) => sink(pretty(scrub(line))) });
}

/** A logger for the moments before settings are known (bad settings, --help). */
export function fallbackLogger(): Logger {
  const sink = stderrSink();
  return make({ level: 'info', format: 'json' }, { write: (line) => sink(scrub(line)) });
}
