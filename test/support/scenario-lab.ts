/**
 * "Given this .env and this proxy": the set-up every scenario file shares. A lab registers
 * the vitest hooks itself (a fresh stand-in and a fresh directory with the .env per test, both
 * gone afterwards) and gives the file what its tests call: `run` (the built CLI against them),
 * `agentKey`, `chat`, `startProxy` (replace the stand-in inside a test). `lab.proxy` and `lab.dir`
 * are stable handles that always reach the current stand-in and directory, so a file may take
 * them once: `const { proxy, dir, run } = lab`.
 */
import { afterEach, beforeEach } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn, type StandInOptions } from './litellm-stand-in.ts';
import { envDir, runCli, valueOf, watchSecrets, type CliResult, type EnvDir } from './cli.ts';

export type Env = Record<string, string | undefined>;

export interface ScenarioLabOptions {
  /** The .env written before each test. */
  template: string;
  /** The stand-in started before each test (and the base of every `startProxy`). */
  proxy: Partial<StandInOptions> & { masterKey: string };
  /** Secrets of this file: every agent key read is added (and watched: support/cli.ts watchSecrets). */
  secrets?: Set<string>;
}

export interface ScenarioLab {
  readonly proxy: LiteLLMStandIn;
  readonly dir: EnvDir;
  /** Closes the current stand-in and starts one with the lab's options and `opts` over them. */
  startProxy(opts?: Partial<StandInOptions>): Promise<void>;
  /** The CLI's environment: this directory's files, this proxy, a short wait; `extra` over it. */
  env(extra?: Env): Env;
  run(args?: string[], extra?: Env): Promise<CliResult>;
  /** The agent's key as .env now holds it (recorded as a secret). */
  agentKey(name?: string): Promise<string>;
  /** What the agent does with its key: one chat completion; the status. */
  chat(key: string, model?: string): Promise<number>;
}

/** A handle whose every property is read from whatever `current()` is now. */
function handle<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get(_, prop) {
      const target = current();
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export function scenarioLab(o: ScenarioLabOptions): ScenarioLab {
  let proxy: LiteLLMStandIn | undefined;
  let dir: EnvDir | undefined;
  const lab: ScenarioLab = {
    proxy: handle(() => proxy!),
    dir: handle(() => dir!),
    async startProxy(opts = {}) {
      await proxy?.close();
      proxy = await startLiteLLMStandIn({ ...o.proxy, ...opts });
    },
    env: (extra = {}) => ({
      ENV_FILE_PATH: dir!.env,
      LITELLM_ENV_FILE_PATH: dir!.litellm,
      PROXY_BASE_URL: proxy!.url,
      LITELLM_PROXY_WAIT_SECONDS: '10',
      ...extra,
    }),
    run: (args = [], extra = {}) => runCli(args, { env: lab.env(extra) }),
    async agentKey(name = 'OPENAI_API_KEY') {
      const key = valueOf(await dir!.read(), name) ?? '';
      if (key) o.secrets?.add(key);
      watchSecrets(key);
      return key;
    },
    async chat(key, model = 'openai/gpt-4o-mini') {
      const res = await fetch(`${proxy!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.arrayBuffer();
      return res.status;
    },
  };
  beforeEach(async () => {
    await lab.startProxy();
    dir = await envDir(o.template);
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });
  return lab;
}

/** A run's log messages, one a line. */
export const messages = (r: { logs: Record<string, unknown>[] }) => r.logs.map((l) => String(l.msg)).join('\n');
/** A run's warnings (pino level 40). */
export const warnings = (r: { logs: Record<string, unknown>[] }) => r.logs.filter((l) => l.level === 40).map((l) => String(l.msg));
