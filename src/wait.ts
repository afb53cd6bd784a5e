/**
 * Waiting and retrying, both bounded by the run's deadline.
 * - waitForProxy: polls readiness with a short capped backoff, so a proxy that
 *   turns ready is noticed within ~0.1–0.3 s.
 * - retrying: transient failures (network, timeouts, 429, 5xx, DB not yet
 *   connected) are retried with backoff; answers that won't change are not.
 */
import pRetry from 'p-retry';
import { ProxyRefusedError, ProxyUnavailableError } from './errors.ts';
import { isTransient, ProxyHttpError, type ProxyClient } from './proxy-client.ts';
import type { Logger } from './log.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  deadline: number;
  waitSeconds: number;
  log: Logger;
  /** Backoff between polls: starts at `minDelayMs`, ×1.5, capped at `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Resolves when `/health/readiness` says the database is connected. Readiness
 * answering at all means the proxy is live, so one request is enough when it is up.
 */
export async function waitForProxy(client: ProxyClient, opts: WaitOptions): Promise<{ attempts: number; waitedMs: number }> {
  const started = Date.now();
  const minDelay = opts.minDelayMs ?? 50;
  const maxDelay = opts.maxDelayMs ?? 250;
  let delay = minDelay;
  let lastProblem = 'no answer yet';
  let announced = false;
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await client.readiness();
      if (r.status === 200 && r.db === 'connected') {
        const waitedMs = Date.now() - started;
        if (announced) opts.log.info({ attempts: attempt, waitedMs }, 'proxy is ready');
        return { attempts: attempt, waitedMs };
      }
      if (r.db === 'Not connected') {
        throw new ProxyRefusedError(`the proxy at ${client.baseUrl} has no database (readiness says db "Not connected"); virtual keys need one`, {
          hint: 'give the proxy a DATABASE_URL (see docker-compose.yml) and restart it',
        });
      }
      lastProblem = r.db === undefined
        ? `readiness answered ${r.status} without a db state${r.message ? `: ${r.message}` : ''}`
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
}

/** Runs `fn`, retrying transient failures until the deadline. */
export async function retrying<T>(what: string, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  try {
    return await pRetry(fn, {
      retries: 1000,
      minTimeout: 100,
      maxTimeout: 2000,
      factor: 2,
      randomize: true,
      maxRetryTime: Math.max(0, opts.deadline - Date.now()),
      shouldRetry: ({ error }) => isTransient(error) && Date.now() < opts.deadline,
      onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
        if (isTransient(error)) opts.log.warn({ step: what, attempt: attemptNumber, retryInMs: retryDelay, reason: error.message }, 'transient proxy failure, retrying');
      },
    });
  } catch (err) {
    if (isTransient(err)) {
      throw new ProxyUnavailableError(`${what}: the proxy kept failing until the deadline; last error: ${(err as Error).message}`, {
        hint: 'check the proxy (docker compose logs llm-proxy) and run again',
        cause: err,
      });
    }
    throw err;
  }
}
