/**
 * SIGTERM (docker stop, Kubernetes) and SIGINT (Ctrl-C): the run stops at once, releases the
 * lock it holds (so the next run does not wait for it to go stale), says in one line what was
 * done and what was not, and exits 143 (SIGTERM) or 130 (SIGINT), the shell's 128 + signal.
 */
import { releaseHeldLocks } from '../store/lock.ts';
import { interruptedSummary } from '../reconcile/progress.ts';
import type { Logger } from '../log/log.ts';

export const INTERRUPTED_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

export function exitOnSignals(logger: () => Logger): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      const released = releaseHeldLocks();
      const code = INTERRUPTED_EXIT[signal];
      const lock = released.length ? `; released the lock ${released.join(', ')}` : '';
      logger().error({ exitCode: code, signal }, `failed (exit ${code}): ${interruptedSummary(signal)}${lock}`);
      process.exit(code);
    });
  }
}
