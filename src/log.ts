import pino, { type Logger, type DestinationStream } from 'pino';
import { scrub } from './redact.ts';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type { Logger };

/** Field names that may carry a secret; pino replaces their values before serialising. */
const REDACT_PATHS = [
  'key', 'token', 'masterKey', 'apiKey', 'value', 'authorization', 'headers.authorization',
  '*.key', '*.token', '*.masterKey', '*.apiKey', '*.value',
];

/** A destination that writes to stderr synchronously and scrubs registered secrets from every line. */
function scrubbingStderr(): DestinationStream {
  const dest = pino.destination({ dest: 2, sync: true });
  return {
    write(line: string) {
      dest.write(scrub(line));
    },
  };
}

export async function createLogger(opts: { level: LogLevel; format: LogFormat }): Promise<Logger> {
  const base = {
    level: opts.level,
    base: { name: 'llm-proxy-bootstrap' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.format === 'pretty') {
    // Loaded only when asked for: the JSON path (containers, CI) never pays for it.
    const [{ default: pretty }, { Writable }, { writeSync }] = await Promise.all([import('pino-pretty'), import('node:stream'), import('node:fs')]);
    const stderr = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        writeSync(2, scrub(chunk.toString('utf8')));
        callback();
      },
    });
    const stream = pretty({
      destination: stderr,
      sync: true,
      colorize: process.stderr.isTTY === true,
      ignore: 'pid,hostname,name',
      translateTime: 'HH:MM:ss.l',
    });
    return pino(base, stream);
  }
  return pino(base, scrubbingStderr());
}

/** A logger for the moments before settings are known (bad settings, --help). */
export function fallbackLogger(): Logger {
  return pino({ level: 'info', base: { name: 'llm-proxy-bootstrap' }, timestamp: pino.stdTimeFunctions.isoTime }, scrubbingStderr());
}
