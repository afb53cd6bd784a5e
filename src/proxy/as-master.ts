/**
 * Calls made with the master key: transient failures retried (p-retry, see wait.ts), and the
 * proxy's refusals turned into exit 4 with the reason LiteLLM gives (a rejected master key, the
 * newest versions' master-key lockout), named by what they mean to the caller (src/proxy/errors.ts).
 * Every resource kind's requests go through here.
 */
import { ProxyRefusedError } from '../errors.ts';
import type { Logger } from '../log/log.ts';
import { ProxyHttpError } from './client.ts';
import { meaningOf, notLiteLLMAnswer } from './meaning.ts';
import { isMasterKeyLockout, keyPolicyRefusal, missingListing } from './refusals.ts';
import { retrying } from './wait.ts';

/** A call with the master key: transient failures retried; a rejected master key is exit 4. */
export async function asMaster<T>(what: string, fn: () => Promise<T>, ctx: { deadline: number; log: Logger; dbReported?: boolean }): Promise<T> {
  try {
    return await retrying(what, fn, ctx);
  } catch (err) {
    throw masterCallError(what, err);
  }
}

/**
 * What a failed master-key call is reported as: exit 4 with the reason LiteLLM gives, as the
 * domain error it means to the caller (src/proxy/meaning.ts) when it means something.
 */
export function masterCallError(what: string, err: unknown): unknown {
  if (!(err instanceof ProxyHttpError)) return err;
  const plain = plainRefusal(what, err);
  return meaningOf(err, plain) ?? plain;
}

/** The refusal as the user reads it, whatever it means to the caller. */
function plainRefusal(what: string, err: ProxyHttpError): ProxyRefusedError {
  if (isMasterKeyLockout(err)) {
    // Newest LiteLLM starts with an empty or example master key but locks these routes.
    return new ProxyRefusedError(`${what}: the proxy refuses this until its master key is a strong one (LiteLLM locks credential and key routes while its master key is empty or the docs' example sk-1234)`, {
      hint: 'set LITELLM_MASTER_KEY in .env to a long random value starting with sk-, restart the proxy, then run the bootstrap again',
      cause: err,
    });
  }
  const policy = keyPolicyRefusal(what, err);
  if (policy) return policy;
  if (err.status === 401 || err.status === 403) {
    return new ProxyRefusedError(`the proxy rejected LITELLM_MASTER_KEY (${what}: ${err.status} ${err.type ?? ''})`.replace(' )', ')'), {
      hint: 'set LITELLM_MASTER_KEY to the master key the proxy was started with',
      cause: err,
    });
  }
  if (notLiteLLMAnswer(err)) {
    return new ProxyRefusedError(`${what}: ${err.proxyMessage}`, {
      hint: 'check PROXY_BASE_URL: it must name the LiteLLM proxy (the compose stack: http://llm-proxy:4000; from the host: http://127.0.0.1:10999), not another service',
      cause: err,
    });
  }
  return missingListing(what, err) ?? new ProxyRefusedError(`${what}: ${err.message}`, { hint: 'see the proxy logs (docker compose logs llm-proxy)', cause: err });
}
