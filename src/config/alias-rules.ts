/**
 * The key_alias rules every current LiteLLM enforces whatever its configuration, checked locally
 * so a bad alias is exit 2 before any request (an operator's `key_alias_pattern` stays the proxy's
 * to enforce: its 400 is reported by src/proxy/refusals.ts aliasFormatRule).
 *
 * - `..` anywhere and control characters (C0, DEL, C1, U+2028, U+2029): LiteLLM PR #32092,
 *   `raise_if_unsafe_secret_name` (litellm/secret_managers/base_secret_manager.py), called by
 *   `_validate_key_alias_format` unconditionally on /key/generate, /key/update and regenerate.
 *   Its first version refused only a `..` path segment; the current one any `..` substring.
 * - empty, `-` or whitespace only: LiteLLM PR #22384. The newest builds do not apply it on every
 *   route (LiteLLM issue #40705: an update stores ""), but such an alias names nothing: refused here.
 * LiteLLM 1.77 checks none of these; refusing them everywhere keeps one alias valid on every version.
 */

// source: base_secret_manager._UNSAFE_SECRET_NAME_PATTERN
const UNSAFE = /\.\.|[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

/** Why LiteLLM refuses `alias` whatever its configuration, or undefined when it does not. */
export function aliasProblem(alias: string): string | undefined {
  if (alias.trim() === '') return 'must not be empty or only whitespace (LiteLLM PR #22384 refuses such an alias)';
  if (alias === '-') return 'must not be "-" (LiteLLM PR #22384 refuses it as an alias)';
  const m = UNSAFE.exec(alias);
  if (m) return m[0] === '..' ? 'must not contain ".." (every current LiteLLM refuses it in an alias)' : 'must not contain control characters or line breaks (every current LiteLLM refuses them in an alias)';
  return undefined;
}
