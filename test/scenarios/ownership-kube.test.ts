/**
 * Ownership in Secret mode (Kubernetes): an installation is the Job's namespace and its Secret.
 * Two Jobs in two namespaces on one LiteLLM never revoke each other's keys; a key dropped from the
 * keys file is retired and its data emptied in the Secret. The built CLI run as the Job runs it,
 * against the LiteLLM stand-in and the Kubernetes API stand-in with the RBAC of deploy/kubernetes.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { serviceAccountDir, serviceAccountToken, serviceAccountUser, startKubeStandIn, type KubeStandIn } from '../support/kube-stand-in.ts';
import { deployedRules } from '../support/kube-rbac.ts';
import { allOutput, runCli } from '../support/cli.ts';

const MASTER = 'sk-master-k8s-owner-4e7a';
const SECRET = 'agent-litellm-key';
const ALIAS = 'task-agent default';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const NAMESPACES = ['litellm', 'staging'] as const;

let proxy: LiteLLMStandIn;
let api: KubeStandIn;
let sas: Record<string, ReturnType<typeof serviceAccountDir>>;
let cwd: string;

beforeEach(async () => {
  proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['openai/*'], upstreamEnv: { OPENAI_API_KEY: 'sk-upstream-openai-not-real-0123456789' }, upstreamKeys: ['sk-upstream-openai-not-real-0123456789'] });
  const token = Object.fromEntries(NAMESPACES.map((ns) => [ns, serviceAccountToken(ns, 'llm-proxy-bootstrap')]));
  const tokens = Object.fromEntries(NAMESPACES.map((ns) => [token[ns]!, serviceAccountUser(ns, 'llm-proxy-bootstrap')]));
  const rbac = Object.fromEntries(await Promise.all(NAMESPACES.map(async (ns) => [serviceAccountUser(ns, 'llm-proxy-bootstrap'), await deployedRules(ns)] as const)));
  api = await startKubeStandIn({ tokens, rbac });
  sas = Object.fromEntries(NAMESPACES.map((ns) => [ns, serviceAccountDir(api, { token: token[ns]!, namespace: ns })]));
  cwd = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-k8s-owner-'));
});
afterEach(async () => {
  await proxy.close();
  await api.close();
  for (const sa of Object.values(sas)) sa.cleanup();
  await rm(cwd, { recursive: true, force: true });
  const secrets = [MASTER, ...NAMESPACES.flatMap((ns) => Object.values(api.secret(ns, SECRET)?.decoded ?? {}))].filter(Boolean);
  for (const out of allOutput) for (const s of secrets) expect(out).not.toContain(s);
});

/** The Job of deploy/kubernetes in namespace `ns`. */
const job = (ns: (typeof NAMESPACES)[number], args: string[] = [], extra: Record<string, string> = {}) =>
  runCli(args, {
    env: { LITELLM_KEY_SECRET: SECRET, PROXY_BASE_URL: proxy.url, LITELLM_DEFAULT_MODELS: 'openai/gpt-4o-mini', LITELLM_MASTER_KEY: MASTER, LITELLM_PROXY_WAIT_SECONDS: '10', ENV_FILE_PATH: path.join(cwd, 'does-not-exist', '.env'), ...sas[ns]!.env, ...extra },
    cwd,
  });

async function chat(key: string): Promise<number> {
  const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }) });
  await res.arrayBuffer();
  return res.status;
}

describe('Secret mode: ownership', () => {
  it('a second namespace with the same alias is refused (exit 2, naming LITELLM_DEFAULT_KEY_ALIAS); with its own alias both keep working', async () => {
    const first = await job('litellm');
    expect(first.code, first.stderr).toBe(0);
    const prod = api.secret('litellm', SECRET)!.decoded.OPENAI_API_KEY!;
    expect(proxy.keys().find((k) => k.token === sha256(prod))!.metadata.bootstrap_installation).toBe(`kubernetes:litellm/${SECRET}`);
    const refused = await job('staging');
    expect(refused.code).toBe(2);
    expect(refused.last).toMatch(/LITELLM_DEFAULT_KEY_ALIAS/);
    expect(refused.last).toMatch(/another installation of the bootstrap \(kubernetes:litellm\/agent-litellm-key/);
    expect(api.secret('staging', SECRET)).toBeUndefined();
    expect(await chat(prod)).toBe(200);
    for (let i = 0; i < 3; i++) {
      expect((await job('staging', [], { LITELLM_DEFAULT_KEY_ALIAS: 'task-agent staging' })).code).toBe(0);
      expect((await job('litellm')).code).toBe(0);
    }
    const staging = api.secret('staging', SECRET)!.decoded.OPENAI_API_KEY!;
    expect(api.secret('litellm', SECRET)!.decoded.OPENAI_API_KEY).toBe(prod);
    expect(await chat(prod)).toBe(200);
    expect(await chat(staging)).toBe(200);
  });

  it('a key dropped from the keys file is revoked and its data emptied in the Secret; the other namespace\'s keys are untouched', async () => {
    expect((await job('staging', [], { LITELLM_DEFAULT_KEY_ALIAS: 'task-agent staging' })).code).toBe(0);
    const staging = api.secret('staging', SECRET)!.decoded.OPENAI_API_KEY!;
    const keys = path.join(cwd, 'keys.yaml');
    await writeFile(keys, `keys:\n  - alias: ${ALIAS}\n    env: OPENAI_API_KEY\n  - alias: memory service\n    env: MEMORY_API_KEY\n`);
    expect((await job('litellm', [], { LITELLM_BOOTSTRAP_CONFIG: keys })).code).toBe(0);
    const memory = api.secret('litellm', SECRET)!.decoded.MEMORY_API_KEY!;
    expect(await chat(memory)).toBe(200);
    await writeFile(keys, `keys:\n  - alias: ${ALIAS}\n    env: OPENAI_API_KEY\n`);
    const check = await job('litellm', ['--check'], { LITELLM_BOOTSTRAP_CONFIG: keys });
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/retire key "memory service"/);
    const r = await job('litellm', [], { LITELLM_BOOTSTRAP_CONFIG: keys });
    expect(r.code, r.stderr).toBe(0);
    expect(await chat(memory)).toBe(401);
    expect(api.secret('litellm', SECRET)!.decoded.MEMORY_API_KEY).toBe('');
    expect(await chat(api.secret('litellm', SECRET)!.decoded.OPENAI_API_KEY!)).toBe(200);
    expect(await chat(staging)).toBe(200);
    expect((await job('litellm', ['--check'], { LITELLM_BOOTSTRAP_CONFIG: keys })).code).toBe(0);
  });

  it('teams and users: each namespace creates, keeps and removes its own; the same team alias in another namespace is refused, nothing of the first touched', async () => {
    const keys = path.join(cwd, 'keys.yaml');
    const file = (team: string) =>
      `teams:\n  - alias: ${team}\n    max_budget: 25\nusers:\n  - user_id: alice-${team}\n    max_budget: 10\nkeys:\n  - alias: ${ALIAS} ${team}\n    env: OPENAI_API_KEY\n    team: ${team}\n    user_id: alice-${team}\n`;
    await writeFile(keys, file('research'));
    const first = await job('litellm', [], { LITELLM_BOOTSTRAP_CONFIG: keys });
    expect(first.code, first.stderr).toBe(0);
    const listTeams = async () => (await (await fetch(`${proxy.url}/team/list`, { headers: { authorization: `Bearer ${MASTER}` } })).json()) as { team_id: string; team_alias: string; metadata: Record<string, unknown> }[];
    const [research] = await listTeams();
    expect(research!.metadata.bootstrap_installation).toBe(`kubernetes:litellm/${SECRET}`);
    const prod = api.secret('litellm', SECRET)!.decoded.OPENAI_API_KEY!;
    expect(proxy.keys().find((k) => k.token === sha256(prod))).toMatchObject({ team_id: research!.team_id, user_id: 'alice-research' });
    // The same alias from another namespace: refused, naming the line; the first namespace's team and key untouched.
    const refused = await job('staging', [], { LITELLM_BOOTSTRAP_CONFIG: keys });
    expect(refused.code).toBe(2);
    expect(refused.last).toMatch(/keys\.yaml line 2: team alias "research" is held by another installation of the bootstrap \(kubernetes:litellm\/agent-litellm-key\)/);
    expect(await chat(prod)).toBe(200);
    // Its own team: both live side by side; dropping it in staging removes staging's team only.
    await writeFile(keys, file('staging-research'));
    expect((await job('staging', [], { LITELLM_BOOTSTRAP_CONFIG: keys })).code).toBe(0);
    expect((await listTeams()).map((t) => t.team_alias).sort()).toEqual(['research', 'staging-research']);
    await writeFile(keys, `teams: []\nusers: []\nkeys:\n  - alias: staging agent\n    env: OTHER_API_KEY\n`);
    const dropped = await job('staging', [], { LITELLM_BOOTSTRAP_CONFIG: keys });
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.last).toMatch(/removed team "staging-research"/);
    expect(dropped.last).toMatch(/removed user "alice-staging-research"/);
    expect((await listTeams()).map((t) => t.team_alias)).toEqual(['research']);
    expect(await chat(prod)).toBe(200);
  });
});
