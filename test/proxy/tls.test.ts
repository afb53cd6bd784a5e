/**
 * An https PROXY_BASE_URL whose certificate a private CA signed: trusted through
 * NODE_EXTRA_CA_CERTS (the CLI), or the dispatcher's own `ca` (other callers,
 * e.g. a cluster's CA), and refused otherwise.
 */
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../src/http/dispatcher.ts';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { startTlsFront, type TlsFront } from '../support/tls-front.ts';
import { envDir, runCli, valueOf, watchSecrets, type EnvDir } from '../support/cli.ts';

const MASTER = 'sk-Nc4Wq9Zr2Xt7Lm1Vb6Kj3Hp8Gd5Sf0Ya';
watchSecrets(MASTER);
let litellm: LiteLLMStandIn;
let front: TlsFront;
let dir: EnvDir;

beforeEach(async () => {
  litellm = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini'] });
  front = await startTlsFront(litellm.url);
  dir = await envDir(`LITELLM_MASTER_KEY=${MASTER}\nLITELLM_DEFAULT_MODELS=gpt-4o-mini\nOPENAI_API_KEY=sk-proxy-default\n`);
});
afterEach(async () => {
  await front.close();
  await litellm.close();
  await dir.cleanup();
});

const env = (extra: Record<string, string> = {}) => ({ ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm, PROXY_BASE_URL: front.url, ...extra });

describe('https with a private CA', () => {
  it('NODE_EXTRA_CA_CERTS makes the CLI trust it', async () => {
    const r = await runCli([], { env: env({ NODE_EXTRA_CA_CERTS: front.caFile, LITELLM_PROXY_WAIT_SECONDS: '10' }) });
    expect(r.code, r.stderr).toBe(0);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toMatch(/^sk-/);
  });

  it('attack: a certificate no trusted CA signed (a man in the middle, or a CA not given): exit 2 at once naming the problem, not waited on until the deadline, .env untouched', async () => {
    const before = await dir.read();
    // A deadline longer than the test's own timeout: only a run that gives up at once can pass.
    const r = await runCli([], { env: env({ LITELLM_PROXY_WAIT_SECONDS: '600' }), timeoutMs: 50_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/the proxy at https:\/\/127\.0\.0\.1:\d+ presented a certificate that does not verify: no trusted certificate authority signed it .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)\).*NODE_EXTRA_CA_CERTS/);
    // One attempt: the master key never went anywhere, nothing was retried.
    expect(litellm.requests).toEqual([]);
    expect(await dir.read()).toBe(before);
  });

  it("the dispatcher's own `ca` trusts it for one caller, on top of Node's defaults", async () => {
    const trusting = createDispatcher({ timeoutMs: 5000, ca: front.ca, env: {} });
    const plain = createDispatcher({ timeoutMs: 5000, env: {} });
    try {
      const ok = await request(`${front.url}/health/liveliness`, { dispatcher: trusting });
      expect(ok.statusCode).toBe(200);
      await ok.body.dump();
      await expect(request(`${front.url}/health/liveliness`, { dispatcher: plain })).rejects.toThrow();
    } finally {
      await trusting.close();
      await plain.close();
    }
  });
});
