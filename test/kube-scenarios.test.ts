/**
 * Secret mode, the user's stories on Kubernetes: the built CLI runs as a process the way the Job
 * runs it (no .env, settings from the environment, the service account directory mounted),
 * against the LiteLLM stand-in and the Kubernetes API stand-in on loopback, with exactly the
 * RBAC of deploy/kubernetes/rbac.yaml.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn } from './support/litellm-stand-in.ts';
import { serviceAccountDir, serviceAccountToken, serviceAccountUser, startKubeStandIn, type KubeStandIn, type RbacRule } from './support/kube-stand-in.ts';
import { deployedRules as rulesOf } from './support/kube-rbac.ts';
import { runCli, startCli, watchSecrets, WatchedSecrets, type CliResult } from './support/cli.ts';

const MASTER = 'sk-master-k8s-5d1e8a9f';
const NS = 'litellm';
const SECRET = 'agent-litellm-key';
const ALIAS = 'task-agent default';
const JOB = serviceAccountUser(NS, 'llm-proxy-bootstrap');
/** The Job's token, shaped like the kubelet's (a JWT naming the service account). */
const TOKEN = serviceAccountToken(NS, 'llm-proxy-bootstrap');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The Role of deploy/kubernetes, as the stand-in's RBAC table. */
const deployedRules = (): Promise<RbacRule[]> => rulesOf(NS);

let proxy: LiteLLMStandIn;
let api: KubeStandIn;
let sa: ReturnType<typeof serviceAccountDir>;
let cwd: string;

beforeEach(async () => {
  proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini', 'gpt-4o'] });
  api = await startKubeStandIn({ tokens: { [TOKEN]: JOB }, rbac: { [JOB]: await deployedRules() } });
  sa = serviceAccountDir(api, { token: TOKEN, namespace: NS });
  cwd = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-k8s-'));
});
afterEach(async () => {
  await proxy.close();
  await api.close();
  sa.cleanup();
  await rm(cwd, { recursive: true, force: true });
});

/** The Job's environment (deploy/kubernetes/job.yaml), pointed at the stand-ins. No .env exists. */
function jobEnv(extra: Record<string, string | undefined> = {}) {
  return {
    LITELLM_KEY_SECRET: SECRET,
    PROXY_BASE_URL: proxy.url,
    LITELLM_DEFAULT_MODELS: 'gpt-4o-mini',
    LITELLM_MASTER_KEY: MASTER,
    LITELLM_PROXY_WAIT_SECONDS: '10',
    ENV_FILE_PATH: path.join(cwd, 'does-not-exist', '.env'),
    ...sa.env,
    ...extra,
  };
}
const job = (extra: Record<string, string | undefined> = {}) => runCli([], { env: jobEnv(extra), cwd });

/** Keys the runs issued: every later run fails if it prints any 8-character piece of one (support/cli.ts). */
const issued = new WatchedSecrets();
watchSecrets(MASTER, TOKEN);
/** The key in the Secret, as the agent's secretKeyRef would read it. */
const secretKey = () => {
  const key = api.secret(NS, SECRET)?.decoded.OPENAI_API_KEY;
  if (key) issued.add(key);
  return key;
};
const aliasKeys = () => proxy.keys().filter((k) => k.key_alias === ALIAS);
async function works(key: string | undefined): Promise<boolean> {
  const res = await fetch(`${proxy.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  return res.status === 200;
}
function noSecretsIn(r: CliResult, ...secrets: (string | undefined)[]) {
  for (const s of [MASTER, TOKEN, ...secrets]) if (s) expect(r.stdout + r.stderr).not.toContain(s);
}

describe('Secret mode (Kubernetes Job)', () => {
  it('first run: issues the key and writes it into the Secret, with the ledger on the Secret and no file anywhere', async () => {
    const r = await job();
    expect(r.code, r.stderr).toBe(0);
    const key = secretKey();
    expect(key).toMatch(/^sk-/);
    expect(await works(key)).toBe(true);
    expect(aliasKeys()).toHaveLength(1);
    expect(aliasKeys()[0]!.models).toEqual(['gpt-4o-mini']);
    const secret = api.secret(NS, SECRET)!;
    expect(secret.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'llm-proxy-bootstrap' });
    const ledger = JSON.parse(secret.metadata.annotations!['llm-proxy-bootstrap/ledger']!);
    expect(ledger.issued).toEqual([{ sha256: sha256(key!), alias: ALIAS, env: 'OPENAI_API_KEY', issuedAt: expect.any(String) }]);
    // The key is in data only: not in labels, annotations, or anything printed.
    expect(JSON.stringify(secret.metadata)).not.toContain(key);
    noSecretsIn(r, key);
    // Before the key is issued, the Job asks whether it may create the Secret.
    expect(api.verbs()).toEqual([`get ${SECRET}`, 'can-i create secrets', 'create']);
    expect(r.last).toMatch(/^done: created key "task-agent default"$/);
    // No .env read, nothing mirrored, no file written.
    expect(await readdir(cwd)).toEqual([]);
  });

  it('warm re-run: one read of the Secret, two requests to the proxy (the key, the models), no write', async () => {
    expect((await job()).code).toBe(0);
    const before = api.secret(NS, SECRET)!;
    api.resetRequests();
    proxy.resetRequests();
    const r = await job();
    expect(r.code, r.stderr).toBe(0);
    expect(api.verbs()).toEqual([`get ${SECRET}`]);
    expect(proxy.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /key/info', 'GET /model/info']);
    expect(api.secret(NS, SECRET)!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(r.last).toBe('done: reused key "task-agent default"');
  });

  it('renewal in a scheduled Job: the new key goes into the Secret, the old one is retired on its ledger and deleted by the run after its grace', async () => {
    const lifetime = { LITELLM_DEFAULT_KEY_RENEW_BEFORE: '1h', LITELLM_KEY_GRACE_PERIOD: '2s' };
    expect((await job()).code).toBe(0);
    const old = secretKey()!;
    // The key is due: it expires in 30 minutes, as the proxy reports it.
    const res = await fetch(`${proxy.url}/key/update`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ key: sha256(old), duration: '30m' }) });
    expect(res.status).toBe(200);
    const r = await job(lifetime);
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/renewed key "task-agent default"/);
    const key = secretKey()!;
    expect(key).not.toBe(old);
    // A pod that still has the old key in its environment keeps working through the grace.
    expect(await works(old)).toBe(true);
    expect(await works(key)).toBe(true);
    const ledger = () => JSON.parse(api.secret(NS, SECRET)!.metadata.annotations!['llm-proxy-bootstrap/ledger']!);
    expect(ledger().retired).toEqual([{ sha256: sha256(old), alias: ALIAS, until: expect.any(String) }]);
    expect(aliasKeys().map((k) => k.token)).toEqual([sha256(key)]);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const after = await job(lifetime);
    expect(after.code, after.stderr).toBe(0);
    expect(after.last).toMatch(/deleted the retired keys of "task-agent default"/);
    expect(proxy.keys().map((k) => k.token)).toEqual([sha256(key)]);
    expect(ledger().retired).toBeUndefined();
    noSecretsIn(r, key, old);
    noSecretsIn(after, key, old);
  });

  it("the Role grants nothing the Job never asks for: a first run, a warm run and a replaced key use each of its Secret verbs, and no other", async () => {
    expect((await job()).code).toBe(0);
    expect((await job()).code).toBe(0);
    proxy.expireKey(secretKey()!);
    expect((await job()).code).toBe(0);
    const used = new Set(api.requests.filter((q) => q.verb && q.resource === 'secrets').map((q) => q.verb));
    const granted = new Set((await deployedRules()).flatMap((rule) => rule.verbs));
    // A granted verb no request needs (e.g. `patch`) is a permission an attacker with the Job's token gets for free.
    expect([...granted].sort()).toEqual([...used].sort());
  });

  it.each(['expired', 'blocked'] as const)('an %s key is replaced in the Secret, and the dead one deleted', async (how) => {
    expect((await job()).code).toBe(0);
    const old = secretKey()!;
    if (how === 'expired') proxy.expireKey(old);
    else proxy.blockKey(old);
    api.resetRequests();
    const r = await job();
    expect(r.code, r.stderr).toBe(0);
    const key = secretKey();
    expect(key).not.toBe(old);
    expect(await works(key)).toBe(true);
    expect(aliasKeys().map((k) => k.token)).toEqual([sha256(key!)]);
    expect(api.verbs()).toEqual([`get ${SECRET}`, `can-i update secrets/${SECRET}`, `update ${SECRET}`]);
    const ledger = JSON.parse(api.secret(NS, SECRET)!.metadata.annotations!['llm-proxy-bootstrap/ledger']!);
    expect(ledger.issued.map((e: { sha256: string }) => e.sha256)).toEqual([sha256(old), sha256(key!)]);
    expect(r.last).toBe('done: replaced key "task-agent default"');
  });

  it('the Secret was deleted but its key lives on the proxy: a new key, and only one per alias afterwards', async () => {
    expect((await job()).code).toBe(0);
    const old = secretKey();
    api.deleteSecret(NS, SECRET);
    const r = await job();
    expect(r.code, r.stderr).toBe(0);
    const key = secretKey();
    expect(key).not.toBe(old);
    expect(await works(key)).toBe(true);
    expect(await works(old)).toBe(false);
    expect(aliasKeys()).toHaveLength(1);
  });

  it('keeps what else the Secret holds (other data, labels, annotations)', async () => {
    api.putSecret(NS, SECRET, { OTHER: 'kept' }, { labels: { team: 'agents' }, annotations: { note: 'by hand' } });
    expect((await job()).code).toBe(0);
    const s = api.secret(NS, SECRET)!;
    expect(s.decoded.OTHER).toBe('kept');
    expect(await works(s.decoded.OPENAI_API_KEY)).toBe(true);
    expect(s.metadata.labels).toMatchObject({ team: 'agents', 'app.kubernetes.io/managed-by': 'llm-proxy-bootstrap' });
    expect(s.metadata.annotations).toMatchObject({ note: 'by hand' });
  });

  it('writes that lose a race (409 Conflict) are re-read and retried; the keys of lost writes are deleted', async () => {
    expect((await job()).code).toBe(0);
    proxy.expireKey(secretKey()!);
    api.conflictNext(2);
    api.resetRequests();
    const r = await job();
    expect(r.code, r.stderr).toBe(0);
    expect(api.requests.filter((q) => q.verb === 'update').map((q) => q.status)).toEqual([409, 409, 200]);
    expect(await works(secretKey())).toBe(true);
    expect(aliasKeys().map((k) => k.token)).toEqual([sha256(secretKey()!)]);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(4);
    expect(r.logs.some((l) => String(l.msg).includes('another run changed the key store meanwhile; looking again'))).toBe(true);
  });

  /** Requests that change keys on the proxy. */
  const proxyWrites = () => proxy.requests.filter((q) => ['/key/generate', '/key/update', '/key/delete'].includes(q.path)).map((q) => q.path);

  it('without create permission: exit 4 naming the verb, resource, namespace and service account, before any key is issued', async () => {
    api.setRules(JOB, (await deployedRules()).filter((rule) => !rule.verbs.includes('create')));
    const r = await job();
    expect(r.code).toBe(4);
    expect(r.last).toContain(`the service account "${JOB}" may not create secrets in namespace "${NS}", which writing secret "${SECRET}" (it does not exist yet) needs`);
    expect(r.last).toContain('grant it a Role rule with verbs ["create"] on resources ["secrets"]');
    expect(r.last).toContain('nothing was issued on the proxy');
    expect(proxyWrites()).toEqual([]);
    expect(proxy.keys()).toHaveLength(0);
    expect(api.verbs()).toEqual([`get ${SECRET}`, 'can-i create secrets']);
    expect(api.secret(NS, SECRET)).toBeUndefined();
    noSecretsIn(r);
  });

  it('without update permission on the existing Secret: exit 4 before anything changes on the proxy (no key issued, updated or deleted)', async () => {
    // Two keys in the Secret: one expired (to replace, so the Secret is written), one whose models changed (a /key/update).
    const dir = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-keys-'));
    try {
      const keysFile = path.join(dir, 'keys.yaml');
      const keys = (embeddingModels: string) => ['keys:', '  - alias: task-agent default', '    env: OPENAI_API_KEY', '  - alias: task-agent embeddings', '    env: EMBEDDINGS_API_KEY', `    models: [${embeddingModels}]`, ''].join('\n');
      await writeFile(keysFile, keys('gpt-4o-mini'));
      expect((await job({ LITELLM_BOOTSTRAP_CONFIG: keysFile })).code).toBe(0);
      const old = secretKey()!;
      issued.add(api.secret(NS, SECRET)!.decoded.EMBEDDINGS_API_KEY!);
      proxy.expireKey(old);
      await writeFile(keysFile, keys('gpt-4o-mini, gpt-4o'));
      const before = api.secret(NS, SECRET)!;
      const keysBefore = JSON.stringify(proxy.keys());
      api.setRules(JOB, (await deployedRules()).map((rule) => ({ ...rule, verbs: rule.verbs.filter((v) => v !== 'update') })));
      api.resetRequests();
      proxy.resetRequests();
      const r = await job({ LITELLM_BOOTSTRAP_CONFIG: keysFile });
      expect(r.code).toBe(4);
      expect(r.last).toContain(`the service account "${JOB}" may not update secret "${SECRET}" in namespace "${NS}"`);
      expect(r.last).toContain(`grant it a Role rule with verbs ["get", "update"] on resources ["secrets"] with resourceNames ["${SECRET}"]`);
      expect(proxyWrites()).toEqual([]);
      expect(JSON.stringify(proxy.keys())).toBe(keysBefore);
      expect(api.verbs()).toEqual([`get ${SECRET}`, `can-i update secrets/${SECRET}`]);
      expect(api.secret(NS, SECRET)!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
      noSecretsIn(r, old);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['refuses (403)', 'forbidden'],
    ['does not serve (404)', 'absent'],
  ] as const)('an API server that %s SelfSubjectAccessReviews: the write finds the missing permission, and the key issued for it is deleted again', async (_, how) => {
    api.selfReviews(how);
    api.setRules(JOB, (await deployedRules()).filter((rule) => !rule.verbs.includes('create')));
    const r = await job({ LOG_LEVEL: 'debug' });
    expect(r.code).toBe(4);
    expect(r.last).toContain(`the service account may not create secrets in namespace "${NS}" (403 Forbidden: secrets is forbidden: User "${JOB}" cannot create resource "secrets" in API group "" in the namespace "${NS}")`);
    expect(r.last).toContain('verbs ["create"] on resources ["secrets"]');
    expect(r.logs.some((l) => l.level === 20 && String(l.msg).includes(`the Kubernetes API answered no SelfSubjectAccessReview (${how === 'forbidden' ? 403 : 404})`))).toBe(true);
    expect(proxy.requestCount({ path: '/key/generate' })).toBe(1);
    expect(aliasKeys()).toHaveLength(0);
    expect(api.secret(NS, SECRET)).toBeUndefined();
  });

  it('a bad token: exit 4 before anything happens on the proxy', async () => {
    sa.setToken('revoked-token');
    const r = await job();
    expect(r.code).toBe(4);
    expect(r.last).toContain(`the Kubernetes API rejected the service account token (401 Unauthorized) when trying to get secret "${SECRET}" in namespace "${NS}"`);
    expect(proxy.requests).toHaveLength(0);
    noSecretsIn(r, 'revoked-token');
  });

  it('four Jobs at once: each exits 0, and they end with one key, the one in the Secret', async () => {
    // Writes wait until all four have read the Secret (absent): each of them issues a key.
    const release = api.holdWrites();
    const running = [1, 2, 3, 4].map(() => startCli([], { env: jobEnv(), cwd }).exited);
    while (api.requests.filter((q) => q.verb === 'get' && q.status === 404).length < 4) await new Promise((r) => setTimeout(r, 20));
    release();
    const runs = await Promise.all(running);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    // Each issued a key; the losers' writes conflicted, they deleted their keys and looked again.
    expect(proxy.requestCount({ path: '/key/generate' })).toBeGreaterThanOrEqual(4);
    const key = secretKey();
    expect(await works(key)).toBe(true);
    expect(aliasKeys().map((k) => k.token)).toEqual([sha256(key!)]);
    // A fifth run finds everything in place.
    api.resetRequests();
    expect((await job()).last).toBe('done: reused key "task-agent default"');
    expect(api.verbs()).toEqual([`get ${SECRET}`]);
  });

  it('a keys file writes each key to its Secret (secret:, or LITELLM_KEY_SECRET by default)', async () => {
    api.setRules(JOB, [...(await deployedRules()), { namespace: NS, verbs: ['get', 'update', 'patch'], resources: ['secrets'], resourceNames: ['memory-key'] }]);
    const dir = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-keys-'));
    try {
      const keysFile = path.join(dir, 'keys.yaml');
      await writeFile(keysFile, ['keys:', '  - alias: task-agent default', '    env: OPENAI_API_KEY', '  - alias: task-agent embeddings', '    env: EMBEDDINGS_API_KEY', '  - alias: memory service', '    env: MEMORY_API_KEY', '    secret: memory-key', ''].join('\n'));
      const r = await job({ LITELLM_BOOTSTRAP_CONFIG: keysFile });
      expect(r.code, r.stderr).toBe(0);
      const agent = api.secret(NS, SECRET)!.decoded;
      expect(Object.keys(agent).sort()).toEqual(['EMBEDDINGS_API_KEY', 'OPENAI_API_KEY']);
      expect(await works(agent.OPENAI_API_KEY)).toBe(true);
      expect(await works(agent.EMBEDDINGS_API_KEY)).toBe(true);
      expect(await works(api.secret(NS, 'memory-key')!.decoded.MEMORY_API_KEY)).toBe(true);
      for (const k of [agent.OPENAI_API_KEY, agent.EMBEDDINGS_API_KEY]) issued.add(k!);
      api.resetRequests();
      expect((await job({ LITELLM_BOOTSTRAP_CONFIG: keysFile })).last).toBe('done: reused key "task-agent default", "task-agent embeddings", "memory service"');
      expect(api.verbs()).toEqual([`get ${SECRET}`, 'get memory-key']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('outside a pod (no KUBERNETES_SERVICE_HOST): exit 2 saying so', async () => {
    const r = await job({ KUBERNETES_SERVICE_HOST: undefined });
    expect(r.code).toBe(2);
    expect(r.last).toContain('LITELLM_KEY_SECRET is set, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not');
    expect(proxy.requests).toHaveLength(0);
  });

  it('--dry-run and --check read the Secret and change nothing', async () => {
    const dry = await runCli(['--check'], { env: jobEnv(), cwd });
    expect(dry.code).toBe(5);
    expect(dry.stdout).toContain(`issue a new key "task-agent default" (no key yet) and write it to data.OPENAI_API_KEY of Secret ${SECRET}`);
    expect(api.secret(NS, SECRET)).toBeUndefined();
    expect((await job()).code).toBe(0);
    expect((await runCli(['--check'], { env: jobEnv(), cwd })).code).toBe(0);
  });
});
