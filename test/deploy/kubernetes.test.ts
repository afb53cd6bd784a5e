/**
 * deploy/kubernetes as `kubectl kustomize` renders it: a Job, its ServiceAccount, and a Role that
 * lets it touch one Secret and nothing else; the example agent reads the key the Job writes.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KUBECTL, renderKustomization, type Manifest } from '../support/kustomize.ts';

const envOf = (container: Manifest) => Object.fromEntries((container.env as Manifest[]).map((e) => [e.name, e.value ?? e.valueFrom]));

/** deploy/kubernetes/examples/agent-deployment.yaml as kubectl reads it (YAML 1.1: 0440 is octal), rendered by kubectl kustomize. */
async function exampleAgent(): Promise<Manifest> {
  const { mkdtemp, writeFile, copyFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(tmpdir(), 'agent-example-'));
  try {
    await copyFile('deploy/kubernetes/examples/agent-deployment.yaml', path.join(dir, 'agent-deployment.yaml'));
    await writeFile(path.join(dir, 'kustomization.yaml'), 'resources:\n  - agent-deployment.yaml\n');
    const [rendered] = await renderKustomization(dir);
    const raw = parse(await readFile('deploy/kubernetes/examples/agent-deployment.yaml', 'utf8'), { version: '1.1' }) as Manifest;
    expect(rendered).toEqual(raw); // kustomize renders it as written: valid YAML, one Deployment
    return rendered!;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The overlays (path under the root -> kustomization.yaml text) next to a link to deploy/, rendered at `render`. */
async function renderOverlays(overlays: Record<string, string>, render: string): Promise<Manifest[]> {
  const { mkdtemp, mkdir, writeFile, symlink, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const root = await mkdtemp(path.join(tmpdir(), 'kustomize-overlay-'));
  try {
    await symlink(path.resolve('deploy'), path.join(root, 'deploy'));
    for (const [dir, text] of Object.entries(overlays)) {
      await mkdir(path.join(root, dir), { recursive: true });
      await writeFile(path.join(root, dir, 'kustomization.yaml'), text);
    }
    return await renderKustomization(path.join(root, render));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** A `yaml` block of docs/kubernetes.md that starts with the comment `# <name>`. */
async function docBlock(name: string): Promise<string> {
  const doc = await readFile('docs/kubernetes.md', 'utf8');
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const block = new RegExp('```yaml\n# ' + escaped + '\n([\\s\\S]*?)```').exec(doc)?.[1];
  expect(block, `docs/kubernetes.md has a yaml block "# ${name}"`).toBeDefined();
  return block!;
}

describe.skipIf(!KUBECTL)('the kustomize base in deploy/kubernetes', () => {
  it('renders a Job, ServiceAccount, Role and RoleBinding, and nothing else', async () => {
    const kinds = (await renderKustomization()).map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(kinds).toEqual(['Job/llm-proxy-bootstrap', 'Role/llm-proxy-bootstrap', 'RoleBinding/llm-proxy-bootstrap', 'ServiceAccount/llm-proxy-bootstrap']);
  });

  it('grants least privilege: get/update on the key\'s Secret by name, create on secrets, nothing more', async () => {
    const manifests = await renderKustomization();
    const job = manifests.find((m) => m.kind === 'Job')!;
    const secretName = envOf(job.spec.template.spec.containers[0]).LITELLM_KEY_SECRET;
    expect(secretName).toBe('agent-litellm-key');
    const role = manifests.find((m) => m.kind === 'Role')!;
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: [secretName], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    // A Role (namespaced), never a ClusterRole; bound to the Job's own service account only.
    expect(manifests.some((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding')).toBe(false);
    const binding = manifests.find((m) => m.kind === 'RoleBinding')!;
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: job.spec.template.spec.serviceAccountName, namespace: job.metadata.namespace }]);
    for (const m of manifests) expect(m.metadata.namespace).toBe('litellm');
  });

  it('runs the Job as a Helm post-install/post-upgrade hook and an Argo CD PostSync hook, hardened and bounded', async () => {
    const job = (await renderKustomization()).find((m) => m.kind === 'Job')!;
    expect(job.metadata.annotations).toMatchObject({
      'helm.sh/hook': 'post-install,post-upgrade',
      'helm.sh/hook-delete-policy': expect.stringContaining('before-hook-creation'),
      'argocd.argoproj.io/hook': 'PostSync',
      'argocd.argoproj.io/hook-delete-policy': expect.stringContaining('BeforeHookCreation'),
    });
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).not.toBe(0);
    const [container] = pod.containers;
    expect(pod.containers).toHaveLength(1);
    expect(container.securityContext).toEqual({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });
    // The master key comes from LiteLLM's chart Secret, never as a literal value in a manifest.
    expect(envOf(container).LITELLM_MASTER_KEY).toEqual({ secretKeyRef: { name: 'litellm-masterkey', key: 'masterkey' } });
    expect(pod.volumes).toBeUndefined();
  });

  it('the example agent mounts the Secret the Job writes as a file (no subPath, no env var) and reads the key from it', async () => {
    const job = (await renderKustomization()).find((m) => m.kind === 'Job')!;
    const env = envOf(job.spec.template.spec.containers[0]);
    const agent = await exampleAgent();
    const pod = agent.spec.template.spec;
    const [container] = pod.containers;
    const agentEnv = envOf(container);
    // LITELLM_DEFAULT_KEY_ENV_NAME is unset in the Job: the key is written as data.OPENAI_API_KEY.
    expect(env.LITELLM_DEFAULT_KEY_ENV_NAME).toBeUndefined();
    // Not an env var from secretKeyRef: that is read once, at container start.
    expect(agentEnv.OPENAI_API_KEY).toBeUndefined();
    const volume = (pod.volumes as Manifest[]).find((v) => v.secret)!;
    expect(volume.secret).toEqual({
      secretName: env.LITELLM_KEY_SECRET,
      items: [{ key: 'OPENAI_API_KEY', path: 'OPENAI_API_KEY' }],
      defaultMode: 0o440,
    });
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsUser);
    const mount = (container.volumeMounts as Manifest[]).find((m) => m.name === volume.name)!;
    expect(mount.subPath).toBeUndefined(); // the kubelet never updates a subPath mount
    expect(mount.readOnly).toBe(true);
    expect(agentEnv.OPENAI_API_KEY_FILE).toBe(`${mount.mountPath}/OPENAI_API_KEY`);
    expect(agentEnv.OPENAI_BASE_URL).toBe(`${env.PROXY_BASE_URL}/v1`);
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('the example agent, run as its manifest says against the LiteLLM stand-in, uses the key the kubelet swaps into the volume: no restart', async () => {
    const { mkdtemp, mkdir, writeFile, symlink, rename, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { spawn } = await import('node:child_process');
    const { startLiteLLMStandIn } = await import('../support/litellm-stand-in.ts');
    const master = 'sk-master-kube-agent-0000';
    const si = await startLiteLLMStandIn({ masterKey: master, models: ['gpt-4o-mini'] });
    const root = await mkdtemp(path.join(tmpdir(), 'secret-volume-'));
    const issue = async () =>
      ((await (await fetch(`${si.url}/key/generate`, { method: 'POST', headers: { authorization: `Bearer ${master}` }, body: JSON.stringify({ key_type: 'llm_api' }) })).json()) as { key: string }).key;
    // The kubelet's AtomicWriter layout: a timestamped dir, `..data` -> it, each file -> ..data/<file>;
    // an update writes a new timestamped dir and renames a new `..data` link over the old one.
    let n = 0;
    const publish = async (key: string) => {
      const dir = `..2026_12_02_00_00_0${n++}`;
      await mkdir(path.join(root, dir));
      await writeFile(path.join(root, dir, 'OPENAI_API_KEY'), key, { mode: 0o440 });
      await symlink(dir, path.join(root, '..data_tmp'));
      await rename(path.join(root, '..data_tmp'), path.join(root, '..data'));
    };
    const agent = await exampleAgent();
    const [container] = agent.spec.template.spec.containers;
    const env = { ...envOf(container), OPENAI_BASE_URL: `${si.url}/v1`, OPENAI_API_KEY_FILE: path.join(root, 'OPENAI_API_KEY'), AGENT_EVERY_SECONDS: '0.2' };
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const first = await issue();
      await publish(first);
      await symlink('..data/OPENAI_API_KEY', path.join(root, 'OPENAI_API_KEY'));
      const [node, ...nodeArgs] = container.command as string[];
      expect(node).toBe('node');
      child = spawn(process.execPath, [...nodeArgs, ...(container.args as string[])], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const waitFor = async (count: number, re: RegExp) => {
        for (let i = 0; i < 100 && (out.match(new RegExp(re, 'g')) ?? []).length < count; i++) await new Promise((r) => setTimeout(r, 50));
        expect((out.match(new RegExp(re, 'g')) ?? []).length, out).toBeGreaterThanOrEqual(count);
      };
      await waitFor(1, /models visible to the agent: 200 \[ 'gpt-4o-mini' \]/);
      // A scheduled run replaced the key (the old one revoked); the kubelet swaps the file.
      const second = await issue();
      await fetch(`${si.url}/key/delete`, { method: 'POST', headers: { authorization: `Bearer ${master}` }, body: JSON.stringify({ keys: [first] }) });
      await publish(second);
      const before = (out.match(/: 200 /g) ?? []).length;
      await waitFor(before + 2, /: 200 /);
      expect(child.exitCode).toBeNull();
      expect(out).not.toContain(second);
      // after the swap every request is answered: none was sent with the revoked key
      const lastTwo = si.requests.filter((r) => r.path === '/v1/models').slice(-2);
      expect(lastTwo.map((r) => r.status)).toEqual([200, 200]);
    } finally {
      child?.kill('SIGKILL');
      await si.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!KUBECTL)('docs/kubernetes.md', () => {
  it('its overlay example renders: your namespace, image and models on top of the base', async () => {
    const rendered = await renderOverlays({ 'overlays/prod': await docBlock('overlays/prod/kustomization.yaml') }, 'overlays/prod');
    const job = rendered.find((m) => m.kind === 'Job')!;
    const container = job.spec.template.spec.containers[0];
    expect(container.image).toBe('registry.example.com/llm-proxy-bootstrap:0.1.0');
    expect(envOf(container)).toMatchObject({ LITELLM_DEFAULT_MODELS: 'gpt-4o-mini,gpt-4o', LITELLM_KEY_SECRET: 'agent-litellm-key' });
    expect(job.metadata.namespace).toBe('litellm');
  });
});

describe.skipIf(!KUBECTL)('the scheduled variant: deploy/kubernetes-scheduled (the base + components/scheduled)', () => {
  const cronOf = (manifests: Manifest[]) => manifests.find((m) => m.kind === 'CronJob')!;
  const jobOf = (manifests: Manifest[]) => manifests.find((m) => m.kind === 'Job')!;

  it('renders the base plus one CronJob; the Role, RoleBinding and ServiceAccount are the base\'s, unchanged', async () => {
    const base = await renderKustomization();
    const scheduled = await renderKustomization('deploy/kubernetes-scheduled');
    const kinds = scheduled.map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(kinds).toEqual([
      'CronJob/llm-proxy-bootstrap',
      'Job/llm-proxy-bootstrap',
      'Role/llm-proxy-bootstrap',
      'RoleBinding/llm-proxy-bootstrap',
      'ServiceAccount/llm-proxy-bootstrap',
    ]);
    for (const kind of ['Role', 'RoleBinding', 'ServiceAccount', 'Job']) {
      expect(scheduled.find((m) => m.kind === kind)).toEqual(base.find((m) => m.kind === kind));
    }
    expect(scheduled.some((m) => m.kind === 'ClusterRole' || m.kind === 'ClusterRoleBinding')).toBe(false);
    for (const m of scheduled) expect(m.metadata.namespace).toBe('litellm');
  });

  it("the CronJob runs exactly the Job's pod (image, service account, settings, hardening), hourly, never two at once", async () => {
    const manifests = await renderKustomization('deploy/kubernetes-scheduled');
    const cron = cronOf(manifests);
    const job = jobOf(manifests);
    expect(cron.apiVersion).toBe('batch/v1');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    // five cron fields; hourly at a fixed minute
    expect(cron.spec.schedule).toMatch(/^\d{1,2} \* \* \* \*$/);
    expect(cron.spec.timeZone).toBe('Etc/UTC');
    expect(cron.spec.startingDeadlineSeconds).toBeGreaterThan(0);
    expect(cron.spec.successfulJobsHistoryLimit).toBeGreaterThanOrEqual(1);
    const run = cron.spec.jobTemplate.spec;
    expect(run.template).toEqual(job.spec.template);
    expect(run.template.spec.serviceAccountName).toBe('llm-proxy-bootstrap');
    expect(run.template.spec.containers[0].image).toBe('llm-proxy-bootstrap:0.1.0');
    expect(run.template.spec.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect({ backoffLimit: run.backoffLimit, podFailurePolicy: run.podFailurePolicy, activeDeadlineSeconds: run.activeDeadlineSeconds }).toEqual({
      backoffLimit: job.spec.backoffLimit,
      podFailurePolicy: job.spec.podFailurePolicy,
      activeDeadlineSeconds: job.spec.activeDeadlineSeconds,
    });
    // a run must end before the next one is due
    expect(run.activeDeadlineSeconds).toBeLessThan(3600);
    // the Job's hook annotations stay on the Job: Helm must not treat the CronJob as a hook
    expect(cron.metadata.annotations).toBeUndefined();
    expect(envOf(run.template.spec.containers[0]).LITELLM_MASTER_KEY).toEqual({ secretKeyRef: { name: 'litellm-masterkey', key: 'masterkey' } });
  });

  it("in your overlay: the component follows the overlay's namespace, image and Job patches", async () => {
    const overlays = {
      'overlays/prod': await docBlock('overlays/prod/kustomization.yaml'),
      'overlays/scheduled': await docBlock('overlays/scheduled/kustomization.yaml'),
    };
    const manifests = await renderOverlays(overlays, 'overlays/scheduled');
    const container = cronOf(manifests).spec.jobTemplate.spec.template.spec.containers[0];
    expect(container.image).toBe('registry.example.com/llm-proxy-bootstrap:0.1.0');
    expect(envOf(container)).toMatchObject({ LITELLM_DEFAULT_MODELS: 'gpt-4o-mini,gpt-4o' });
    expect(cronOf(manifests).spec.jobTemplate.spec.template).toEqual(jobOf(manifests).spec.template);
    // another namespace: the CronJob moves with the Job, and the RoleBinding's subject with them
    const elsewhere =
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ai\nresources:\n  - ../../deploy/kubernetes\ncomponents:\n  - ../../deploy/kubernetes/components/scheduled\n';
    const moved = await renderOverlays({ 'overlays/elsewhere': elsewhere }, 'overlays/elsewhere');
    for (const m of moved) expect(m.metadata.namespace).toBe('ai');
    expect(moved.find((m) => m.kind === 'RoleBinding')!.subjects[0].namespace).toBe('ai');
  });
});
