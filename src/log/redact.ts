/**
 * The secret registry. Every secret the bootstrap reads or creates (master key,
 * provider keys, virtual keys, values it preserves, everything written to the
 * proxy's env file) is registered here, and every byte that leaves the process
 * through the logger is scrubbed against it. Errors are written not to contain
 * values in the first place; this is the safety net.
 *
 * Two passes: every registered value, whole (and JSON-escaped), becomes
 * [REDACTED]; then any run of text holding an 8-character piece of a credential
 * (a secret registered with `pieces`, the default) is redacted too, so a secret
 * cut short (a proxy's message truncated, a key echoed in part) does not get out
 * either. Pieces lying wholly inside a documented public prefix (`sk-proj-`)
 * are not secret and not looked for.
 */
const secrets = new Set<string>();
/** The registered values whose pieces are looked for too (credentials). */
const credentials = new Set<string>();
/** Values known to be public (the template's placeholders): never registered, whatever reads them. */
const publicValues = new Set<string>();
const MIN_SECRET_LENGTH = 6;
/** Length of the pieces of a credential that may not appear anywhere. */
export const PIECE_LENGTH = 8;
/** Prefixes providers document: they say what a key is, not which. */
const PUBLIC_PREFIXES = ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 'sk-None-', 'sk-ant-api03-', 'sk-ant-admin01-', 'sk-or-v1-', 'https://', 'http://'];
/**
 * A piece made only of lowercase letters and separators reads as a word ("provider", "-change-"),
 * and messages are made of words: looking for it would redact the message, not a secret. A random
 * key's pieces hold digits or capitals all but always; the key whole is still redacted.
 */
const WORDLIKE = /^[a-z._\-/:]+$/;
/** Every 8-character piece of every credential (and of its JSON-escaped form); rebuilt when a value comes or goes. */
let pieces: Set<string> | null = null;
let pattern: RegExp | null = null;

export const REDACTED = '[REDACTED]';

export interface RegisterOptions {
  /**
   * Also redact any 8-character piece of it (default). Off for settings that are not
   * credentials but must not be shown whole either (an API base URL, an API version):
   * their pieces (`https://`, `2024-10-`) are everyday text.
   */
  pieces?: boolean;
}

export function registerSecret(value: string | undefined | null, opts: RegisterOptions = {}): void {
  if (!value) return;
  const trimmed = value.trim();
  if (trimmed.length < MIN_SECRET_LENGTH || publicValues.has(trimmed)) return;
  if (opts.pieces !== false && !credentials.has(trimmed)) {
    credentials.add(trimmed);
    pieces = null;
  }
  if (secrets.has(trimmed)) return;
  secrets.add(trimmed);
  pattern = null;
}

/**
 * Values anyone can read (the template's placeholders, the docs' example key): not secrets, so
 * neither they nor their pieces ("database", "password") are redacted from messages, even when
 * a setting still holds one and was registered before it was judged.
 */
export function declarePublic(values: Iterable<string>): void {
  for (const value of values) {
    const trimmed = value.trim();
    publicValues.add(trimmed);
    if (secrets.delete(trimmed)) pattern = null;
    if (credentials.delete(trimmed)) pieces = null;
  }
}

function piecesOf(value: string): string[] {
  const prefix = Math.max(0, ...PUBLIC_PREFIXES.filter((p) => value.startsWith(p)).map((p) => p.length));
  const out: string[] = [];
  for (let i = 0; i + PIECE_LENGTH <= value.length; i++) {
    const piece = value.slice(i, i + PIECE_LENGTH);
    if (i + PIECE_LENGTH > prefix && !WORDLIKE.test(piece)) out.push(piece);
  }
  return out;
}

function allPieces(): Set<string> {
  if (pieces === null) {
    pieces = new Set();
    for (const value of credentials) for (const form of [value, JSON.stringify(value).slice(1, -1)]) for (const p of piecesOf(form)) pieces.add(p);
  }
  return pieces;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces every registered secret (and its JSON-escaped form), then every run of text holding a piece of a credential. */
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
  return scrubPieces(text.replace(pattern, REDACTED));
}

/** Each maximal run of overlapping 8-character pieces of credentials becomes one [REDACTED]. */
function scrubPieces(text: string): string {
  const pieces = allPieces();
  if (pieces.size === 0 || text.length < PIECE_LENGTH) return text;
  let out = '';
  let copied = 0;
  let start = -1;
  let end = -1;
  for (let i = 0; i + PIECE_LENGTH <= text.length; i++) {
    if (!pieces.has(text.slice(i, i + PIECE_LENGTH))) continue;
    if (i > end) {
      if (start !== -1) {
        out += text.slice(copied, start) + REDACTED;
        copied = end;
      }
      start = i;
    }
    end = i + PIECE_LENGTH;
  }
  if (start === -1) return text;
  return out + text.slice(copied, start) + REDACTED + text.slice(end);
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
  credentials.clear();
  publicValues.clear();
  pieces = null;
  pattern = null;
}
