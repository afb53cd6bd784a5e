/**
 * The one rule for durations (a key's lifetime, a budget's reset period), used
 * by the settings schema and the keys file alike.
 */
import * as z from 'zod';

const DURATION = /^\d+(s|m|h|d|mo)$/;

/** A duration LiteLLM accepts; `budget` periods are also shown with `1mo`. */
export function durationSchema(kind: 'lifetime' | 'budget') {
  return z.string().trim().regex(DURATION, { error: kind === 'budget' ? 'must look like 30s, 30m, 30h, 30d or 1mo' : 'must look like 30s, 30m, 30h or 30d' });
}
