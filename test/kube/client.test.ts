/**
 * The in-cluster client against the Kubernetes API stand-in (TLS, bearer token, RBAC) on
 * loopback: what a Job sees when its service account is right, wrong, or short of a verb.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/log.ts';
import { inClusterConfig } from '../../src/kube/in-cluster.ts';
import { KubeClient, KubeConflictError, type KubeSecret } from '../../src/kube/client.ts';
import { ConfigError, KubeRefusedError, KubeUnavailableError } from '../../src/errors.ts';
import { serviceAccountDir, serviceAccountUser, startKubeStandIn, makeTestPki, type KubeStandIn } from '../support/kube-stand-in.ts';

const NS = 'apps';
const JOB = serviceAccountUser(NS, 'llm-proxy-bootstrap');
const log = await createLogger({ level: 'silent', format: 'json' });
let api: KubeStandIn;
let sa: ReturnType<typeof serviceAccountDir>;
let client: KubeClient | undefined;

beforeEach(async () => {
  api = await startKubeStandIn({
    tokens: { 'job-token': JOB },
    rbac: {
      [JOB]: [
        { namespace: NS, verbs: ['get', 'update', 'patch'], resources: ['secrets'], resourceNames: ['agent-key'] },
        { namespace: NS, verbs: ['create'], resources: ['secrets'] },
      ],
    },
  });
  sa = serviceAccountDir(api, { token: 'job-token', namespace: NS });
});
afterEach(async () => {
  await client?.close();
  client = undefined;
  await api.close();
  sa.cleanup();
});

async function connect(env: Record<string, string> = sa.env): Promise<KubeClient> {
  client = await KubeClient.open(inClusterConfig(env), { timeoutMs: 5000, log, userAgent: 'llm-proxy-bootstrap/test' });
  return client;
}
const soon = () => Date.now() + 5000;
const secret = (name: string, value: string, resourceVersion?: string): KubeSecret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, ...(resourceVersion ? { resourceVersion } : {}) },
  type: 'Opaque',
  data: { OPENAI_API_KEY: Buffer.from(value).toString('base64') },
});

describe('in-cluster Kubernetes client', () => {
  it('finds the API server, namespace, CA and token the way a pod does, and reads, creates and replaces its Secret', async () => {
    const c = await connect();
    expect(c.namespace).toBe(NS);
    expect(await c.getSecret('agent-key', soon())).toBeUndefined();
    const created = await c.createSecret(secret('agent-key', 'sk-one'), soon());
    expect(api.secret(NS, 'agent-key')?.decoded).toEqual({ OPENAI_API_KEY: 'sk-one' });
    const read = (await c.getSecret('agent-key', soon()))!;
    expect(read.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    await c.replaceSecret(secret('agent-key', 'sk-two', read.metadata.resourceVersion), soon());
    expect(api.secret(NS, 'agent-key')?.decoded).toEqual({ OPENAI_API_KEY: 'sk-two' });
    expect(api.requests.map((r) => r.user)).toEqual(Array(4).fill(JOB));
  });

  it('never overwrites a newer Secret: a stale resourceVersion, a second create, a deleted Secret are conflicts', async () => {
    const c = await connect();
    const first = await c.createSecret(secret('agent-key', 'sk-one'), soon());
    await c.replaceSecret(secret('agent-key', 'sk-two', first.metadata.resourceVersion), soon());
    await expect(c.replaceSecret(secret('agent-key', 'sk-three', first.metadata.resourceVersion), soon())).rejects.toMatchObject({ name: 'KubeConflictError', reason: 'Conflict' });
    await expect(c.createSecret(secret('agent-key', 'sk-four'), soon())).rejects.toMatchObject({ reason: 'AlreadyExists' });
    api.deleteSecret(NS, 'agent-key');
    await expect(c.replaceSecret(secret('agent-key', 'sk-five', first.metadata.resourceVersion), soon())).rejects.toBeInstanceOf(KubeConflictError);
  });

  it('reads the token again for every request (projected tokens are rotated)', async () => {
    const c = await connect();
    await c.getSecret('agent-key', soon());
    api.addToken('rotated-token', JOB);
    api.removeToken('job-token');
    sa.setToken('rotated-token\n');
    expect(await c.getSecret('agent-key', soon())).toBeUndefined();
  });

  it('a bad token is exit 4, naming what it tried', async () => {
    sa.setToken('expired-token');
    const err = await (await connect()).getSecret('agent-key', soon()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeRefusedError);
    expect((err as KubeRefusedError).exitCode).toBe(4);
    expect((err as Error).message).toBe('the Kubernetes API rejected the service account token (401 Unauthorized) when trying to get secret "agent-key" in namespace "apps"');
  });

  it('a missing RBAC verb is exit 4, naming the verb and resource and what to grant', async () => {
    api.setRules(JOB, [{ namespace: NS, verbs: ['get', 'update', 'patch'], resources: ['secrets'], resourceNames: ['agent-key'] }]);
    const c = await connect();
    const err = (await c.createSecret(secret('agent-key', 'sk'), soon()).catch((e: unknown) => e)) as KubeRefusedError;
    expect(err.exitCode).toBe(4);
    expect(err.message).toBe(
      `the service account may not create secrets in namespace "apps" (403 Forbidden: secrets is forbidden: User "${JOB}" cannot create resource "secrets" in API group "" in the namespace "apps")`,
    );
    expect(err.hint).toContain('verbs ["create"] on resources ["secrets"]');
    const other = (await c.getSecret('litellm-masterkey', soon()).catch((e: unknown) => e)) as KubeRefusedError;
    expect(other.message).toMatch(/^the service account may not get secret "litellm-masterkey" in namespace "apps" \(403 Forbidden: /);
    expect(other.hint).toContain('resourceNames ["litellm-masterkey"]');
  });

  it('asks before a write whether RBAC allows it (a SelfSubjectAccessReview, once per write), exit 4 naming what to grant', async () => {
    api.setRules(JOB, [{ namespace: NS, verbs: ['get', 'update', 'patch'], resources: ['secrets'], resourceNames: ['agent-key'] }]);
    const c = await connect();
    await c.assertMay('update', 'agent-key', soon());
    await c.assertMay('update', 'agent-key', soon());
    const err = (await c.assertMay('create', 'agent-key', soon()).catch((e: unknown) => e)) as KubeRefusedError;
    expect(err).toBeInstanceOf(KubeRefusedError);
    expect(err.exitCode).toBe(4);
    // An opaque token names nobody: "the service account" (a kubelet's JWT names it, see kube-scenarios).
    expect(err.message).toBe('the service account may not create secrets in namespace "apps", which writing secret "agent-key" (it does not exist yet) needs; asked with a SelfSubjectAccessReview before issuing any key: not allowed');
    expect(err.hint).toContain('verbs ["create"] on resources ["secrets"]');
    const update = (await c.assertMay('update', 'other-key', soon()).catch((e: unknown) => e)) as KubeRefusedError;
    expect(update.message).toMatch(/^the service account may not update secret "other-key" in namespace "apps"; /);
    expect(update.hint).toContain('resourceNames ["other-key"]');
    expect(api.verbs()).toEqual(['can-i update secrets/agent-key', 'can-i create secrets', 'can-i update secrets/other-key']);
    expect(api.secret(NS, 'agent-key')).toBeUndefined();
  });

  it.each(['forbidden', 'absent'] as const)('an API server whose reviews are %s leaves the question to the write, and is not asked again', async (how) => {
    api.selfReviews(how);
    api.setRules(JOB, []);
    const c = await connect();
    await c.assertMay('create', 'agent-key', soon());
    await c.assertMay('update', 'agent-key', soon());
    expect(api.requests.map((r) => r.status)).toEqual([how === 'forbidden' ? 403 : 404]);
  });

  it('retries an API server that is briefly failing (503, 429), and gives up at the deadline with exit 3', async () => {
    const c = await connect();
    api.failNext(2, { status: 503 });
    api.failNext(1, { status: 429 });
    expect(await c.getSecret('agent-key', soon())).toBeUndefined();
    expect(api.requests.map((r) => r.status)).toEqual([503, 503, 429, 404]);
    api.failNext(1000, { status: 500 });
    const err = await c.getSecret('agent-key', Date.now() + 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect((err as KubeUnavailableError).exitCode).toBe(3);
  });

  it('refuses an API server whose certificate the mounted ca.crt does not vouch for', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${sa.dir}/ca.crt`, makeTestPki(['other-ca.invalid']).caPem);
    const err = await (await connect()).getSecret('agent-key', soon()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/presented a certificate that .*ca\.crt does not vouch for/);
  });

  it('outside a pod, says so (exit 2) before anything else happens', () => {
    expect(() => inClusterConfig({})).toThrow(/KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not/);
    expect(() => inClusterConfig({ ...sa.env, KUBERNETES_SERVICE_ACCOUNT_DIR: '/nonexistent' })).toThrow("cannot read the service account's namespace at /nonexistent/namespace (ENOENT)");
  });
});
