/**
 * deploy/kubernetes as `kubectl kustomize` renders it: a Job, its ServiceAccount, and a Role that
 * lets it touch one Secret and nothing else; the example agent reads the key the Job writes.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KUBECTL, renderKustomization, type Manifest } from '../support/kustomize.ts';

const envOf = (container: Manifest) => Object.fromEntries((container.env as Manifest[]).map((e) => [e.name, e.value ?? e.valueFrom]));

describe.skipIf(!KUBECTL)('the kustomize base in deploy/kubernetes', () => {
  it('renders a Job, ServiceAccount, Role and RoleBinding, and nothing else', async () => {
    const kinds = (await renderKustomization()).map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(kinds).toEqual(['Job/llm-proxy-bootstrap', 'Role/llm-proxy-bootstrap', 'RoleBinding/llm-proxy-bootstrap', 'ServiceAccount/llm-proxy-bootstrap']);
  });

  it('grants least privilege: get/update/patch on the key\'s Secret by name, create on secrets, nothing more', async () => {
    const manifests = await renderKustomization();
    const job = manifests.find((m) => m.kind === 'Job')!;
    const secretName = envOf(job.spec.template.spec.containers[0]).LITELLM_KEY_SECRET;
    expect(secretName).toBe('agent-litellm-key');
    const role = manifests.find((m) => m.kind === 'Role')!;
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: [secretName], verbs: ['get', 'update', 'patch'] },
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

  it('the example agent reads the key from the Secret and key the Job writes', async () => {
    const job = (await renderKustomization()).find((m) => m.kind === 'Job')!;
    const env = envOf(job.spec.template.spec.containers[0]);
    const agent = parse(await readFile('deploy/kubernetes/examples/agent-deployment.yaml', 'utf8')) as Manifest;
    const agentEnv = envOf(agent.spec.template.spec.containers[0]);
    // LITELLM_DEFAULT_KEY_ENV_NAME is unset in the Job: the key is written as data.OPENAI_API_KEY.
    expect(env.LITELLM_DEFAULT_KEY_ENV_NAME).toBeUndefined();
    expect(agentEnv.OPENAI_API_KEY).toEqual({ secretKeyRef: { name: env.LITELLM_KEY_SECRET, key: 'OPENAI_API_KEY' } });
    expect(agentEnv.OPENAI_BASE_URL).toBe(`${env.PROXY_BASE_URL}/v1`);
    expect(agent.spec.template.spec.automountServiceAccountToken).toBe(false);
  });
});

describe.skipIf(!KUBECTL)('docs/kubernetes.md', () => {
  it('its overlay example renders: your namespace, image and models on top of the base', async () => {
    const { mkdtemp, mkdir, writeFile, symlink, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const doc = await readFile('docs/kubernetes.md', 'utf8');
    const overlay = /```yaml\n# overlays\/prod\/kustomization\.yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(overlay).toBeDefined();
    const root = await mkdtemp(path.join(tmpdir(), 'kustomize-overlay-'));
    try {
      await symlink(path.resolve('deploy'), path.join(root, 'deploy'));
      await mkdir(path.join(root, 'overlays/prod'), { recursive: true });
      await writeFile(path.join(root, 'overlays/prod/kustomization.yaml'), overlay!);
      const job = (await renderKustomization(path.join(root, 'overlays/prod'))).find((m) => m.kind === 'Job')!;
      const container = job.spec.template.spec.containers[0];
      expect(container.image).toBe('registry.example.com/llm-proxy-bootstrap:0.1.0');
      expect(envOf(container)).toMatchObject({ LITELLM_DEFAULT_MODELS: 'gpt-4o-mini,gpt-4o', LITELLM_KEY_SECRET: 'agent-litellm-key' });
      expect(job.metadata.namespace).toBe('litellm');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
