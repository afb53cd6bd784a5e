/**
 * What the proxy's refusals mean, for the kinds: each question answered here, from the answer
 * behind an error (a ProxyHttpError, or the one a ProxyRefusedError of asMaster/retrying wraps).
 * Nothing outside src/proxy/ reads a status code or a message text.
 */
import { ProxyRefusedError } from '../errors.ts';
import { ProxyHttpError } from './client.ts';
import { aliasFormatRule, isBareNotFound, isModelStorageOff } from './refusals.ts';

/** The proxy's answer behind `err`, unwrapped once. */
function answerOf(err: unknown): ProxyHttpError | undefined {
  const cause = err instanceof ProxyRefusedError ? err.cause : err;
  return cause instanceof ProxyHttpError ? cause : undefined;
}

/** The proxy has no such route: 405, or FastAPI's bare 404 (an older version, a gateway). */
export function routeMissing(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && (a.status === 405 || isBareNotFound(a));
}

/** The key (looked up by hash) is not on the proxy: a 4xx saying not found (LiteLLM's wording varies by version). */
export function keyNotFound(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && a.status < 500 && (a.status === 404 || /not found|does not exist/i.test(a.proxyMessage));
}

/** The row asked about is gone: 404 (LiteLLM's own, or any 404). */
export function rowGone(err: unknown): boolean {
  return answerOf(err)?.status === 404;
}

/** LiteLLM's own "not found" for a key (404 "Key ... not found."), not a missing route. */
export function keyGoneMeanwhile(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && a.status === 404 && !isBareNotFound(a) && /not found/i.test(a.proxyMessage);
}

/**
 * The proxy will not regenerate keys: unlicensed ("Regenerating Virtual Keys is an Enterprise
 * feature", a 500), or a version without the route (FastAPI's 404, or 405).
 */
export function regenerateRefused(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && (/enterprise/i.test(a.proxyMessage) || routeMissing(a));
}

/** /key/generate refused the alias because a key already holds it (400 "... alias ... exists"). */
export function aliasTaken(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && a.status === 400 && /alias/i.test(a.proxyMessage) && /exist/i.test(a.proxyMessage);
}

/** The proxy's key_alias rule, when it refused an alias for its format. */
export function aliasRule(err: unknown): string | undefined {
  const a = answerOf(err);
  return a && aliasFormatRule(a);
}

/** /key/update answered 401 or 404: every error of that route is an auth_error, so the key is looked up again. */
export function updateRefusedForKey(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && (a.status === 401 || a.status === 404);
}

/** The proxy cannot store models (STORE_MODEL_IN_DB off). */
export function modelStorageOff(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && isModelStorageOff(a);
}

/** /model/new refused our deterministic id: the model is registered already (another run, meanwhile). */
export function modelIdTaken(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && /failed to add model to db/i.test(a.proxyMessage);
}

/** /team/new refused our team_id: the team exists already ("Team id = X already exists"): created by another run meanwhile. */
export function teamIdTaken(err: unknown): boolean {
  const a = answerOf(err);
  return a !== undefined && a.status === 400 && /team id .* already exists/i.test(a.proxyMessage);
}

/** A listing refused for a reason other than the master key (a 4xx but 401/403: an older or restricted proxy); its status, else undefined. */
export function listingRefused(err: unknown): number | undefined {
  const a = answerOf(err);
  return a !== undefined && a.status >= 400 && a.status < 500 && a.status !== 401 && a.status !== 403 ? a.status : undefined;
}

/**
 * The answer is not one a LiteLLM proxy gives (not JSON, or not shaped as LiteLLM's): most often
 * another service at PROXY_BASE_URL. The client's message names the URL and the setting.
 */
export function notLiteLLMAnswer(err: unknown): boolean {
  return answerOf(err)?.type === 'invalid_response';
}

/** What the proxy answered (its status and message), for a message. */
export function answered(err: unknown): { status: string; message: string } {
  const a = answerOf(err);
  return a ? { status: String(a.status), message: a.proxyMessage } : { status: 'an error', message: (err as Error).message };
}
