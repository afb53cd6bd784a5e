/**
 * Which answers of `POST /key/{key}/regenerate` switch a run to generate + write + revoke
 * (LiteLLM's regenerate_key_fn: a ValueError "Regenerating Virtual Keys is an Enterprise
 * feature, ..." → 500 via handle_exception_on_proxy; versions without the route: FastAPI's
 * 404 {"detail": "Not Found"}), and which do not (a key not found: someone else rotated it).
 */
import { describe, expect, it } from 'vitest';
import { regenerateRefused } from '../../../src/resources/keys/apply.ts';
import { ProxyHttpError } from '../../../src/proxy/client.ts';
import { ProxyRefusedError } from '../../../src/errors.ts';

const answer = (status: number, message: string) => new ProxyHttpError('POST', '/key/x/regenerate', status, undefined, message);

describe('regenerate refusals', () => {
  it('the Enterprise refusal and a missing route switch the run; as the master-key call reports them too', () => {
    expect(regenerateRefused(answer(500, 'Regenerating Virtual Keys is an Enterprise feature, You must be a LiteLLM Enterprise user to use this feature.'))).toBe(true);
    expect(regenerateRefused(new ProxyRefusedError('regenerating the key: ...', { cause: answer(500, 'Regenerating Virtual Keys is an Enterprise feature') }))).toBe(true);
    expect(regenerateRefused(answer(404, 'Not Found'))).toBe(true);
    expect(regenerateRefused(answer(405, 'Method Not Allowed'))).toBe(true);
  });

  it('a key not found, a server error or a network failure do not', () => {
    expect(regenerateRefused(answer(404, "{'error': 'Key 0123abcd not found.'}"))).toBe(false);
    expect(regenerateRefused(answer(500, 'Internal Server Error'))).toBe(false);
    expect(regenerateRefused(new Error('ECONNRESET'))).toBe(false);
  });
});
