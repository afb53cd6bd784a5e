/**
 * A hostile proxy on loopback (issue 24): the LiteLLM stand-in behind a front that forges some of
 * its answers, as an attacker controlling the proxy (or anything between us and it) would. Each
 * test is one attack of docs/reliability.md ("Attacks"), with what the user sees afterwards.
 * Every run's output is also checked for any 8-character piece of the secrets below (support/cli.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { startHostileFront, type Forged, type HostileFront, type Intercepted } from '../support/hostile-front.ts';
import { serviceAccountDir, serviceAccountToken, serviceAccountUser, startKubeStandIn } from '../support/kube-stand-in.ts';
import { deployedRules } from '../support/kube-rbac.ts';
import { envDir, runCli, valueOf, watchSecrets, type EnvDir } from '../support/cli.ts';

const MASTER = 'sk-Qz8vLm3RkT9wXc2NbJ7pHd4sYf6gAe1u';
const SALT = 'sk-Hn5tWq2ZrX8mKc4VbL9jPs7dGy3fTe6a';
const OPENAI = 'sk-proj-Vb7Xq2LmR9kT4wZc8NsJ3hPd6yGf1aEu5oQi0';
const OTEL_TOKEN = 'otel-Rk4Tz9Wq2Xm7Lc5Vb8Nj3Ps6Dh1Gf0Ya';
watchSecrets(MASTER, SALT, OPENAI, OTEL_TOKEN);

const ENV = `LITELLM_MASTER_KEY=${MASTER}
LITELLM_SALT_KEY=${SALT}
LITELLM_DEFAULT_MODELS=gpt-4o-mini
LITELLM_OPENAI_API_KEY=${OPENAI}
OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer ${OTEL_TOKEN}
OPENAI_API_KEY=sk-proxy-default
`;

let litellm: LiteLLMStandIn;
let front: HostileFront;
let dir: EnvDir;
/** What the front forges now; undefined passes every answer on. */
let forge: ((req: Intercepted) => Forged | undefined) | undefined;

beforeEach(async () => {
  forge = undefined;
  litellm = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini'] });
  front = await startHostileFront(litellm.url, (req) => forge?.(req));
  dir = await envDir(ENV);
});
afterEach(async () => {
  await front.close();
  await litellm.close();
  await dir.cleanup();
});

const agentFile = () => path.join(dir.dir, 'agent', '.env.agent');
const run = (args: string[] = [], extra: Record<string, string> = {}) =>
  runCli(args, {
    env: { ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm, PROXY_BASE_URL: front.url, LITELLM_PROXY_WAIT_SECONDS: '5', AGENT_ENV_FILE_PATH: agentFile(), ...extra },
  });
/** The files a run may write, as bytes (missing: null). */
const snapshot = async () => Object.fromEntries(await Promise.all([dir.env, dir.litellm, agentFile()].map(async (f) => [f, await readFile(f, 'utf8').catch(() => null)])));

describe('attack: the proxy returns a key built to run a command when a shell reads it', () => {
  const HOSTILE_KEYS = [`sk-x'$(touch PWNED)'`, 'sk-$(touch PWNED)', 'sk-`touch PWNED`', 'sk-abc\nPWNED=1', 'sk-ok; touch PWNED', 'not-a-litellm-key-0123456789'];

  it.each(HOSTILE_KEYS)('%j: exit 4 naming the shape, nothing written; sourcing the agent file runs nothing', async (hostile) => {
    // A good first run: .env, the proxy's env file and the agent's file hold a real key.
    expect((await run()).code).toBe(0);
    const before = await snapshot();
    // Then the proxy turns hostile: the next key it issues is the attacker's.
    forge = (req) => (req.path === '/key/generate' && req.upstream?.status === 200 ? { status: 200, body: { ...JSON.parse(req.upstream.text), key: hostile } } : undefined);
    const r = await run(['--rotate']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.last).toMatch(/answered with a key that is not shaped like a LiteLLM key .*nothing was written/);
    expect(r.stderr).not.toContain('PWNED');
    expect(await snapshot()).toEqual(before);
    execFileSync('sh', ['-c', `. ${JSON.stringify(agentFile())}`], { cwd: dir.dir, stdio: 'ignore' });
    expect(existsSync(path.join(dir.dir, 'PWNED'))).toBe(false);
  });

  it('on a first run (no key yet) the same: exit 4, .env keeps its placeholder, no agent file', async () => {
    forge = (req) => (req.path === '/key/generate' && req.upstream?.status === 200 ? { status: 200, body: { ...JSON.parse(req.upstream.text), key: `sk-x'$(touch PWNED)'` } } : undefined);
    const before = await dir.read();
    const r = await run();
    expect(r.code, r.stderr).toBe(4);
    expect(await dir.read()).toBe(before);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toBe('sk-proxy-default');
    expect(existsSync(agentFile())).toBe(false);
    expect(existsSync(path.join(dir.dir, 'PWNED'))).toBe(false);
  });
});

describe('attack: the same forged key in Secret mode (Kubernetes Job)', () => {
  it('exit 4, the Secret is never created', async () => {
    const NS = 'litellm';
    const JOB = serviceAccountUser(NS, 'llm-proxy-bootstrap');
    const TOKEN = serviceAccountToken(NS, 'llm-proxy-bootstrap');
    watchSecrets(TOKEN);
    const api = await startKubeStandIn({ tokens: { [TOKEN]: JOB }, rbac: { [JOB]: await deployedRules(NS) } });
    const sa = serviceAccountDir(api, { token: TOKEN, namespace: NS });
    const cwd = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-k8s-'));
    try {
      forge = (req) => (req.path === '/key/generate' && req.upstream?.status === 200 ? { status: 200, body: { ...JSON.parse(req.upstream.text), key: `sk-x'$(touch PWNED)'` } } : undefined);
      const r = await runCli([], {
        cwd,
        env: { LITELLM_KEY_SECRET: 'agent-litellm-key', PROXY_BASE_URL: front.url, LITELLM_DEFAULT_MODELS: 'gpt-4o-mini', LITELLM_MASTER_KEY: MASTER, LITELLM_PROXY_WAIT_SECONDS: '5', ENV_FILE_PATH: path.join(cwd, 'none', '.env'), ...sa.env },
      });
      expect(r.code, r.stderr).toBe(4);
      expect(r.last).toMatch(/not shaped like a LiteLLM key/);
      expect(api.secret(NS, 'agent-litellm-key')).toBeUndefined();
    } finally {
      await api.close();
      sa.cleanup();
      await rm(cwd, { recursive: true, force: true });
    }
  });
});

describe("attack: the proxy's error text carries a secret, whole or cut", () => {
  const refuse = (message: string) => (req: Intercepted) => (req.path === '/key/generate' ? { status: 400, body: { error: { message, type: 'bad_request_error', param: null, code: '400' } } } : undefined);

  it('the master key straddling the 300-character cut: not one 8-character piece of it is printed', async () => {
    // Cut at 300 characters before scrubbing, 20 characters of the key were left.
    forge = refuse(`${'x'.repeat(280)}${MASTER} was rejected`);
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.last).toContain('[REDACTED]');
  });

  it('a prefix of the master key, echoed cut by the proxy itself, is redacted too', async () => {
    forge = refuse(`Authentication Error, invalid key ${MASTER.slice(0, 20)}...`);
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.last).toMatch(/invalid key \[REDACTED\]/);
  });

  it("the salt key and an OpenTelemetry bearer token (values of the proxy's env file) are redacted", async () => {
    forge = refuse(`cannot encrypt with salt ${SALT}; exporter headers Authorization=Bearer ${OTEL_TOKEN.slice(0, 24)}`);
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.last).toMatch(/salt \[REDACTED\]; exporter headers \[REDACTED\]/);
  });
});
