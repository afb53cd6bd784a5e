/**
 * Waiting and retrying, both bounded by the run's deadline.
 * Both loops are p-retry's (retrying through src/retry.ts, shared with the Kubernetes client).
 * - waitForProxy: polls readiness with a short capped backoff, so a proxy that
 *   turns ready is noticed within ~0.1–0.3 s.
 * - retrying: transient failures (network, timeouts, 429, 5xx, DB not yet
 *   connected) are retried with backoff; answers that won't change are not.
 */
import pRetry from 'p-retry';
import { BootstrapError, ProxyRefusedError, ProxyUnavailableError } from '../errors.ts';
import { isTransient, ProxyHttpError, ProxyNetworkError, saysNoDatabase, type ProxyClient } from './client.ts';
import type { Logger } from '../log/log.ts';
import { retryUntil } from '../retry.ts';

export interface WaitOptions {
  deadline: number;
  waitSeconds: number;
  log: Logger;
  /** Backoff between polls: starts at `minDelayMs` (25), ×1.5, capped at `maxDelayMs` (100): readiness is noticed within ~0.1 s. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** A readiness answer that is not "ready" yet: p-retry polls again. */
class NotReady extends Error {
  constructor(
    message: string,
    readonly deadlineCut = false,
  ) {
    super(message);
  }
}

/**
 * Resolves when `/health/readiness` says the database is connected. Readiness
 * answering at all means the proxy is live, so one request is enough when it is up.
 */
export async function waitForProxy(client: ProxyClient, opts: WaitOptions): Promise<{ attempts: number; waitedMs: number; dbReported: boolean }> {
  const started = Date.now();
  let lastProblem = 'no answer yet';
  let announced = false;
  let attempts = 0;
  const poll = async () => {
    attempts++;
    let r: Awaited<ReturnType<ProxyClient['readiness']>>;
    try {
      r = await client.readiness(opts.deadline);
    } catch (err) {
      if (err instanceof ProxyHttpError && !isTransient(err)) {
        throw new ProxyRefusedError(`${client.baseUrl} does not look like a LiteLLM proxy: ${err.message}`, { hint: 'check PROXY_BASE_URL' });
      }
      // Decided already (an untrusted certificate): waiting changes nothing.
      if (err instanceof BootstrapError) throw err;
      throw new NotReady((err as Error).message, err instanceof ProxyNetworkError && err.code === 'deadline');
    }
    // Newest proxies hide `db` from the public route and answer 503 while a configured
    // database is unreachable: a 200 without `db` is ready, as far as can be seen.
    if (r.status === 200 && (r.db === 'connected' || r.db === undefined)) return { dbReported: r.db !== undefined };
    if (r.db === 'Not connected') {
      // LiteLLM says this for both: no DATABASE_URL, or Prisma's first connection failed (it does not retry).
      throw new ProxyRefusedError(`the proxy at ${client.baseUrl} has no database connection (readiness says db "Not connected"): either no database is configured, or its first connection to the database failed although DATABASE_URL is set; virtual keys need one`, {
        hint: 'set DATABASE_URL for the proxy (see docker-compose.yml), or check that database (docker compose logs llm-proxy llm-proxy-db) and restart the proxy once it is reachable',
      });
    }
    throw new NotReady(
      r.db === undefined
        ? `proxy is live but not ready (readiness answered ${r.status}${r.message ? `: ${r.message}` : ''})`
        : `proxy is live but its database is not ready (db "${r.db}")`,
    );
  };
  let dbReported: boolean;
  try {
    ({ dbReported } = await pRetry(poll, {
      retries: Infinity,
      minTimeout: opts.minDelayMs ?? 25,
      maxTimeout: opts.maxDelayMs ?? 100,
      factor: 1.5,
      randomize: false,
      maxRetryTime: Math.max(0, opts.deadline - Date.now()),
      shouldRetry: ({ error }) => error instanceof NotReady,
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (!(error instanceof NotReady)) return;
        // A request cut short by the deadline tells nothing new: the problem before it stays the one reported.
        if (!(error.deadlineCut && announced)) lastProblem = error.message;
        if (!announced) opts.log.info({ url: client.baseUrl, waitSeconds: opts.waitSeconds, reason: lastProblem }, 'waiting for the proxy');
        else opts.log.debug({ attempt: attemptNumber, reason: lastProblem }, 'proxy not ready yet');
        announced = true;
      },
    }));
  } catch (err) {
    if (!(err instanceof NotReady)) throw err;
    // What it really waited, counted like the deadline: from the run's start (a lock or a key probe may come first).
    const waited = ((Date.now() - (opts.deadline - opts.waitSeconds * 1000)) / 1000).toFixed(1);
    throw new ProxyUnavailableError(`the proxy at ${client.baseUrl} (PROXY_BASE_URL) was not ready: waited ${waited}s (LITELLM_PROXY_WAIT_SECONDS=${opts.waitSeconds}, ${attempts} attempt(s)); last problem: ${lastProblem}`, {
      hint: 'check the proxy (docker compose logs llm-proxy) or raise LITELLM_PROXY_WAIT_SECONDS',
    });
  }
  const waitedMs = Date.now() - started;
  if (announced) opts.log.info({ attempts, waitedMs }, 'proxy is ready');
  return { attempts, waitedMs, dbReported };
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

function noDatabase(err: unknown, opts: RetryOptions): boolean {
  return opts.dbReported === false && err instanceof ProxyHttpError && saysNoDatabase(err);
}

/** Runs `fn`, retrying transient failures with backoff (100 ms doubling to 2 s, jittered) until the deadline. */
export async function retrying<T>(what: string, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  try {
    return await retryUntil(fn, {
      deadline: opts.deadline,
      retryable: (err) => isTransient(err) && !noDatabase(err, opts),
      onRetry: (err, attempt, retryInMs) => opts.log.warn({ step: what, attempt, retryInMs, reason: err.message }, 'transient proxy failure, retrying'),
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
