/**
 * The Kubernetes Job's memory limit (deploy/kubernetes/job.yaml) holds the largest first run the
 * bootstrap accepts: a proxy whose GET /model/info is just under the 16 MiB response cap. The built
 * CLI runs as the Job runs it (Secret mode) against the LiteLLM and Kubernetes API stand-ins on
 * loopback, under /usr/bin/time -v; its peak RSS must leave a margin below the limit (a pod over its
 * limit is OOM-killed: exit 137, no key). bench/job-memory.ts prints the same figures for docs/kubernetes.md.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startLiteLLMStandIn, type LiteLLMStandIn } from './support/litellm-stand-in.ts';
import { deployedRules } from './support/kube-rbac.ts';
import { serviceAccountDir, serviceAccountToken, serviceAccountUser, startKubeStandIn, type KubeStandIn } from './support/kube-stand-in.ts';

const TIME = '/usr/bin/time';
const MASTER = 'sk-master-job-memory-7d20b4';
const NS = 'litellm';
const CAP = 16 * 1024 * 1024;
const MODEL = (i: number) => `openai/cap-model-${String(i).padStart(6, '0')}-${'x'.repeat(40)}`;

/** `256Mi` → bytes. */
function quantity(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  return Number(m[1]) * { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, '': 1 }[m[2] ?? '']!;
}

describe.skipIf(!existsSync(TIME))('the Job at the response cap', () => {
  let proxy: LiteLLMStandIn;
  let api: KubeStandIn;
  let sa: ReturnType<typeof serviceAccountDir>;
  let bytes = 0;

  beforeAll(async () => {
    // As many models as fit under the cap: the size of one entry, measured, scaled.
    const probe = await startLiteLLMStandIn({ masterKey: MASTER, models: Array.from({ length: 500 }, (_, i) => MODEL(i)) });
    const per = (await (await fetch(`${probe.url}/model/info`, { headers: { authorization: `Bearer ${MASTER}` } })).arrayBuffer()).byteLength / 500;
    await probe.close();
    proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: Array.from({ length: Math.floor((CAP * 0.97) / per) }, (_, i) => MODEL(i)) });
    bytes = (await (await fetch(`${proxy.url}/model/info`, { headers: { authorization: `Bearer ${MASTER}` } })).arrayBuffer()).byteLength;
    const token = serviceAccountToken(NS, 'llm-proxy-bootstrap');
    const user = serviceAccountUser(NS, 'llm-proxy-bootstrap');
    api = await startKubeStandIn({ tokens: { [token]: user }, rbac: { [user]: await deployedRules(NS) } });
    sa = serviceAccountDir(api, { token, namespace: NS });
  }, 120_000);
  afterAll(async () => {
    sa?.cleanup();
    await api?.close();
    await proxy?.close();
  });

  it("a first run against a /model/info just under 16 MiB issues the key and peaks well below the Job's memory limit", async () => {
    expect(bytes).toBeGreaterThan(CAP * 0.9);
    expect(bytes).toBeLessThan(CAP);
    const job = parseAllDocuments(readFileSync('deploy/kubernetes/job.yaml', 'utf8')).map((d) => d.toJS())[0];
    const limit = quantity(job.spec.template.spec.containers[0].resources.limits.memory);
    const env = { PATH: process.env['PATH'], LITELLM_KEY_SECRET: 'agent-litellm-key', PROXY_BASE_URL: proxy.url, LITELLM_DEFAULT_MODELS: MODEL(0), LITELLM_MASTER_KEY: MASTER, LITELLM_PROXY_WAIT_SECONDS: '30', ENV_FILE_PATH: '/nonexistent/.env', ...sa.env };
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(TIME, ['-v', process.execPath, 'dist/cli.cjs'], { env, maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr })),
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(api.secret(NS, 'agent-litellm-key')?.decoded.OPENAI_API_KEY).toMatch(/^sk-/);
    const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)![1]) * 1024;
    // At least 15 % of the limit stays free: the answer's shape differs between LiteLLM versions, and so does its parse.
    expect(rss).toBeLessThan(limit * 0.85);
  }, 120_000);
});
