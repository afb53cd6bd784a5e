/**
 * What the proxy's refusals mean: the one place that reads an answer's status and text for the
 * kinds, and names it with a domain error (src/proxy/errors.ts). A refusal that means nothing in
 * particular stays a plain ProxyRefusedError (exit 4). Nothing outside src/proxy/ reads a status
 * code or a message text.
 */
import type { ProxyHttpError } from './client.ts';
import { AliasFormatError, AliasTakenError, KeyUpdateRefusedError, ModelIdTakenError, ModelStorageOffError, NotFoundError, RouteRefusedError, TeamIdTakenError, type ProxyMeaningError } from './errors.ts';
import { aliasFormatRule, isBareNotFound, isModelStorageOff } from './refusals.ts';

/** The proxy has no such route: 405, or FastAPI's bare 404 (an older version, a gateway). */
function routeMissing(a: ProxyHttpError): boolean {
  return a.status === 405 || isBareNotFound(a);
}

const KEY_INFO = /^\/key\/info$/;
const REGENERATE = /^\/key\/[^/]+\/regenerate$/;

/**
 * The domain error `answer` means for the call `plain` reports it as (same message, same hint, same
 * exit code), or undefined when it means nothing in particular. In the order of precedence.
 */
export function meaningOf(answer: ProxyHttpError, plain: { message: string; hint?: string | undefined }): ProxyMeaningError | undefined {
  const { status, route, proxyMessage: said } = answer;
  const opts = { hint: plain.hint };
  // /key/info: the key (looked up by hash) is not on the proxy: a 4xx saying not found (LiteLLM's wording varies by version).
  if (KEY_INFO.test(route) && status < 500 && (status === 404 || /not found|does not exist/i.test(said))) return new NotFoundError(plain.message, answer, opts);
  // The key to regenerate is gone (404 "Key ... not found."): another run rotated or deleted it meanwhile.
  if (REGENERATE.test(route) && status === 404 && !isBareNotFound(answer) && /not found/i.test(said)) return new NotFoundError(plain.message, answer, opts);
  // Regenerating keys is unlicensed ("Regenerating Virtual Keys is an Enterprise feature", a 500).
  if (REGENERATE.test(route) && /enterprise/i.test(said)) return new RouteRefusedError(plain.message, answer, opts);
  const rule = aliasFormatRule(answer);
  if (rule !== undefined) return new AliasFormatError(plain.message, answer, rule, opts);
  // /key/generate refused the alias because a key already holds it (400 "... alias ... exists").
  if (status === 400 && /alias/i.test(said) && /exist/i.test(said)) return new AliasTakenError(plain.message, answer, opts);
  // Every error of /key/update is an auth_error: a 401 or 404 there is about the key it names, not the master key.
  if (route === '/key/update' && (status === 401 || status === 404)) return new KeyUpdateRefusedError(plain.message, answer, opts);
  if (route.startsWith('/model/') && isModelStorageOff(answer)) return new ModelStorageOffError([], answer);
  // /model/new refused our deterministic id: registered already (another run, meanwhile).
  if (route === '/model/new' && /failed to add model to db/i.test(said)) return new ModelIdTakenError(plain.message, answer, opts);
  // /team/new refused our deterministic team_id ("Team id = X already exists"): created by another run meanwhile.
  if (route === '/team/new' && status === 400 && /team id .* already exists/i.test(said)) return new TeamIdTakenError(plain.message, answer, opts);
  if (routeMissing(answer)) return new RouteRefusedError(plain.message, answer, opts);
  // A listing refused for a reason other than the master key (a 4xx but 401/403: an older or restricted proxy).
  if (route === '/key/list' && status >= 400 && status < 500 && status !== 401 && status !== 403) return new RouteRefusedError(plain.message, answer, opts);
  return undefined;
}

/**
 * The answer is not one a LiteLLM proxy gives (not JSON, or not shaped as LiteLLM's): most often
 * another service at PROXY_BASE_URL. The client's message names the URL and the setting.
 */
export function notLiteLLMAnswer(answer: ProxyHttpError): boolean {
  return answer.type === 'invalid_response';
}
