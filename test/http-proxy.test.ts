/**
 * Behind an HTTP proxy (a corporate network): for an https PROXY_BASE_URL, HTTPS_PROXY is
 * honoured (a CONNECT tunnel: the forward proxy sees only encrypted bytes), and NO_PROXY names
 * the hosts reached directly, as undici's EnvHttpProxyAgent reads them. For an http one the
 * forward proxy is never used (issue 24 item 9): it would receive every request whole, the
 * master key in its Authorization header included.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn } from './support/litellm-stand-in.ts';
import { startForwardProxy, type ForwardProxy } from './support/forward-proxy.ts';
import { startTlsFront, type TlsFront } from './support/tls-front.ts';
import { envDir, runCli, valueOf, watchSecrets, type EnvDir } from './support/cli.ts';

const MASTER = 'sk-Xw3Rq8Zt1Lm6Vb4Nc9Kj2Hp7Gd5Sf0Ya';
watchSecrets(MASTER, 'proxy-pass-7c2f');
const TEMPLATE = `LITELLM_MASTER_KEY=${MASTER}\nLITELLM_DEFAULT_MODELS=gpt-4o-mini\nOPENAI_API_KEY=sk-proxy-default\n`;

let litellm: LiteLLMStandIn;
let front: TlsFront;
let corporate: ForwardProxy;
let dir: EnvDir;

beforeEach(async () => {
  litellm = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini'] });
  front = await startTlsFront(litellm.url);
  corporate = await startForwardProxy();
  dir = await envDir(TEMPLATE);
});
afterEach(async () => {
  await corporate.close();
  await front.close();
  await litellm.close();
  await dir.cleanup();
});

/** The LiteLLM proxy over https (a private CA the CLI trusts), behind the corporate proxy. */
const env = (extra: Record<string, string>) => ({
  ENV_FILE_PATH: dir.env,
  LITELLM_ENV_FILE_PATH: dir.litellm,
  PROXY_BASE_URL: front.url,
  NODE_EXTRA_CA_CERTS: front.caFile,
  LITELLM_PROXY_WAIT_SECONDS: '10',
  HTTP_PROXY: corporate.url,
  HTTPS_PROXY: corporate.url,
  ...extra,
});
const target = () => new URL(front.url).host;

describe('attack: a forward proxy reading the master key of a plain-http PROXY_BASE_URL', () => {
  it('HTTP_PROXY set (Docker injects it from ~/.docker/config.json) and an http:// proxy URL: no request goes through it', async () => {
    const r = await runCli([], { env: env({ PROXY_BASE_URL: litellm.url, NO_PROXY: 'example.internal' }) });
    expect(r.code, r.stderr).toBe(0);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toMatch(/^sk-/);
    // Before: every request, `authorization: Bearer <master key>` included, was sent to it in clear.
    expect(corporate.seen).toEqual([]);
  });
});

describe('behind an HTTP proxy', () => {
  it('the requests to an https LiteLLM go through HTTPS_PROXY (a CONNECT tunnel) when NO_PROXY does not name it', async () => {
    const r = await runCli([], { env: env({ NO_PROXY: 'llm-proxy,example.internal' }) });
    expect(r.code, r.stderr).toBe(0);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toMatch(/^sk-/);
    expect(corporate.seen.length).toBeGreaterThan(0);
    expect(corporate.seen.every((line) => line === `CONNECT ${target()}`)).toBe(true);
  });

  it('a proxy URL with credentials authenticates to the proxy, and the credentials never reach the output', async () => {
    const withAuth = corporate.url.replace('http://', 'http://alice:proxy-pass-7c2f@');
    const r = await runCli([], { env: env({ HTTP_PROXY: withAuth, HTTPS_PROXY: withAuth }) });
    expect(r.code, r.stderr).toBe(0);
    expect(corporate.credentials.length).toBeGreaterThan(0);
    expect(new Set(corporate.credentials)).toEqual(new Set([`Basic ${Buffer.from('alice:proxy-pass-7c2f').toString('base64')}`]));
    expect(`${r.stdout}${r.stderr}`).not.toContain('proxy-pass-7c2f');
  });

  it('hosts in NO_PROXY (loopback, compose service names) are reached directly', async () => {
    const r = await runCli([], { env: env({ NO_PROXY: 'llm-proxy,localhost,127.0.0.1' }) });
    expect(r.code, r.stderr).toBe(0);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toMatch(/^sk-/);
    expect(corporate.seen).toEqual([]);
  });

  it('a proxy that is down is reported like a proxy that is down: exit 3, never a hang', async () => {
    await corporate.close();
    const r = await runCli([], { env: env({ LITELLM_PROXY_WAIT_SECONDS: '1' }) });
    expect(r.code).toBe(3);
    expect(r.last).toContain(front.url);
  });
});
