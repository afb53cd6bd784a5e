/**
 * Durations as LiteLLM reads them, checked before any request (pure, no I/O).
 *
 * LiteLLM (litellm_core_utils/duration_parser.py) reads a key's lifetime with
 * `duration_in_seconds`: re.match(r"(\d+)(mo|[smhdw]?)") — a number and one of
 * s, m, h, d, w, mo; anything after that prefix is ignored ("30days" is 30d), a
 * missing unit is an error (a 500 from /key/generate). A budget's reset period goes
 * through `get_next_standardized_reset_time`, which reads r"(\d+)([a-z]+)" instead:
 * "30days" there is an unknown unit and silently resets at the next midnight, and
 * months other than 1 raise "Monthly resets currently only support 1 month
 * intervals" (/key/generate answers 500, /key/update 400).
 *
 * So the only spellings both readers agree on are `<N><unit>` exactly; those are
 * what the bootstrap accepts, with N > 0 (a 0 lifetime issues a dead key, a 0 reset
 * period resets on every request) and, for budgets, months only as `1mo`.
 */
import * as z from 'zod';

export type DurationUse = 'key lifetime' | 'budget reset';

const SHAPE = /^(\d+)(s|m|h|d|w|mo)$/;

export const DURATION_EXAMPLES = '30s, 30m, 12h, 30d, 4w or 1mo';

/** Why LiteLLM would refuse or misread `value`; undefined when it is fine. */
export function durationProblem(value: string, use: DurationUse): string | undefined {
  const m = SHAPE.exec(value);
  if (!m) {
    return `must be a number and a unit (s, m, h, d, w or mo) with nothing else, like ${DURATION_EXAMPLES}; got ${JSON.stringify(value)}`;
  }
  const n = Number(m[1]);
  if (!(n > 0) || !Number.isSafeInteger(n)) return `must be more than 0; got ${JSON.stringify(value)}`;
  if (use === 'budget reset' && m[2] === 'mo' && n !== 1) {
    return `can only use months as 1mo: LiteLLM resets budgets monthly on the 1st ("Monthly resets currently only support 1 month intervals"); got ${JSON.stringify(value)} (use 1mo, or days such as 60d)`;
  }
  return undefined;
}

/** The same rule as a zod schema, for the settings schema and the keys file. */
export function durationSchema(use: DurationUse) {
  return z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      const problem = durationProblem(value, use);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, mo: 30 * 86_400 };

/** A valid duration in milliseconds (a month counted as 30 days: for comparing windows, never for expiries). */
export function durationMs(value: string): number {
  const m = SHAPE.exec(value);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(value)}`);
  return Number(m[1]) * UNIT_SECONDS[m[2]!]! * 1000;
}

/** Why a renew window does not fit the key's lifetime (every run would renew it); undefined when it fits. */
export function renewWindowProblem(renewBefore: string | undefined, duration: string | undefined): string | undefined {
  if (renewBefore === undefined || duration === undefined) return undefined;
  if (durationMs(renewBefore) < durationMs(duration)) return undefined;
  return `must be shorter than the key's lifetime (${duration}); otherwise every run would renew the key`;
}
