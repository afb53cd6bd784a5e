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
import { envDir, runCli, valueOf, type EnvDir } from '../support/cli.ts';

const MASTER = 'sk-master-tls-test-9b7c';
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

  it('without it the certificate is refused: exit 3 naming the TLS problem, .env untouched', async () => {
    const before = await dir.read();
    const r = await runCli([], { env: env({ LITELLM_PROXY_WAIT_SECONDS: '1' }) });
    expect(r.code, r.last).toBe(3);
    expect(r.last).toMatch(/CERT|certificate|SIGNATURE/i);
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
