/**
 * proxy/ says what LiteLLM's refusals mean with domain errors (src/proxy/errors.ts), so the kinds
 * decide by class and never read a status or a message. Each keeps the message, hint and exit code
 * the refusal had, so a user reads what they read before whichever kind fails to handle it.
 */
import { describe, expect, it } from 'vitest';
import { masterCallError } from '../../src/proxy/as-master.ts';
import { ProxyHttpError } from '../../src/proxy/client.ts';
import { AliasFormatError, AliasTakenError, KeyUpdateRefusedError, ModelIdTakenError, ModelStorageOffError, NotFoundError, ProxyMeaningError, RouteRefusedError } from '../../src/proxy/errors.ts';
import { ProxyRefusedError } from '../../src/errors.ts';

const http = (method: string, route: string, status: number, message: string, type?: string) => new ProxyHttpError(method, route, status, type, message);

/** [answer, what the caller gets, its message] */
const cases: [string, ProxyHttpError, abstract new (...args: never[]) => Error, RegExp][] = [
  ['a key lookup not found', http('GET', '/key/info', 404, 'Key not found in database', 'not_found_error'), NotFoundError, /^looking up: GET \/key\/info answered 404 not_found_error: Key not found in database$/],
  ['an alias taken', http('POST', '/key/generate', 400, "{'error': 'Unique key aliases across all keys are required. Key alias=agent already exists.'}"), AliasTakenError, /^looking up: POST \/key\/generate answered 400/],
  ['an alias the rule refuses', http('POST', '/key/generate', 400, 'Invalid key_alias format. Must match ^[a-z]+$', 'bad_request_error'), AliasFormatError, /Invalid key_alias format/],
  ['a 401 of /key/update: about the key it names', http('POST', '/key/update', 401, 'Authentication Error: invalid user key - user key does not exist in db.', 'auth_error'), KeyUpdateRefusedError, /^the proxy rejected LITELLM_MASTER_KEY \(looking up: 401 auth_error\)$/],
  ['model storage off', http('POST', '/model/new', 500, "Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature.", 'auth_error'), ModelStorageOffError, /^the proxy cannot store models \(STORE_MODEL_IN_DB is off/],
  ['a model id taken', http('POST', '/model/new', 500, 'Failed to add model to db. Unique constraint failed on id'), ModelIdTakenError, /^looking up: POST \/model\/new answered 500/],
  ['a route this version lacks (405)', http('PATCH', '/model/m1/update', 405, 'Method Not Allowed'), RouteRefusedError, /^looking up: PATCH \/model\/m1\/update answered 405/],
  ['a listing this proxy refuses (422)', http('GET', '/key/list', 422, 'unknown parameter'), RouteRefusedError, /^looking up: GET \/key\/list answered 422/],
];

describe('what the proxy meant, as the kinds get it', () => {
  it.each(cases)('%s', (_story, answer, Kind, message) => {
    const err = masterCallError('looking up', answer);
    expect(err).toBeInstanceOf(Kind);
    expect(err).toBeInstanceOf(ProxyRefusedError);
    expect((err as ProxyRefusedError).exitCode).toBe(4);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).cause).toBe(answer);
  });

  it('a refusal that means nothing in particular stays a plain exit 4; a rejected master key too', () => {
    for (const answer of [http('GET', '/key/info', 500, 'Internal Server Error'), http('POST', '/key/generate', 401, 'Invalid proxy server token passed', 'auth_error')]) {
      const err = masterCallError('looking up', answer);
      expect(err).toBeInstanceOf(ProxyRefusedError);
      expect(err).not.toBeInstanceOf(ProxyMeaningError);
    }
  });

  it("the alias rule carries the proxy's words", () => {
    const err = masterCallError('issuing a key', http('POST', '/key/update', 400, 'Invalid key_alias format. Must match ^[a-z]+$', 'bad_request_error'));
    expect((err as AliasFormatError).rule).toBe('Invalid key_alias format. Must match ^[a-z]+$');
  });

  it('model storage off names the models not registered once the kind knows them', () => {
    const err = masterCallError('registering model "a"', http('POST', '/model/new', 500, "Set `'STORE_MODEL_IN_DB='True'` in your env")) as ModelStorageOffError;
    const named = err.naming(['a', 'b']);
    expect(named.message).toMatch(/model\(s\) "a", "b" not registered$/);
    expect(named.hint).toMatch(/store_model_in_db/);
    expect(named.cause).toBe(err.cause);
  });
});
