/**
 * The key resource's decisions: from what was observed of each declared key, the step that
 * brings it to its spec (issue, update, rotate, or nothing). Pure (no I/O).
 */
import { bootstrapAliasOf, unnamedOfOurs, type KeyObservation } from './observe.ts';
import type { EnvFileState } from '../../store/env-files.ts';
import type { RetiredKey } from '../../store/key-store.ts';
import type { KeyInfo, UpdateRequest } from '../../proxy/client.ts';
import { KEY_TYPE_ROUTES, PROVISIONED_BY, type KeySpec } from './spec.ts';
import { looksLikeProviderKey } from './provider-key-shapes.ts';
import { aliasHeldElsewhere } from './ownership.ts';
import { describePrune, planPrune, type DroppedKey, type PruneStep } from './prune.ts';
import { GRACE_MARK, isRetired, lifetimeSettings, PENDING_MARKS, proxyRotation, renewal, RETIRED_MARK } from './lifetime.ts';

/** Where a value that may be the user's real upstream key goes before its line is overwritten. */
export type Preserve =
  | { to: 'env'; name: string; value: string; from: string; line: number | undefined }
  | { to: 'backup'; path: string; name: string; value: string; from: string; line: number | undefined; /** The provider whose key shape it lacks, when that is why it was not moved. */ unshaped?: string };

export type KeyStep =
  | {
      kind: 'issue';
      spec: KeySpec;
      reason: 'no key yet' | 'expired' | 'blocked' | 'unknown to the proxy' | 'not a key of this proxy';
      /** Tokens removed first: orphans holding the alias, the dead key itself, rotation leftovers. */
      deleteFirst: string[];
      preserve: Preserve | undefined;
    }
  | {
      kind: 'update';
      spec: KeySpec;
      token: string;
      /**
       * How /key/update names the key: the raw key when it is known (LiteLLM clears its
       * cache entry for the key as sent, so only then does the change take effect at once),
       * else the hash. Never logged.
       */
      key: string;
      changes: Omit<UpdateRequest, 'key'>;
      fields: string[];
      deleteFirst: string[];
      /** Finishing an interrupted rotation with a grace: the old keys get the grace instead of being deleted. */
      retireFirst: Retire[];
    }
  | {
      kind: 'rotate';
      spec: KeySpec;
      /** Why: `--rotate`, the expiry within `renew_before`, or the proxy rotated the key and the store holds the old string. */
      reason: 'asked' | 'renewal' | 'repair' | 'team';
      oldToken: string;
      /** How /key/update names the old key when it is retired (raw when known, else its hash). Never logged. */
      oldKey: string;
      oldMetadata: Record<string, unknown>;
      /** How long the old key keeps working after the new one is written; undefined: revoked at once. */
      grace: string | undefined;
      /** The old key's expiry as the proxy reports it (renewals). */
      expires: string | null;
      deleteFirst: string[];
    }
  /** Keys of ours a renewal retired, past their grace: deleted, then forgotten by the ledger. */
  | { kind: 'purge'; retired: RetiredKey[] }
  /** Keys of ours whose alias is no longer declared: deleted, their variable emptied, forgotten (prune.ts). */
  | PruneStep;

/** A key to retire: its life shortened to `grace`, its alias freed, marked (see lifetime.ts). */
export interface Retire {
  token: string;
  /** raw key or hash, as /key/update names it */
  key: string;
  metadata: Record<string, unknown>;
  grace: string;
}

export interface KeyPlanInput {
  keys: KeyObservation[];
  /** The main .env (absent in Secret mode): a user's upstream key found in a key's line may move to its LITELLM_ name there. */
  mainEnv: EnvFileState | undefined;
  rotate: (spec: KeySpec) => boolean;
  /** The grace of `--rotate` (`--grace` on its command line); undefined: the old key is revoked at once. */
  rotationGrace?: string | undefined;
  /** The grace of renewals (LITELLM_KEY_GRACE_PERIOD). */
  renewalGrace?: string;
  /** Retired keys the stores' ledgers record. */
  retired?: readonly RetiredKey[];
  /** The time the plan is made for (default: now). */
  now?: number;
  /** Keys of ours recorded under aliases no longer declared (prune.ts). */
  dropped?: readonly DroppedKey[];
  /** team_ids the teams kind removes in this run: a key declared without a team leaves such a team first. */
  leavingTeams?: ReadonlySet<string> | undefined;
}

const DEFAULT_GRACE = '1h';

export interface KeyPlan {
  steps: KeyStep[];
  notes: string[];
  /** Aliases whose key is already right. */
  reused: string[];
}

/** LiteLLM's own virtual keys look like this; an upstream provider key does not. */
const VIRTUAL_KEY_SHAPE = /^sk-[A-Za-z0-9_-]{22}$/;

export function desiredMetadata(spec: KeySpec): Record<string, unknown> {
  return { ...spec.metadata, provisioned_by: PROVISIONED_BY, bootstrap_alias: spec.alias };
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && new Set([...a, ...b]).size === new Set(a).size;

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Fields of `info` that differ from the spec. Fields the spec leaves unset are not enforced. */
export function keyChanges(spec: KeySpec, info: KeyInfo): { changes: Omit<UpdateRequest, 'key'>; fields: string[] } {
  const changes: Omit<UpdateRequest, 'key'> = {};
  const fields: string[] = [];
  if (!sameSet(spec.models, info.models)) {
    changes.models = spec.models;
    fields.push('models');
  }
  if (info.alias !== spec.alias) {
    changes.key_alias = spec.alias;
    fields.push('alias');
  }
  if (spec.maxBudget !== undefined && info.maxBudget !== spec.maxBudget) {
    changes.max_budget = spec.maxBudget;
    fields.push('max_budget');
  }
  if (spec.budgetDuration !== undefined && info.budgetDuration !== spec.budgetDuration) {
    changes.budget_duration = spec.budgetDuration;
    fields.push('budget_duration');
  }
  if (spec.userId !== undefined && info.userId !== spec.userId) {
    changes.user_id = spec.userId;
    fields.push('user_id');
  }
  // Optional attributes: only what the spec sets, never an explicit null (LiteLLM: null clears a field).
  const numbers = [
    ['team_id', spec.teamId, info.teamId],
    ['tpm_limit', spec.tpmLimit, info.tpmLimit],
    ['rpm_limit', spec.rpmLimit, info.rpmLimit],
    ['max_parallel_requests', spec.maxParallelRequests, info.maxParallelRequests],
  ] as const;
  for (const [field, wanted, stored] of numbers) {
    if (wanted !== undefined && stored !== wanted) {
      Object.assign(changes, { [field]: wanted });
      fields.push(field);
    }
  }
  // key_type is not stored: the proxy keeps the routes it stands for (an answer without the field is not compared).
  const routes = KEY_TYPE_ROUTES[spec.keyType];
  if (info.allowedRoutes !== undefined && !sameSet(routes, info.allowedRoutes)) {
    changes.allowed_routes = routes;
    fields.push(`key_type (${spec.keyType})`);
  }
  // auto_rotate stays off unless asked: a rotation by the proxy leaves the store with a dead string.
  if (spec.rotationInterval === undefined && info.rotation?.autoRotate === true) {
    changes.auto_rotate = false;
    fields.push('auto_rotate');
  }
  const wanted = desiredMetadata(spec);
  if (Object.entries(wanted).some(([k, v]) => !sameJson(info.metadata[k], v)) || PENDING_MARKS.some((m) => m in info.metadata)) {
    // /key/update replaces metadata whole: keep what others put there (but not a rotation's marks).
    const others = Object.fromEntries(Object.entries(info.metadata).filter(([k]) => !(PENDING_MARKS as readonly string[]).includes(k)));
    changes.metadata = { ...others, ...wanted };
    fields.push('metadata');
  }
  return { changes, fields };
}

function preserveFor(obs: KeyObservation, mainEnv: EnvFileState | undefined, backupPath: string, claimed: Set<string>): Preserve {
  const value = obs.value!;
  const base = { value, from: obs.file.path, line: obs.line };
  const provider = /^([A-Za-z0-9_]+)_API_KEY$/.exec(obs.spec.env)?.[1];
  const target = provider === undefined ? undefined : `LITELLM_${provider}_API_KEY`;
  const targetEmpty = target !== undefined && mainEnv !== undefined && (mainEnv.doc.get(target) ?? '').trim() === '' && !claimed.has(target);
  // Only a value shaped like the provider's keys becomes the proxy's upstream credential (provider-key-shapes.ts).
  if (target !== undefined && targetEmpty && obs.file.path === mainEnv?.path && !VIRTUAL_KEY_SHAPE.test(value) && looksLikeProviderKey(provider!, value)) {
    claimed.add(target);
    return { ...base, to: 'env', name: target };
  }
  const unshaped = target !== undefined && targetEmpty && obs.file.path === mainEnv?.path && !VIRTUAL_KEY_SHAPE.test(value) ? provider : undefined;
  return { ...base, to: 'backup', path: backupPath, name: obs.spec.env, ...(unshaped ? { unshaped } : {}) };
}

function planKey(obs: KeyObservation, input: KeyPlanInput, notes: string[], reused: string[], claimed: Set<string>): KeyStep | undefined {
  const { spec, state } = obs;
  const now = input.now ?? Date.now();
  const where = `${spec.env} in ${obs.file.path}${obs.line ? ` line ${obs.line}` : ''}`;
  if (obs.shadowedLines.length > 0) {
    notes.push(`${spec.env} is assigned more than once in ${obs.file.path} (lines ${[...obs.shadowedLines, obs.line].join(', ')}); the last one is in effect and is the one the bootstrap manages`);
  }
  const leftovers = obs.rotationLeftovers.map((k) => k.token!).filter(Boolean);
  const holders = obs.aliasHolders.map((k) => k.token!).filter(Boolean);
  // Another installation's key in this store (a .env copied from another stack): never updated, renewed or replaced while it works.
  if (obs.foreign !== undefined && state.kind === 'valid') {
    notes.push(`${where} holds a key issued by another installation (${obs.foreign}): left as it is; give this stack a key of its own by emptying ${spec.env}, or run with --take-over-alias to make it this installation's`);
    return undefined;
  }
  // The alias is needed (a new key, or a key taking the alias back) but a key that is not ours holds it: refused, nothing revoked.
  const needsAlias = state.kind !== 'valid' || (state.info.alias !== spec.alias && !isRetired(state.info));
  if (needsAlias && obs.foreignHolders?.length) throw aliasHeldElsewhere(spec, obs.foreignHolders);
  switch (state.kind) {
    case 'absent':
      return { kind: 'issue', spec, reason: 'no key yet', deleteFirst: [...holders, ...leftovers], preserve: undefined };
    case 'dead': {
      const ours = obs.foreign === undefined && (state.info.alias === spec.alias || bootstrapAliasOf(state.info) === spec.alias || obs.issuedByUs);
      return { kind: 'issue', spec, reason: state.why, deleteFirst: [...(ours ? [state.token] : []), ...holders, ...leftovers], preserve: undefined };
    }
    case 'unknown': {
      // The proxy rotated our key (auto_rotate): the row kept its alias and metadata under a new
      // token, and the store holds the old string. Rotate once more, this time writing the key.
      const rotated = obs.aliasHolders.find((k) => k.token !== null && bootstrapAliasOf(k) === spec.alias && proxyRotation(k) !== undefined);
      if (rotated && (obs.issuedByUs || VIRTUAL_KEY_SHAPE.test(obs.value ?? ''))) {
        const r = proxyRotation(rotated)!;
        const when = [r.count !== null ? `rotation ${r.count}` : undefined, r.lastAt ? `at ${r.lastAt}` : undefined].filter(Boolean).join(' ');
        notes.push(`key ${JSON.stringify(spec.alias)} was rotated by the proxy (auto_rotate${when ? `, ${when}` : ''}): ${where} holds the replaced key, so it is to be replaced (a repair step), leaving one key with the alias`);
        return {
          kind: 'rotate',
          spec,
          reason: 'repair',
          oldToken: rotated.token!,
          oldKey: rotated.token!,
          oldMetadata: rotated.metadata,
          grace: undefined,
          expires: rotated.expires,
          deleteFirst: [...holders.filter((t) => t !== rotated.token), ...leftovers],
        };
      }
      const deleteFirst = [...holders, ...leftovers];
      if (obs.issuedByUs) return { kind: 'issue', spec, reason: 'unknown to the proxy', deleteFirst, preserve: undefined };
      return { kind: 'issue', spec, reason: 'not a key of this proxy', deleteFirst, preserve: preserveFor(obs, input.mainEnv, obs.file.backupPath, claimed) };
    }
    case 'valid': {
      if (isRetired(state.info) && state.info.alias !== spec.alias) {
        notes.push(`${where} holds a key a renewal retired (it works until ${String(state.info.metadata[RETIRED_MARK])}): left as it is (a restored backup?); once it has expired the next run replaces it`);
        return undefined;
      }
      const intendedAlias = bootstrapAliasOf(state.info);
      if (state.info.alias !== spec.alias && intendedAlias !== spec.alias && !unnamedOfOurs(obs)) {
        notes.push(`${where} is a working virtual key with alias ${JSON.stringify(state.info.alias)}, not ${JSON.stringify(spec.alias)}: left as it is (the user's choice)`);
        return undefined;
      }
      if (state.overBudget) notes.push(`key ${JSON.stringify(spec.alias)} is over its budget; it is kept (raise max_budget to lift the limit)`);
      // Another team: LiteLLM's /key/update moves a key into a team only when the key's user is a
      // member of it (key_management_endpoints.validate_key_team_change, 403 otherwise), so the key is
      // reissued in the team (written, then the old one revoked), as a rotation without grace.
      const teamNow = state.info.teamId ?? undefined;
      const leaving = spec.teamId === undefined && teamNow !== undefined && input.leavingTeams?.has(teamNow) === true;
      if (state.info.alias === spec.alias && ((spec.teamId !== undefined && teamNow !== spec.teamId) || leaving)) {
        return { kind: 'rotate', spec, reason: 'team', oldToken: state.token, oldKey: obs.value ?? state.token, oldMetadata: state.info.metadata, grace: undefined, expires: state.info.expires, deleteFirst: leftovers };
      }
      const asked = input.rotate(spec);
      const due = renewal(spec, state.info, now);
      if ((asked || due === 'renew') && state.info.alias === spec.alias) {
        return {
          kind: 'rotate',
          spec,
          reason: asked ? 'asked' : 'renewal',
          oldToken: state.token,
          oldKey: obs.value ?? state.token,
          oldMetadata: state.info.metadata,
          grace: asked ? input.rotationGrace : (input.renewalGrace ?? DEFAULT_GRACE),
          expires: state.info.expires,
          deleteFirst: leftovers,
        };
      }
      // An interrupted rotation (the new key, unaliased and marked, is in the file) is finished by renaming it,
      // after removing the old key, or retiring it when the rotation had a grace (the mark says which).
      const { changes, fields } = keyChanges(spec, state.info);
      if (due === 'extend' && state.info.alias === spec.alias) {
        // A proxy that rounds a new key's expiry (LiteLLM 1.77) gave it less life than its renew window:
        // a renewal would get the same expiry back. The key keeps its value; its exact lifetime is set.
        const names = lifetimeSettings(spec);
        changes.duration = spec.duration;
        fields.push(
          `expiry (the proxy chose ${state.info.expires}, within ${names.renewBefore} ${spec.renewBefore} of the key's issue, so a renewal would not move it later; the key is kept and gets its exact ${names.duration} ${spec.duration})`,
        );
      }
      if (fields.length === 0) {
        reused.push(spec.alias);
        return undefined;
      }
      const finishing = state.info.alias === spec.alias ? [] : obs.aliasHolders.filter((k) => k.token !== null);
      const grace = typeof state.info.metadata[GRACE_MARK] === 'string' ? (state.info.metadata[GRACE_MARK] as string) : undefined;
      const retire = grace === undefined ? [] : finishing.filter((k) => bootstrapAliasOf(k) === spec.alias);
      return {
        kind: 'update',
        spec,
        token: state.token,
        key: obs.value ?? state.token,
        changes,
        fields,
        deleteFirst: finishing.filter((k) => !retire.includes(k)).map((k) => k.token!),
        retireFirst: retire.map((k) => ({ token: k.token!, key: k.token!, metadata: k.metadata, grace: grace! })),
      };
    }
  }
}

/** The steps of every declared key, in declaration order. */
export function planKeys(input: KeyPlanInput): KeyPlan {
  const notes: string[] = [];
  const reused: string[] = [];
  const claimed = new Set<string>();
  const steps: KeyStep[] = [];
  for (const obs of input.keys) {
    const step = planKey(obs, input, notes, reused, claimed);
    if (step) steps.push(step);
  }
  // Retired keys past their grace are deleted (never one a store holds again, e.g. a restored backup).
  const now = input.now ?? Date.now();
  const stored = new Set(input.keys.flatMap((o) => (o.state.kind === 'absent' ? [] : [o.state.token])));
  const due = (input.retired ?? []).filter((r) => Date.parse(r.until) <= now && !stored.has(r.token));
  if (due.length > 0) steps.push({ kind: 'purge', retired: due });
  // Keys dropped from the keys file: retired last, after every declared key is in place.
  steps.push(...planPrune(input.dropped ?? [], notes));
  return { steps, notes, reused };
}

/** Values the key steps move into the main .env (a user's upstream key found in a key's line). */
export function movedValues(steps: readonly KeyStep[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const step of steps) if (step.kind === 'issue' && step.preserve?.to === 'env') values[step.preserve.name] = step.preserve.value;
  return values;
}

/** One secret-free line for a key step. */
export function describeKeyStep(step: KeyStep): string {
  const file = (s: KeySpec) => (s.secret ? `data.${s.env} of Secret ${s.secret}` : `${s.env} in ${s.file}`);
  switch (step.kind) {
    case 'issue': {
      const parts = [`issue a new key ${JSON.stringify(step.spec.alias)} (${step.reason}) and write it to ${file(step.spec)}`];
      if (step.deleteFirst.length > 0) parts.push(`after deleting ${step.deleteFirst.length} stale key(s) holding its alias`);
      if (step.preserve?.to === 'env') parts.push(`moving the current value to ${step.preserve.name} (it may be an upstream provider key)`);
      if (step.preserve?.to === 'backup') parts.push(`saving the current value to ${step.preserve.path} first`);
      return parts.join(', ');
    }
    case 'update': {
      const finishing = [
        step.deleteFirst.length ? `delete ${step.deleteFirst.length} old key(s)` : '',
        step.retireFirst.length ? `retire ${step.retireFirst.length} old key(s) for ${step.retireFirst[0]!.grace}` : '',
      ].filter(Boolean);
      return `update key ${JSON.stringify(step.spec.alias)}: ${step.fields.join(', ')}${step.changes.models ? ` → models [${step.changes.models.join(', ')}]` : ''}${finishing.length ? ` (finishing an interrupted rotation: ${finishing.join(', ')})` : ''}`;
    }
    case 'rotate': {
      if (step.reason === 'team') {
        return `move key ${JSON.stringify(step.spec.alias)} ${step.spec.teamId ? `into team ${step.spec.team ? JSON.stringify(step.spec.team) : step.spec.teamId}` : 'out of a team being removed'}: a new key issued there, written to ${file(step.spec)}; then the old one revoked (LiteLLM moves an existing key only for a member of the team)`;
      }
      const what =
        step.reason === 'renewal'
          ? `renew key ${JSON.stringify(step.spec.alias)} (it expires ${step.expires}, within renew_before ${step.spec.renewBefore})`
          : step.reason === 'repair'
            ? `repair key ${JSON.stringify(step.spec.alias)} (the proxy rotated it; the stored key is the replaced one)`
            : `rotate key ${JSON.stringify(step.spec.alias)}`;
      const old = step.reason === 'repair' ? 'replace the proxy\'s rotated key' : step.grace ? `let the old one work ${step.grace} more` : 'revoke the old one';
      return `${what}: a new key (in place with /key/regenerate where the proxy is licensed, else issued without alias until the old one is gone), written to ${file(step.spec)}; then ${old}`;
    }
    case 'prune':
      return describePrune(step);
    case 'purge':
      return `delete ${step.retired.length} retired key(s) past their grace period (${[...new Set(step.retired.map((r) => JSON.stringify(r.alias)))].join(', ')})`;
  }
}
