/**
 * llm-proxy-bootstrap: exit codes 0 done, 1 unexpected, 2 bad input, 3 proxy not
 * ready in time, 4 proxy refused, 5 drift (--check), 130/143 stopped by SIGINT/SIGTERM.
 * The last line says what happened and what to do.
 */
import { isatty } from 'node:tty';
import { parseArgs } from '../config/settings.ts';
import { BootstrapError, EnvFileError, ExitCode } from '../errors.ts';
import { fileOrigin } from '../store/file-origins.ts';
import { fallbackLogger, type Logger } from '../log/log.ts';
import { run } from '../reconcile/run.ts';
import { exitOnSignals } from './signals.ts';

declare const __BOOTSTRAP_VERSION__: string | undefined;
const version = typeof __BOOTSTRAP_VERSION__ === 'string' ? __BOOTSTRAP_VERSION__ : '0.0.0-dev';

async function main(): Promise<number> {
  let log: Logger | undefined;
  exitOnSignals(() => log ?? fallbackLogger());
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) {
      process.stdout.write((await import('./help.ts')).helpText(version));
      return ExitCode.ok;
    }
    if (args.version) {
      process.stdout.write(`${version}\n`);
      return ExitCode.ok;
    }
    const result = await run(
      {
        env: process.env,
        cwd: process.cwd(),
        // isatty, not process.stderr.isTTY: creating the process.stderr stream costs start-up time.
        isTTY: isatty(2),
        stdout: (text) => process.stdout.write(text),
        onLogger: (l) => {
          log = l;
        },
      },
      args,
      version,
    );
    result.log.info({ exitCode: result.exitCode }, result.summary);
    return result.exitCode;
  } catch (err) {
    const exitCode = err instanceof BootstrapError ? err.exitCode : ExitCode.unexpected;
    let message = err instanceof Error ? err.message : String(err);
    // A failure about a file says which setting and flag point at it.
    const origin = err instanceof BootstrapError ? fileOrigin(message, err instanceof EnvFileError ? err.path : undefined) : undefined;
    if (origin) message += ` (${origin})`;
    const hint = err instanceof BootstrapError ? err.hint : 'this is a bug or an unexpected environment; run with LOG_LEVEL=debug for details';
    const logger = log ?? fallbackLogger();
    if (!(err instanceof BootstrapError)) logger.debug({ stack: err instanceof Error ? err.stack : undefined }, 'unexpected error');
    logger.error({ exitCode }, `failed (exit ${exitCode}): ${message}${hint ? `. What to do: ${hint}` : ''}`);
    return exitCode;
  }
}

void main().then((code) => process.exit(code));
