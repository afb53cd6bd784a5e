/**
 * Models in Secret mode (Kubernetes): the built CLI run as the Job runs it (no .env, settings
 * from the environment, the service account mounted) against the LiteLLM stand-in with model
 * storage on and the Kubernetes API stand-in with the RBAC of deploy/kubernetes/rbac.yaml.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { serviceAccountDir, serviceAccountToken, serviceAccountUser, startKubeStandIn, type KubeStandIn } from '../support/kube-stand-in.ts';
import { deployedRules } from '../support/kube-rbac.ts';
import { runCli } from '../support/cli.ts';

const MASTER = 'sk-master-k8s-models-71c3';
const NS = 'litellm';
const SECRET = 'agent-litellm-key';
const JOB = serviceAccountUser(NS, 'llm-proxy-bootstrap');
const TOKEN = serviceAccountToken(NS, 'llm-proxy-bootstrap');
/** The proxy pod's environment: what the chart's environmentSecrets give it. */
const PROXY_ENV = { GEMINI_API_KEY: 'AIza-k8s-UPSTREAM-gemini-secret-0042' };

let proxy: LiteLLMStandIn;
let api: KubeStandIn;
let sa: ReturnType<typeof serviceAccountDir>;
let cwd: string;

beforeEach(async () => {
  proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['openai/*'], storeModelsInDb: true, upstreamEnv: PROXY_ENV, upstreamKeys: [PROXY_ENV.GEMINI_API_KEY] });
  api = await startKubeStandIn({ tokens: { [TOKEN]: JOB }, rbac: { [JOB]: await deployedRules(NS) } });
  sa = serviceAccountDir(api, { token: TOKEN, namespace: NS });
  cwd = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-k8s-models-'));
});
afterEach(async () => {
  await proxy.close();
  await api.close();
  sa.cleanup();
  await rm(cwd, { recursive: true, force: true });
});

const job = (args: string[], extra: Record<string, string> = {}) =>
  runCli(args, {
    env: {
      LITELLM_KEY_SECRET: SECRET,
      PROXY_BASE_URL: proxy.url,
      LITELLM_MASTER_KEY: MASTER,
      LITELLM_PROXY_WAIT_SECONDS: '10',
      ENV_FILE_PATH: path.join(cwd, 'does-not-exist', '.env'),
      ...sa.env,
      ...extra,
    },
    cwd,
  });

describe('Secret mode: models', () => {
  it('a declared model (its key named by the variable the chart gives the proxy) is registered; the agent\'s completion works', async () => {
    const keys = path.join(cwd, 'keys.yaml');
    await writeFile(
      keys,
      'keys:\n  - alias: task-agent default\n    env: OPENAI_API_KEY\n    models: [gemini/gemini-2.5-flash]\nmodels:\n  - model_name: gemini/gemini-2.5-flash\n    litellm_params: { model: gemini/gemini-2.5-flash, api_key: os.environ/GEMINI_API_KEY }\n',
    );
    const r = await job([], { LITELLM_BOOTSTRAP_CONFIG: keys });
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/created key "task-agent default".*registered model "gemini\/gemini-2\.5-flash"/);
    const key = api.secret(NS, SECRET)!.decoded.OPENAI_API_KEY!;
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    for (const w of proxy.requests.filter((q) => q.path.startsWith('/model/'))) expect(w.body ?? '').not.toContain(PROXY_ENV.GEMINI_API_KEY);
    expect((await job(['--check'], { LITELLM_BOOTSTRAP_CONFIG: keys })).code).toBe(0);
  });

  it('nothing is registered on demand (the Job cannot see the proxy\'s environment): a warning saying to declare it, drift for --check', async () => {
    const r = await job([], { LITELLM_DEFAULT_MODELS: 'gemini/gemini-2.5-flash' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.logs.map((l) => String(l.msg)).join('\n')).toContain('model "gemini/gemini-2.5-flash" of key "task-agent default" is not served by the proxy (closest configured: "openai/*"): declare it under models: in the keys file');
    expect(proxy.storedModels()).toEqual([]);
    expect((await job(['--check'], { LITELLM_DEFAULT_MODELS: 'gemini/gemini-2.5-flash' })).code).toBe(5);
  });
});
