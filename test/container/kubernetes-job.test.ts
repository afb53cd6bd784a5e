/**
 * The image run the way deploy/kubernetes/job.yaml runs it: its env (the master key resolved as
 * secretKeyRef would), its user, a read-only root filesystem, no capabilities, no privilege
 * escalation, the service account directory mounted read-only at the standard path — against
 * the Kubernetes API stand-in and the LiteLLM stand-in on the host (--network host).
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { NAME_PREFIX, TEST_LABEL, describeRun, docker, dockerContext, type DockerContext } from '../support/docker.ts';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { serviceAccountUser, startKubeStandIn, type KubeStandIn } from '../support/kube-stand-in.ts';

const ctx = dockerContext(inject('docker'));
const MASTER = 'sk-k8s-container-master-0123456789';
const NS = 'litellm';
const JOB_USER = serviceAccountUser(NS, 'llm-proxy-bootstrap');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = Record<string, any>;

describe.skipIf(ctx.skip !== undefined)(`the image as the Kubernetes Job (${ctx.skip ? `skipped: ${ctx.skip}` : 'stand-ins on the host'})`, () => {
  let proxy: LiteLLMStandIn;
  let api: KubeStandIn;
  let saDir: string;
  let job: Manifest;
  let secretName: string;
  let runs = 0;

  beforeAll(async () => {
    job = parse(await readFile('deploy/kubernetes/job.yaml', 'utf8')) as Manifest;
    proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini'] });
    const role = (await readFile('deploy/kubernetes/rbac.yaml', 'utf8')).split(/^---$/m).map((d) => parse(d) as Manifest).find((d) => d.kind === 'Role')!;
    api = await startKubeStandIn({ tokens: { 'job-token': JOB_USER }, rbac: { [JOB_USER]: role.rules.map((r: Manifest) => ({ ...r, namespace: NS })) } });
    // As the kubelet mounts it: readable by the pod's user, read-only.
    saDir = await mkdtemp(path.join(tmpdir(), 'kube-sa-container-'));
    await writeFile(path.join(saDir, 'token'), 'job-token');
    await writeFile(path.join(saDir, 'ca.crt'), api.caPem);
    await writeFile(path.join(saDir, 'namespace'), NS);
    await chmod(saDir, 0o755);
    for (const f of ['token', 'ca.crt', 'namespace']) await chmod(path.join(saDir, f), 0o644);
  });
  afterAll(async () => {
    await proxy?.close();
    await api?.close();
    if (saDir) await rm(saDir, { recursive: true, force: true });
  });

  /** docker run with the Job's container spec. */
  async function runJob(c: DockerContext, extraEnv: Record<string, string> = {}) {
    const pod = job.spec.template.spec;
    const container = pod.containers[0];
    const env: Record<string, string> = {};
    for (const e of container.env as Manifest[]) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef?.name === 'litellm-masterkey') env[e.name] = MASTER;
    }
    Object.assign(env, { PROXY_BASE_URL: proxy.url, LITELLM_PROXY_WAIT_SECONDS: '20', KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port), ...extraEnv });
    secretName = env.LITELLM_KEY_SECRET!;
    const sc = container.securityContext;
    expect(sc).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const name = `${NAME_PREFIX}-${c.runId}-k8s-job-${++runs}`;
    const args = [
      'run', '--name', name, '--label', `${TEST_LABEL}=${c.runId}`,
      '--network', 'host',
      '--user', `${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`,
      '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true',
      '--memory', container.resources.limits.memory.replace('Mi', 'm'),
      '-v', `${saDir}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      c.bootstrapImage,
    ];
    try {
      return await docker(c, args, 180_000);
    } finally {
      await docker(c, ['rm', '-f', name]).catch(() => undefined);
    }
  }

  it('issues the key into the Secret, then a re-run reuses it without writing', async () => {
    const first = await runJob(ctx);
    expect(first.code, describeRun(first)).toBe(0);
    const key = api.secret(NS, secretName)?.decoded.OPENAI_API_KEY;
    expect(key).toMatch(/^sk-/);
    const res = await fetch(`${proxy.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect(first.stdout + first.stderr).not.toContain(key!);
    expect(first.stdout + first.stderr).not.toContain(MASTER);

    const rv = api.secret(NS, secretName)!.metadata.resourceVersion;
    api.resetRequests();
    const again = await runJob(ctx);
    expect(again.code, describeRun(again)).toBe(0);
    expect(api.verbs()).toEqual([`get ${secretName}`]);
    expect(api.secret(NS, secretName)!.metadata.resourceVersion).toBe(rv);
    expect(again.stderr).toContain('reused key');
  });

  it('a token the API server rejects: exit 4 with the reason, nothing on the proxy', async () => {
    api.removeToken('job-token');
    proxy.resetRequests();
    try {
      const r = await runJob(ctx);
      expect(r.code, describeRun(r)).toBe(4);
      expect(r.stderr).toContain('the Kubernetes API rejected the service account token (401 Unauthorized)');
      expect(proxy.requests).toHaveLength(0);
    } finally {
      api.addToken('job-token', JOB_USER);
    }
  });
});
