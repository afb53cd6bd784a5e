/**
 * Which answers of `POST /key/{key}/regenerate` switch a run to generate + write + revoke
 * (LiteLLM's regenerate_key_fn: a ValueError "Regenerating Virtual Keys is an Enterprise
 * feature, ..." → 500 via handle_exception_on_proxy; versions without the route: FastAPI's
 * 404 {"detail": "Not Found"}), and which do not (a key not found: someone else rotated it).
 * proxy/ names each with a domain error; the message is the one the refusal always had.
 */
import { describe, expect, it } from 'vitest';
import { masterCallError } from '../../../src/proxy/as-master.ts';
import { ProxyHttpError } from '../../../src/proxy/client.ts';
import { NotFoundError, ProxyMeaningError, RouteRefusedError } from '../../../src/proxy/errors.ts';
import { ProxyRefusedError } from '../../../src/errors.ts';

const answer = (status: number, message: string) => new ProxyHttpError('POST', '/key/x/regenerate', status, undefined, message);
const refusal = (err: unknown) => masterCallError('regenerating the key', err);

describe('regenerate refusals', () => {
  it('the Enterprise refusal and a missing route switch the run (RouteRefusedError), reported as before', () => {
    const enterprise = refusal(answer(500, 'Regenerating Virtual Keys is an Enterprise feature, You must be a LiteLLM Enterprise user to use this feature.'));
    expect(enterprise).toBeInstanceOf(RouteRefusedError);
    expect((enterprise as Error).message).toBe('regenerating the key: POST /key/x/regenerate answered 500: Regenerating Virtual Keys is an Enterprise feature, You must be a LiteLLM Enterprise user to use this feature.');
    expect((enterprise as ProxyRefusedError).exitCode).toBe(4);
    expect(refusal(answer(404, 'Not Found'))).toBeInstanceOf(RouteRefusedError);
    expect((refusal(answer(404, 'Not Found')) as Error).message).toMatch(/answered FastAPI's 404 "Not Found": the proxy has no such route/);
    expect(refusal(answer(405, 'Method Not Allowed'))).toBeInstanceOf(RouteRefusedError);
  });

  it('a key not found is someone else rotating it (NotFoundError); a server error or a network failure switch nothing', () => {
    expect(refusal(answer(404, "{'error': 'Key 0123abcd not found.'}"))).toBeInstanceOf(NotFoundError);
    const server = refusal(answer(500, 'Internal Server Error'));
    expect(server).toBeInstanceOf(ProxyRefusedError);
    expect(server).not.toBeInstanceOf(ProxyMeaningError);
    const network = new Error('ECONNRESET');
    expect(refusal(network)).toBe(network);
  });
});
