/**
 * Proves the Kubernetes API stand-in (a TEST DOUBLE, test/support/kube-stand-in.ts) speaks the
 * real protocol: the real `kubectl` creates, reads, patches, replaces and deletes Secrets
 * through it over TLS with a bearer token, and shows its 401, 403, 404 and 409 answers the way it
 * shows a real API server's; `kubectl auth can-i` (SelfSubjectAccessReviews, sent as protobuf) gets
 * the answers of its RBAC table. Skipped where kubectl is not installed.
 */
import { request } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exec } from './support/process.ts';
import { startKubeStandIn, serviceAccountUser, type KubeStandIn } from './support/kube-stand-in.ts';
import { KUBECTL } from './support/kustomize.ts';
const NS = 'apps';
const ADMIN = serviceAccountUser(NS, 'admin');
const JOB = serviceAccountUser(NS, 'llm-proxy-bootstrap');

let api: KubeStandIn;
let dir: string;

beforeEach(async () => {
  api = await startKubeStandIn({
    tokens: { 'admin-token': ADMIN, 'job-token': JOB },
    rbac: {
      [ADMIN]: [{ namespace: NS, verbs: ['*'], resources: ['secrets'] }],
      // The Role of deploy/kubernetes: get/update/patch on the one Secret, create on secrets.
      [JOB]: [
        { namespace: NS, verbs: ['get', 'update', 'patch'], resources: ['secrets'], resourceNames: ['agent-key'] },
        { namespace: NS, verbs: ['create'], resources: ['secrets'] },
      ],
    },
  });
  dir = await mkdtemp(path.join(tmpdir(), 'kube-stand-in-test-'));
});
afterEach(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs kubectl with a kubeconfig that trusts the stand-in's CA and carries `token`. */
async function kubectl(token: string, ...args: string[]) {
  const config = path.join(dir, `config-${token}`);
  await writeFile(
    config,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stand-in', cluster: { server: api.url, 'certificate-authority': api.caFile } }],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'ctx', context: { cluster: 'stand-in', user: 'sa', namespace: NS } }],
      'current-context': 'ctx',
    }),
  );
  const r = await exec(KUBECTL!, ['--kubeconfig', config, '--cache-dir', path.join(dir, 'cache'), '--request-timeout=20s', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: dir },
    timeoutMs: 60_000,
  });
  return { ...r, out: r.stdout.trim(), err: r.stderr.trim() };
}

async function manifest(name: string, body: object): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(body));
  return file;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe.skipIf(!KUBECTL)('kubectl against the Kubernetes API stand-in', () => {
  it('creates, reads, patches (strategic, merge, JSON), replaces and deletes a Secret', async () => {
    const file = await manifest('secret.json', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'agent-key', labels: { app: 'agent' } }, data: { OPENAI_API_KEY: b64('sk-first') } });
    const created = await kubectl('admin-token', 'create', '-f', file);
    expect(created.code, created.err).toBe(0);
    expect(created.out).toBe('secret/agent-key created');

    const got = await kubectl('admin-token', 'get', 'secret', 'agent-key', '-o', 'json');
    expect(got.code, got.err).toBe(0);
    const secret = JSON.parse(got.out);
    expect(secret).toMatchObject({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'agent-key', namespace: NS, labels: { app: 'agent' } }, data: { OPENAI_API_KEY: b64('sk-first') } });
    expect(secret.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(secret.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);

    // The printed table is the server's (NAME TYPE DATA AGE).
    const table = await kubectl('admin-token', 'get', 'secrets');
    expect(table.out.split('\n')[0]).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE$/);
    expect(table.out).toMatch(/^agent-key\s+Opaque\s+1\s+\d+s$/m);

    expect((await kubectl('admin-token', 'patch', 'secret', 'agent-key', '-p', JSON.stringify({ data: { EXTRA: b64('x') } }))).out).toBe('secret/agent-key patched');
    expect(api.requests.find((r) => r.method === 'PATCH')?.contentType).toBe('application/strategic-merge-patch+json');
    expect((await kubectl('admin-token', 'patch', 'secret', 'agent-key', '--type=merge', '-p', JSON.stringify({ metadata: { annotations: { note: 'hi' } }, data: { EXTRA: null } }))).code).toBe(0);
    expect(api.secret(NS, 'agent-key')).toMatchObject({ decoded: { OPENAI_API_KEY: 'sk-first' }, metadata: { annotations: { note: 'hi' } } });
    expect((await kubectl('admin-token', 'patch', 'secret', 'agent-key', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/data/OPENAI_API_KEY', value: b64('sk-second') }]))).code).toBe(0);
    expect(api.secret(NS, 'agent-key')?.decoded).toEqual({ OPENAI_API_KEY: 'sk-second' });

    // replace with the current resourceVersion succeeds; with a stale one it is a Conflict.
    const current = api.secret(NS, 'agent-key')!;
    const fresh = await manifest('fresh.json', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'agent-key', resourceVersion: current.metadata.resourceVersion }, data: { OPENAI_API_KEY: b64('sk-third') } });
    const replaced = await kubectl('admin-token', 'replace', '-f', fresh);
    expect(replaced.out, replaced.err).toBe('secret/agent-key replaced');
    expect(api.secret(NS, 'agent-key')?.decoded).toEqual({ OPENAI_API_KEY: 'sk-third' });
    expect(Number(api.secret(NS, 'agent-key')!.metadata.resourceVersion)).toBeGreaterThan(Number(current.metadata.resourceVersion));
    const stale = await kubectl('admin-token', 'replace', '-f', fresh);
    expect(stale.code).toBe(1);
    expect(stale.err).toContain('Error from server (Conflict)');
    expect(stale.err).toContain('Operation cannot be fulfilled on secrets "agent-key": the object has been modified; please apply your changes to the latest version and try again');

    const again = await kubectl('admin-token', 'create', '-f', file);
    expect(again.err).toContain('Error from server (AlreadyExists)');
    expect(again.err).toContain('secrets "agent-key" already exists');

    expect((await kubectl('admin-token', 'delete', 'secret', 'agent-key')).out).toBe('secret "agent-key" deleted');
    expect(api.secret(NS, 'agent-key')).toBeUndefined();
    const gone = await kubectl('admin-token', 'get', 'secret', 'agent-key', '-o', 'json');
    expect(gone.err).toBe('Error from server (NotFound): secrets "agent-key" not found');
  });

  it('shows RBAC denials with the API server\'s message: the Job may touch only its own Secret', async () => {
    api.putSecret(NS, 'agent-key', { OPENAI_API_KEY: 'sk-x' });
    api.putSecret(NS, 'litellm-masterkey', { masterkey: 'sk-master' });
    expect((await kubectl('job-token', 'get', 'secret', 'agent-key', '-o', 'json')).code).toBe(0);
    const other = await kubectl('job-token', 'get', 'secret', 'litellm-masterkey');
    expect(other.code).toBe(1);
    expect(other.err).toBe(
      `Error from server (Forbidden): secrets "litellm-masterkey" is forbidden: User "${JOB}" cannot get resource "secrets" in API group "" in the namespace "${NS}"`,
    );
    const list = await kubectl('job-token', 'get', 'secrets');
    expect(list.err).toBe(`Error from server (Forbidden): secrets is forbidden: User "${JOB}" cannot list resource "secrets" in API group "" in the namespace "${NS}"`);
    const del = await kubectl('job-token', 'delete', 'secret', 'agent-key');
    expect(del.err).toBe(`Error from server (Forbidden): secrets "agent-key" is forbidden: User "${JOB}" cannot delete resource "secrets" in API group "" in the namespace "${NS}"`);
    // create cannot be limited by name in RBAC: any name may be created.
    const any = await manifest('other.json', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'whatever' }, stringData: { a: 'b' } });
    expect((await kubectl('job-token', 'create', '-f', any)).out).toBe('secret/whatever created');
    expect(api.secret(NS, 'whatever')?.decoded).toEqual({ a: 'b' });
  });

  it('answers `kubectl auth can-i` from its RBAC table, as the requests themselves are then answered', async () => {
    api.putSecret(NS, 'agent-key', { OPENAI_API_KEY: 'sk-x' });
    const table: [string[], 'yes' | 'no'][] = [
      [['create', 'secrets', '-n', NS], 'yes'],
      [['create', 'secrets', '-n', 'kube-system'], 'no'],
      [['get', 'secrets/agent-key'], 'yes'],
      [['update', 'secrets/agent-key'], 'yes'],
      [['patch', 'secrets/agent-key'], 'yes'],
      [['update', 'secrets/litellm-masterkey'], 'no'],
      [['delete', 'secrets/agent-key'], 'no'],
      [['list', 'secrets'], 'no'],
      // Every authenticated user may ask (the default ClusterRole system:basic-user).
      [['create', 'selfsubjectaccessreviews.authorization.k8s.io'], 'yes'],
    ];
    for (const [args, answer] of table) {
      const r = await kubectl('job-token', 'auth', 'can-i', ...args);
      expect(r.out, `can-i ${args.join(' ')}: ${r.err}`).toBe(answer);
      expect(r.code).toBe(answer === 'yes' ? 0 : 1);
    }
    expect((await kubectl('admin-token', 'auth', 'can-i', 'delete', 'secrets/agent-key')).out).toBe('yes');
    // kubectl asks in protobuf; nothing else was requested but discovery and the reviews, nothing written.
    const reviews = api.requests.filter((q) => q.resource === 'selfsubjectaccessreviews');
    expect(reviews).toHaveLength(table.length + 1);
    expect(reviews.every((q) => q.method === 'POST' && q.status === 201 && q.contentType === 'application/vnd.kubernetes.protobuf')).toBe(true);
    expect(api.requests.filter((q) => q.resource === 'secrets')).toEqual([]);
    // The answers hold: the Job may create a Secret in its namespace but not in another, and not delete its own.
    const other = await manifest('other.json', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'other' }, stringData: { a: 'b' } });
    expect((await kubectl('job-token', 'create', '-f', other)).out).toBe('secret/other created');
    expect((await kubectl('job-token', 'create', '-n', 'kube-system', '-f', other)).err).toContain('Error from server (Forbidden)');
    expect((await kubectl('job-token', 'delete', 'secret', 'agent-key')).err).toContain('Error from server (Forbidden)');
  });

  it('answers a SelfSubjectAccessReview in JSON as kube-apiserver does, stores none, and can refuse or not serve them', async () => {
    // The wire format of k8s.io/api/authorization/v1 (types.go): the review comes back with its spec,
    // metadata.creationTimestamp null and status.allowed (RBAC adds why when it allows; no opinion → false alone).
    const ask = (verb: string, name?: string) =>
      manifest(`review-${verb}.json`, { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: NS, verb, resource: 'secrets', ...(name ? { name } : {}) } } });
    // --validate=false: kubectl validates a kind without a PATCH operation against OpenAPI v2 in protobuf, which the stand-in does not serve.
    const yes = await kubectl('job-token', 'create', '--validate=false', '-f', await ask('update', 'agent-key'), '-o', 'json');
    expect(yes.code, yes.err).toBe(0);
    expect(JSON.parse(yes.out)).toEqual({
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: { resourceAttributes: { namespace: NS, verb: 'update', resource: 'secrets', name: 'agent-key' } },
      status: { allowed: true, reason: `RBAC: allowed by RoleBinding "stand-in/${NS}" of Role "stand-in" to ServiceAccount "llm-proxy-bootstrap/${NS}"` },
    });
    const no = await kubectl('job-token', 'create', '--validate=false', '-f', await ask('delete', 'agent-key'), '-o', 'json');
    expect(JSON.parse(no.out).status).toEqual({ allowed: false });
    const listed = await kubectl('admin-token', 'get', 'selfsubjectaccessreviews');
    expect(listed.err).toBe('Error from server (MethodNotAllowed): the server does not allow this method on the requested resource');

    api.selfReviews('forbidden');
    const refused = await kubectl('job-token', 'auth', 'can-i', 'create', 'secrets');
    expect(refused.err).toBe(`Error from server (Forbidden): selfsubjectaccessreviews.authorization.k8s.io is forbidden: User "${JOB}" cannot create resource "selfsubjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope`);
    api.selfReviews('absent');
    const absent = await kubectl('job-token', 'auth', 'can-i', 'create', 'secrets');
    expect(absent.err).toBe('Error from server (NotFound): the server could not find the requested resource');
  });

  it('shows an unknown token as kubectl shows a real 401', async () => {
    const r = await kubectl('not-a-token', 'get', 'secret', 'agent-key');
    expect(r.code).toBe(1);
    // Discovery is refused first (client-go's wording), then the request itself would be (the Status's "Unauthorized").
    expect(r.err.split('\n').at(-1)).toMatch(/^error: You must be logged in to the server \((the server has asked for the client to provide credentials|Unauthorized)\)$/);
    expect(api.requests.every((q) => q.status === 401)).toBe(true);
  });

  it('rejects what a real API server rejects: bad base64, an invalid label, a protobuf body', async () => {
    const bad = await manifest('bad.json', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bad' }, data: { K: 'not base64!' } });
    const r1 = await kubectl('admin-token', 'create', '-f', bad);
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/illegal base64 data at input byte \d+/);
    const label = await manifest('label.json', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'lbl', labels: { hash: 'a'.repeat(64) } } });
    const r2 = await kubectl('admin-token', 'create', '-f', label);
    expect(r2.err).toContain('Secret "lbl" is invalid: metadata.labels: Invalid value: "' + 'a'.repeat(64) + '": must be no more than 63 characters');

    // Protobuf is not spoken here: 415 with the apiserver's Status (kubectl's `create secret generic` sends protobuf).
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${api.url}/api/v1/namespaces/${NS}/secrets`, { method: 'POST', ca: api.caPem, headers: { authorization: 'Bearer admin-token', 'content-type': 'application/vnd.kubernetes.protobuf' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(Buffer.from([0x6b, 0x38, 0x73, 0x00]));
    });
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'UnsupportedMediaType', code: 415 });
  });
});
