/**
 * Waiting and retrying, both bounded by the run's deadline.
 * - waitForProxy: polls readiness with a short capped backoff, so a proxy that
 *   turns ready is noticed within ~0.1–0.3 s.
 * - retrying: transient failures (network, timeouts, 429, 5xx, DB not yet
 *   connected) are retried with backoff; answers that won't change are not.
 */
import { ProxyRefusedError, ProxyUnavailableError } from '../errors.ts';
import { isTransient, ProxyHttpError, type ProxyClient } from './client.ts';
import type { Logger } from '../log/log.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  deadline: number;
  waitSeconds: number;
  log: Logger;
  /** Backoff between polls: starts at `minDelayMs` (25), ×1.5, capped at `maxDelayMs` (100): readiness is noticed within ~0.1 s. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Resolves when `/health/readiness` says the database is connected. Readiness
 * answering at all means the proxy is live, so one request is enough when it is up.
 */
export async function waitForProxy(client: ProxyClient, opts: WaitOptions): Promise<{ attempts: number; waitedMs: number; dbReported: boolean }> {
  const started = Date.now();
  const minDelay = opts.minDelayMs ?? 25;
  const maxDelay = opts.maxDelayMs ?? 100;
  let delay = minDelay;
  let lastProblem = 'no answer yet';
  let announced = false;
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await client.readiness();
      // Newest proxies hide `db` from the public route and answer 503 while a configured
      // database is unreachable: a 200 without `db` is ready, as far as can be seen.
      if (r.status === 200 && (r.db === 'connected' || r.db === undefined)) {
        const waitedMs = Date.now() - started;
        if (announced) opts.log.info({ attempts: attempt, waitedMs }, 'proxy is ready');
        return { attempts: attempt, waitedMs, dbReported: r.db !== undefined };
      }
      if (r.db === 'Not connected') {
        // LiteLLM says this for both: no DATABASE_URL, or Prisma's first connection failed (it does not retry).
        throw new ProxyRefusedError(`the proxy at ${client.baseUrl} has no database connection (readiness says db "Not connected"): either no database is configured, or its first connection to the database failed although DATABASE_URL is set; virtual keys need one`, {
          hint: 'set DATABASE_URL for the proxy (see docker-compose.yml), or check that database (docker compose logs llm-proxy llm-proxy-db) and restart the proxy once it is reachable',
        });
      }
      lastProblem = r.db === undefined
        ? `proxy is live but not ready (readiness answered ${r.status}${r.message ? `: ${r.message}` : ''})`
        : `proxy is live but its database is not ready (db "${r.db}")`;
    } catch (err) {
      if (err instanceof ProxyRefusedError) throw err;
      if (err instanceof ProxyHttpError && !isTransient(err)) {
        throw new ProxyRefusedError(`${client.baseUrl} does not look like a LiteLLM proxy: ${err.message}`, {
          hint: 'check PROXY_BASE_URL',
        });
      }
      lastProblem = (err as Error).message;
    }
    if (!announced) {
      opts.log.info({ url: client.baseUrl, waitSeconds: opts.waitSeconds, reason: lastProblem }, 'waiting for the proxy');
      announced = true;
    } else {
      opts.log.debug({ attempt, reason: lastProblem }, 'proxy not ready yet');
    }
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) {
      throw new ProxyUnavailableError(`the proxy at ${client.baseUrl} was not ready within ${opts.waitSeconds}s; last problem: ${lastProblem}`, {
        hint: 'check the proxy (docker compose logs llm-proxy) or raise LITELLM_PROXY_WAIT_SECONDS',
      });
    }
    await sleep(Math.min(delay, remaining));
    delay = Math.min(maxDelay, delay * 1.5);
  }
}

export interface RetryOptions {
  deadline: number;
  log: Logger;
  /**
   * False when readiness did not report the database state (newest proxies): then a
   * "DB not connected" answer means the proxy has no database at all, not "not yet".
   */
  dbReported?: boolean;
}

const NO_DB = /(db|database) not connected|not connected to (db|database)|no connected db/i;

function noDatabase(err: unknown, opts: RetryOptions): boolean {
  return opts.dbReported === false && err instanceof ProxyHttpError && NO_DB.test(err.proxyMessage);
}

const BACKOFF = { minTimeout: 100, maxTimeout: 2000, factor: 2 };

/**
 * Runs `fn`, retrying transient failures until the deadline. The first attempt
 * runs directly: p-retry (and the perf_hooks it loads) is imported only when
 * something has to be retried, which a warm run never needs.
 */
export async function retrying<T>(what: string, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const retryable = (err: unknown) => isTransient(err) && !noDatabase(err, opts);
  const warn = (err: unknown, attempt: number, retryInMs: number) =>
    opts.log.warn({ step: what, attempt, retryInMs, reason: (err as Error).message }, 'transient proxy failure, retrying');
  try {
    try {
      return await fn();
    } catch (err) {
      if (!retryable(err) || Date.now() >= opts.deadline) throw err;
      const delay = Math.min(Math.round(BACKOFF.minTimeout * (1 + Math.random())), Math.max(0, opts.deadline - Date.now()));
      warn(err, 1, delay);
      await sleep(delay);
    }
    const { default: pRetry } = await import('p-retry');
    return await pRetry(fn, {
      retries: 1000,
      minTimeout: BACKOFF.minTimeout * BACKOFF.factor,
      maxTimeout: BACKOFF.maxTimeout,
      factor: BACKOFF.factor,
      randomize: true,
      maxRetryTime: Math.max(0, opts.deadline - Date.now()),
      shouldRetry: ({ error }) => retryable(error) && Date.now() < opts.deadline,
      onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
        if (retryable(error)) warn(error, attemptNumber + 1, retryDelay);
      },
    });
  } catch (err) {
    if (noDatabase(err, opts)) {
      throw new ProxyRefusedError(`${what}: the proxy has no database connection (${(err as Error).message}): either no database is configured, or its first connection failed although DATABASE_URL is set; virtual keys need one`, {
        hint: 'set DATABASE_URL for the proxy (see docker-compose.yml), or check that database and restart the proxy once it is reachable',
        cause: err,
      });
    }
    if (isTransient(err)) {
      throw new ProxyUnavailableError(`${what}: the proxy kept failing until the deadline; last error: ${(err as Error).message}`, {
        hint: 'check the proxy (docker compose logs llm-proxy) and run again',
        cause: err,
      });
    }
    throw err;
  }
}
