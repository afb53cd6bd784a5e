/**
 * A proxy that accepts connections and never answers: the run still ends at its wait deadline
 * (whatever the request timeout) and says how long it really waited; stopped by SIGTERM or
 * SIGINT while it waits, it says what was done and what was not, releases the lock and exits
 * 143 or 130. Real CLI processes, a real HTTP stand-in on loopback, real files.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { envDir, startCli, runCli, type EnvDir } from '../support/cli.ts';

const MASTER = 'sk-master-hung-proxy-4242';
const ENV = `LITELLM_MASTER_KEY=${MASTER}
LITELLM_SALT_KEY=sk-salt-hung-proxy-4242
LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini
LITELLM_OPENAI_API_KEY=sk-proj-upstream-hung-0123456789
OPENAI_API_KEY=sk-proxy-default
`;

let proxy: LiteLLMStandIn;
let dir: EnvDir;

beforeEach(async () => {
  proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['openai/gpt-4o-mini'] });
  proxy.hangNext(1_000_000); // accepts every connection, answers none
  dir = await envDir(ENV);
});
afterEach(async () => {
  await proxy.close();
  await dir.cleanup();
});

const env = (extra: Record<string, string> = {}) => ({ ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm, PROXY_BASE_URL: proxy.url, ...extra });

describe('a proxy that accepts and never answers', () => {
  it('the run ends at LITELLM_PROXY_WAIT_SECONDS, not a request timeout later, and says how long it waited', async () => {
    // A request timeout far beyond the wait: before, the run ended only when the request gave up (60 s).
    const r = await runCli([], { env: env({ LITELLM_PROXY_WAIT_SECONDS: '2', LITELLM_REQUEST_TIMEOUT_SECONDS: '60' }), timeoutMs: 50_000 });
    expect(r.code, r.stderr).toBe(3);
    expect(r.last).toContain(proxy.url);
    expect(r.last).toContain('PROXY_BASE_URL');
    const waited = Number(/waited (\d+(?:\.\d+)?)s/.exec(r.last)?.[1]);
    expect(waited, r.last).toBeGreaterThanOrEqual(2);
    expect(waited, r.last).toBeLessThan(3); // within about a second of the setting
    expect(r.last).toContain('LITELLM_PROXY_WAIT_SECONDS=2');
    expect(await dir.read()).toBe(ENV);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} while waiting: one line of what was and was not done, the lock released, exit ${code}`, async () => {
      const lock = `${dir.env}.lock`;
      // The placeholder key means the run will write: it takes the lock before it waits.
      const running = startCli([], { env: env({ LITELLM_PROXY_WAIT_SECONDS: '120' }) });
      for (let i = 0; i < 600 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(lock), 'the run took the lock').toBe(true);
      // Waiting for the proxy: its first readiness request is in flight.
      for (let i = 0; i < 600 && proxy.requestCount({ path: '/health/readiness' }) === 0; i++) await new Promise((r) => setTimeout(r, 50));
      running.child.kill(signal);
      const r = await running.exited;
      expect(r.code, r.stderr).toBe(code);
      expect(r.last).toContain(`interrupted by ${signal} while waiting for the proxy at ${proxy.url}`);
      expect(r.last).toContain('nothing was changed');
      expect(r.last).toContain(`released the lock ${lock}`);
      expect(existsSync(lock)).toBe(false);
      expect(await dir.read()).toBe(ENV);
    });
  }
});
