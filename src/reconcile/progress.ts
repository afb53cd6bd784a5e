/**
 * What the run is doing right now, for the one line a run stopped by SIGTERM or SIGINT ends
 * with (src/cli/signals.ts): which phase it was in, what it had done, what it had not.
 * Set by run.ts at each phase with a one-line call; read only when a signal arrives.
 */
export interface Phase {
  /** e.g. `waiting for the proxy at http://llm-proxy:4000`. */
  what: string;
  /** Whether anything may have been changed yet (files written, keys issued, models registered). */
  changes: boolean;
  /** What was done so far, as the summary line says it (`done: created key ...`), when `changes`. */
  done?: () => string;
  /** Steps of the plan being applied. */
  planned?: number;
}

let current: Phase = { what: 'reading the settings and files', changes: false };

export function enterPhase(phase: Phase): void {
  current = phase;
}

/** The one line an interrupted run ends with. */
export function interruptedSummary(signal: string): string {
  const head = `interrupted by ${signal} while ${current.what}`;
  if (!current.changes) return `${head}: nothing was changed (no file written, no key issued, no model registered); run again to finish`;
  let done = '';
  try {
    done = current.done?.().replace(/^done: /, '') ?? '';
  } catch {
    done = '';
  }
  const rest = current.planned ? ` of ${current.planned} planned step(s)` : '';
  return `${head}: done: ${done || 'nothing yet'}; not done: the rest${rest} (each step is crash-safe: the next run looks again and finishes it)`;
}
