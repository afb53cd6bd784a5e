/**
 * Durations are refused before any request when LiteLLM would refuse or misread them
 * (litellm_core_utils/duration_parser.py: duration_in_seconds for a key's lifetime,
 * get_next_standardized_reset_time for a budget's reset).
 */
import { describe, expect, it } from 'vitest';
import { durationProblem } from '../../src/config/duration.ts';

describe('durationProblem', () => {
  it('accepts a number and one of s, m, h, d, w, mo, for both uses', () => {
    for (const v of ['30s', '30m', '12h', '1d', '7d', '30d', '4w', '1mo', '90d']) {
      expect(durationProblem(v, 'key lifetime'), v).toBeUndefined();
      expect(durationProblem(v, 'budget reset'), v).toBeUndefined();
    }
  });

  it('months other than 1 are fine for a lifetime, refused for a budget (LiteLLM: 500 on generate, 400 on update)', () => {
    expect(durationProblem('2mo', 'key lifetime')).toBeUndefined();
    expect(durationProblem('2mo', 'budget reset')).toMatch(/can only use months as 1mo.*Monthly resets currently only support 1 month intervals/);
    expect(durationProblem('12mo', 'budget reset')).toMatch(/1mo/);
  });

  it('refuses what LiteLLM refuses or reads differently from what was meant', () => {
    // no unit: duration_in_seconds raises; the reset parser falls back to midnight
    expect(durationProblem('30', 'key lifetime')).toMatch(/a number and a unit/);
    // trailing text: 30d to one parser, an unknown unit (reset at midnight) to the other
    expect(durationProblem('30days', 'budget reset')).toMatch(/nothing else/);
    for (const v of ['30D', ' 30d', '1.5h', '-1d', 'monthly', '', '1y']) expect(durationProblem(v, 'budget reset'), v).toBeDefined();
  });

  it('0 is refused: a key dead on arrival, a budget reset on every request', () => {
    expect(durationProblem('0d', 'key lifetime')).toMatch(/more than 0/);
    expect(durationProblem('0s', 'budget reset')).toMatch(/more than 0/);
  });
});
