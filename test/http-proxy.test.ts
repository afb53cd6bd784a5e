/**
 * Behind an HTTP proxy (a corporate network): HTTP_PROXY/HTTPS_PROXY are
 * honoured, and NO_PROXY names the hosts reached directly, as undici's
 * EnvHttpProxyAgent reads them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn } from './support/litellm-stand-in.ts';
import { startForwardProxy, type ForwardProxy } from './support/forward-proxy.ts';
import { envDir, runCli, valueOf, type EnvDir } from './support/cli.ts';

const MASTER = 'sk-master-proxy-test-4d1e';
const TEMPLATE = `LITELLM_MASTER_KEY=${MASTER}\nLITELLM_DEFAULT_MODELS=gpt-4o-mini\nOPENAI_API_KEY=sk-proxy-default\n`;

let litellm: LiteLLMStandIn;
let corporate: ForwardProxy;
let dir: EnvDir;

beforeEach(async () => {
  litellm = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini'] });
  corporate = await startForwardProxy();
  dir = await envDir(TEMPLATE);
});
afterEach(async () => {
  await corporate.close();
  await litellm.close();
  await dir.cleanup();
});

const env = (extra: Record<string, string>) => ({
  ENV_FILE_PATH: dir.env,
  LITELLM_ENV_FILE_PATH: dir.litellm,
  PROXY_BASE_URL: litellm.url,
  LITELLM_PROXY_WAIT_SECONDS: '10',
  HTTP_PROXY: corporate.url,
  HTTPS_PROXY: corporate.url,
  ...extra,
});
const target = () => new URL(litellm.url).host;

describe('behind an HTTP proxy', () => {
  it('the requests to LiteLLM go through HTTP_PROXY when NO_PROXY does not name it', async () => {
    const r = await runCli([], { env: env({ NO_PROXY: 'llm-proxy,example.internal' }) });
    expect(r.code, r.stderr).toBe(0);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toMatch(/^sk-/);
    expect(corporate.seen.length).toBeGreaterThan(0);
    expect(corporate.seen.every((line) => line.includes(target()))).toBe(true);
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
    expect(r.last).toContain(litellm.url);
  });
});
