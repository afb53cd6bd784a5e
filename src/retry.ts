/**
 * The one backoff for requests that may succeed later (the LiteLLM proxy's and the Kubernetes
 * API's transient failures): p-retry, 100 ms doubling to 2 s with jitter, until the run's
 * deadline. Each caller says what is worth retrying and maps what is left to its own errors.
 */
import pRetry from 'p-retry';

export interface RetryUntil {
  /** Epoch ms: no attempt starts after it. */
  deadline: number;
  retryable: (err: unknown) => boolean;
  /** Told before each retry (not after the last failure). */
  onRetry: (err: Error, attempt: number, retryInMs: number) => void;
}

export function retryUntil<T>(fn: () => Promise<T>, opts: RetryUntil): Promise<T> {
  return pRetry(fn, {
    retries: Infinity,
    minTimeout: 100,
    maxTimeout: 2000,
    factor: 2,
    randomize: true,
    maxRetryTime: Math.max(0, opts.deadline - Date.now()),
    shouldRetry: ({ error }) => opts.retryable(error) && Date.now() < opts.deadline,
    onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
      if (opts.retryable(error) && Date.now() < opts.deadline) opts.onRetry(error, attemptNumber, retryDelay);
    },
  });
}
