/**
 * Decide the user steps (pure, no I/O): the declared users against the proxy's users, by the
 * teams' rules. A user whose metadata names this installation is ours; any other (made by hand,
 * by another installation, or by LiteLLM 1.77's /key/generate for a key's new user_id) is never
 * changed nor removed: a declared user_id held by one is refused (exit 2, naming the keys-file
 * line) unless `--take-over-alias` adopts it. A user of ours no longer declared (the `users:`
 * section written, even empty) is removed in the kind's prune, once it holds no key (LiteLLM's
 * /user/delete deletes the user's keys).
 *
 * LiteLLM's /user/update sets only values that are not empty (None, [] and {} are skipped:
 * internal_user_endpoints._update_internal_user_params) and merges metadata, so a field dropped
 * from the file is left as it is.
 */
import { ConfigError } from '../../errors.ts';
import type { ProxyUser, UserRequest } from '../../proxy/client.ts';
import { installationOf, ownershipOf, type Installation } from '../../store/installation.ts';
import { declaredUserFields, userMetadata, type UserSpec } from './spec.ts';

export type UserStep =
  | { kind: 'user-create'; spec: UserSpec; body: UserRequest }
  | { kind: 'user-update'; spec: UserSpec; fields: string[]; body: UserRequest; adopt: string | undefined }
  | { kind: 'user-remove'; userId: string };

export interface UserPlanInput {
  declared: readonly UserSpec[];
  proxy: readonly ProxyUser[];
  installation: Pick<Installation, 'id' | 'takeOver'>;
  /** The `users:` section is written: users of ours it does not declare are removed. */
  prune: boolean;
}

export interface UserPlan {
  steps: UserStep[];
  notes: string[];
  removes: Set<string>;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && new Set([...a, ...b]).size === new Set(a).size;
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function current(u: ProxyUser): Record<string, unknown> {
  return { models: u.models, max_budget: u.maxBudget, budget_duration: u.budgetDuration, tpm_limit: u.tpmLimit, rpm_limit: u.rpmLimit };
}

/** The /user/update that brings `user` to `spec`, or undefined when it is right. */
export function userChanges(spec: UserSpec, user: ProxyUser, installation: string): { fields: string[]; body: UserRequest } | undefined {
  const body: UserRequest = { user_id: user.userId };
  const fields: string[] = [];
  const now = current(user);
  for (const [field, value] of Object.entries(declaredUserFields(spec))) {
    const same = Array.isArray(value) ? sameSet(value as string[], (now[field] as string[]) ?? []) : now[field] === value;
    if (!same) {
      Object.assign(body, { [field]: value });
      fields.push(field);
    }
  }
  const marks = userMetadata(spec, installation);
  if (Object.entries(marks).some(([k, v]) => !sameJson(user.metadata[k], v))) {
    // Merged by LiteLLM; sent whole all the same.
    body.metadata = { ...user.metadata, ...marks };
    fields.push('metadata');
  }
  return fields.length === 0 ? undefined : { fields, body };
}

export function userHeldElsewhere(spec: UserSpec, user: ProxyUser): ConfigError {
  const other = installationOf(user.metadata);
  const whose = other ? `another installation of the bootstrap (${other})` : 'a user this installation did not create (made by hand, by another stack, or by LiteLLM 1.77 for a key issued to that user_id)';
  return new ConfigError(`${spec.source}: user_id ${JSON.stringify(spec.userId)} is a user of ${whose}; this run does not change it`, {
    hint: `give the user at ${spec.source} a user_id of this stack's own; or, to make that user this installation's (updated in place, its keys kept, removed when no longer declared), run once with --take-over-alias`,
  });
}

export function planUsers(input: UserPlanInput): UserPlan {
  const { id: installation, takeOver } = input.installation;
  const steps: UserStep[] = [];
  const notes: string[] = [];
  const removes = new Set<string>();
  const byId = new Map(input.proxy.map((u) => [u.userId, u]));
  const declared = new Set(input.declared.map((s) => s.userId));
  for (const spec of input.declared) {
    const user = byId.get(spec.userId);
    if (user === undefined) {
      steps.push({ kind: 'user-create', spec, body: { user_id: spec.userId, ...declaredUserFields(spec), metadata: userMetadata(spec, installation) } as UserRequest });
      continue;
    }
    const ours = ownershipOf(user.metadata, installation, false) === 'ours';
    if (!ours && !takeOver) throw userHeldElsewhere(spec, user);
    const change = userChanges(spec, user, installation);
    if (change) steps.push({ kind: 'user-update', spec, ...change, adopt: ours ? undefined : (installationOf(user.metadata) ?? 'nobody we know (made by hand?)') });
  }
  if (input.prune) {
    for (const user of input.proxy) {
      if (declared.has(user.userId) || ownershipOf(user.metadata, installation, false) !== 'ours') continue;
      removes.add(user.userId);
      steps.push({ kind: 'user-remove', userId: user.userId });
    }
  }
  return { steps, notes, removes };
}

export function describeUserStep(step: UserStep): string {
  switch (step.kind) {
    case 'user-create':
      return `create user ${JSON.stringify(step.spec.userId)} (${step.spec.source})`;
    case 'user-update':
      return step.adopt
        ? `take over user ${JSON.stringify(step.spec.userId)} (made by ${step.adopt}; --take-over-alias): mark it as this installation's and set ${step.fields.join(', ')} (its keys kept)`
        : `update user ${JSON.stringify(step.spec.userId)}: ${step.fields.join(', ')} (its keys kept)`;
    case 'user-remove':
      return `remove user ${JSON.stringify(step.userId)} (created by this installation, no longer declared) once it holds no key`;
  }
}
