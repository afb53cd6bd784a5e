/**
 * Helpers for applying a plan over many keys at once: requests run with a
 * bounded number in flight (p-limit), in chunks where a route takes many at once.
 */
import pLimit from 'p-limit';

/** A task not started because an earlier one failed for good. */
export class Skipped extends Error {
  constructor() {
    super('not started: an earlier request failed');
    this.name = 'Skipped';
  }
}

/**
 * Runs `fn` over `items` with at most `concurrency` running at once and waits for
 * every one that started. After the first failure no further item starts (they
 * settle as Skipped): a proxy refusing one key is likely to refuse the next, and
 * what did succeed must still be recorded and written.
 */
export async function settleAll<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const limit = pLimit(Math.max(1, concurrency));
  let failed = false;
  return Promise.allSettled(
    items.map((item) =>
      limit(async () => {
        if (failed) throw new Skipped();
        try {
          return await fn(item);
        } catch (err) {
          failed = true;
          throw err;
        }
      }),
    ),
  );
}

/** The first real failure among settled results (Skipped ones are its consequence). */
export function firstFailure(results: readonly PromiseSettledResult<unknown>[]): unknown {
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  return failures.find((e) => !(e instanceof Skipped)) ?? failures[0];
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
