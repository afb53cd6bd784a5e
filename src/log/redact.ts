/**
 * The secret registry. Every secret the bootstrap reads or creates (master key,
 * provider keys, virtual keys, values it preserves) is registered here, and every
 * byte that leaves the process through the logger is scrubbed against it. Errors
 * are written not to contain values in the first place; this is the safety net.
 */
const secrets = new Set<string>();
const MIN_SECRET_LENGTH = 6;
let pattern: RegExp | null = null;

export const REDACTED = '[REDACTED]';

export function registerSecret(value: string | undefined | null): void {
  if (!value) return;
  const trimmed = value.trim();
  if (trimmed.length < MIN_SECRET_LENGTH || secrets.has(trimmed)) return;
  secrets.add(trimmed);
  pattern = null;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces every registered secret (and its JSON-escaped form) in `text`. */
export function scrub(text: string): string {
  if (secrets.size === 0) return text;
  if (pattern === null) {
    const forms = new Set<string>();
    for (const s of secrets) {
      forms.add(s);
      forms.add(JSON.stringify(s).slice(1, -1));
    }
    // Longest first so a secret that contains another is replaced whole.
    const sorted = [...forms].sort((a, b) => b.length - a.length).map(escape);
    pattern = new RegExp(sorted.join('|'), 'g');
  }
  return text.replace(pattern, REDACTED);
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
  pattern = null;
}
