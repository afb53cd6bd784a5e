/** Renders deploy/kubernetes with the real `kubectl kustomize` (absent → undefined: tests skip). */
import { existsSync } from 'node:fs';
import { exec, REPO_ROOT } from './process.ts';
import type { RbacRule } from './kube-stand-in.ts';

export const KUBECTL = process.env.KUBECTL ?? ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Manifest = Record<string, any>;

export async function renderKustomization(dir = 'deploy/kubernetes'): Promise<Manifest[]> {
  if (!KUBECTL) throw new Error('kubectl is not installed');
  const r = await exec(KUBECTL, ['kustomize', dir], { cwd: REPO_ROOT, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr}`);
  const { parseAllDocuments } = await import('yaml');
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest).filter(Boolean);
}

/** The rendered Role's rules as the stand-in's RBAC table for `namespace`. */
export function roleRules(manifests: Manifest[], namespace: string): RbacRule[] {
  const role = manifests.find((m) => m.kind === 'Role');
  if (!role) throw new Error('no Role rendered');
  return (role.rules as Manifest[]).map((r) => ({
    namespace,
    role: role.metadata?.name,
    verbs: r.verbs,
    resources: r.apiGroups?.includes('') ? r.resources : [],
    ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
  }));
}
