/** The Role of deploy/kubernetes/rbac.yaml as the Kubernetes stand-in's RBAC table (tests of Secret mode). */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { RbacRule } from './kube-stand-in.ts';

export async function deployedRules(namespace: string): Promise<RbacRule[]> {
  const docs = parseAllDocuments(await readFile('deploy/kubernetes/rbac.yaml', 'utf8')).map((d) => d.toJS());
  const role = docs.find((d) => d.kind === 'Role');
  return role.rules.map((r: { verbs: string[]; resources: string[]; resourceNames?: string[] }) => ({
    namespace,
    role: role.metadata.name,
    verbs: r.verbs,
    resources: r.resources,
    ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
  }));
}
