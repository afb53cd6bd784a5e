/**
 * The key resource's decisions: from what was observed of each declared key, the step that
 * brings it to its spec (issue, update, rotate, or nothing). Pure (no I/O).
 */
import { basename } from 'node:path';
import { bootstrapAliasOf, ROTATION_MARK, type KeyObservation } from './observe.ts';
import type { EnvFileState } from '../../store/env-files.ts';
import type { KeyInfo, UpdateRequest } from '../../proxy/client.ts';
import { PROVISIONED_BY, type KeySpec } from '../../config/key-spec.ts';

/** Where a value that may be the user's real upstream key goes before its line is overwritten. */
export type Preserve =
  | { to: 'env'; name: string; value: string; from: string; line: number | undefined }
  | { to: 'backup'; path: string; name: string; value: string; from: string; line: number | undefined };

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
    }
  | { kind: 'rotate'; spec: KeySpec; oldToken: string; deleteFirst: string[] };

export interface KeyPlanInput {
  keys: KeyObservation[];
  /** The main .env (absent in Secret mode): a user's upstream key found in a key's line may move to its LITELLM_ name there. */
  mainEnv: EnvFileState | undefined;
  rotate: (spec: KeySpec) => boolean;
}

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
  const wanted = desiredMetadata(spec);
  if (Object.entries(wanted).some(([k, v]) => !sameJson(info.metadata[k], v)) || ROTATION_MARK in info.metadata) {
    // /key/update replaces metadata whole: keep what others put there (but not a rotation's mark).
    const { [ROTATION_MARK]: _mark, ...others } = info.metadata;
    changes.metadata = { ...others, ...wanted };
    fields.push('metadata');
  }
  return { changes, fields };
}

/**
 * A key of ours without any alias that the ledger knows: a rotation whose last step (the alias) was
 * refused, e.g. by an alias rule, and the alias setting changed since. It takes the configured alias.
 */
export function unnamedOfOurs(obs: Pick<KeyObservation, 'issuedByUs' | 'state'>): boolean {
  return obs.state.kind === 'valid' && obs.state.info.alias === null && obs.issuedByUs && obs.state.info.metadata.provisioned_by === PROVISIONED_BY;
}

function preserveFor(obs: KeyObservation, mainEnv: EnvFileState | undefined, backupPath: string, claimed: Set<string>): Preserve {
  const value = obs.value!;
  const base = { value, from: obs.file.path, line: obs.line };
  const provider = /^([A-Za-z0-9_]+)_API_KEY$/.exec(obs.spec.env)?.[1];
  const target = provider === undefined ? undefined : `LITELLM_${provider}_API_KEY`;
  const targetEmpty = target !== undefined && mainEnv !== undefined && (mainEnv.doc.get(target) ?? '').trim() === '' && !claimed.has(target);
  if (target !== undefined && targetEmpty && obs.file.path === mainEnv?.path && !VIRTUAL_KEY_SHAPE.test(value)) {
    claimed.add(target);
    return { ...base, to: 'env', name: target };
  }
  return { ...base, to: 'backup', path: backupPath, name: obs.spec.env };
}

function planKey(obs: KeyObservation, input: KeyPlanInput, notes: string[], reused: string[], claimed: Set<string>): KeyStep | undefined {
  const { spec, state } = obs;
  const where = `${spec.env} in ${obs.file.path}${obs.line ? ` line ${obs.line}` : ''}`;
  if (obs.shadowedLines.length > 0) {
    notes.push(`${spec.env} is assigned more than once in ${obs.file.path} (lines ${[...obs.shadowedLines, obs.line].join(', ')}); the last one is in effect and is the one the bootstrap manages`);
  }
  const leftovers = obs.rotationLeftovers.map((k) => k.token!).filter(Boolean);
  const holders = obs.aliasHolders.map((k) => k.token!).filter(Boolean);
  switch (state.kind) {
    case 'absent':
      return { kind: 'issue', spec, reason: 'no key yet', deleteFirst: [...holders, ...leftovers], preserve: undefined };
    case 'dead': {
      const ours = state.info.alias === spec.alias || bootstrapAliasOf(state.info) === spec.alias || obs.issuedByUs;
      return { kind: 'issue', spec, reason: state.why, deleteFirst: [...(ours ? [state.token] : []), ...holders, ...leftovers], preserve: undefined };
    }
    case 'unknown': {
      const deleteFirst = [...holders, ...leftovers];
      if (obs.issuedByUs) return { kind: 'issue', spec, reason: 'unknown to the proxy', deleteFirst, preserve: undefined };
      return { kind: 'issue', spec, reason: 'not a key of this proxy', deleteFirst, preserve: preserveFor(obs, input.mainEnv, obs.file.backupPath, claimed) };
    }
    case 'valid': {
      const intendedAlias = bootstrapAliasOf(state.info);
      if (state.info.alias !== spec.alias && intendedAlias !== spec.alias && !unnamedOfOurs(obs)) {
        notes.push(`${where} is a working virtual key with alias ${JSON.stringify(state.info.alias)}, not ${JSON.stringify(spec.alias)}: left as it is (the user's choice)`);
        return undefined;
      }
      if (state.overBudget) notes.push(`key ${JSON.stringify(spec.alias)} is over its budget; it is kept (raise max_budget to lift the limit)`);
      if (input.rotate(spec) && state.info.alias === spec.alias) {
        return { kind: 'rotate', spec, oldToken: state.token, deleteFirst: leftovers };
      }
      // An interrupted rotation (the new key, unaliased and marked, is in the file) is finished by renaming it, after removing the old key.
      const { changes, fields } = keyChanges(spec, state.info);
      if (fields.length === 0) {
        reused.push(spec.alias);
        return undefined;
      }
      return { kind: 'update', spec, token: state.token, key: obs.value ?? state.token, changes, fields, deleteFirst: state.info.alias === spec.alias ? [] : holders };
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
  const file = (s: KeySpec) => (s.secret ? `data.${s.env} of Secret ${s.secret}` : `${s.env} in ${basename(s.file)}`);
  switch (step.kind) {
    case 'issue': {
      const parts = [`issue a new key ${JSON.stringify(step.spec.alias)} (${step.reason}) and write it to ${file(step.spec)}`];
      if (step.deleteFirst.length > 0) parts.push(`after deleting ${step.deleteFirst.length} stale key(s) holding its alias`);
      if (step.preserve?.to === 'env') parts.push(`moving the current value to ${step.preserve.name} (it may be an upstream provider key)`);
      if (step.preserve?.to === 'backup') parts.push(`saving the current value to ${step.preserve.path} first`);
      return parts.join(', ');
    }
    case 'update':
      return `update key ${JSON.stringify(step.spec.alias)}: ${step.fields.join(', ')}${step.changes.models ? ` → models [${step.changes.models.join(', ')}]` : ''}${step.deleteFirst.length ? ` (finishing an interrupted rotation: delete ${step.deleteFirst.length} old key(s))` : ''}`;
    case 'rotate':
      return `rotate key ${JSON.stringify(step.spec.alias)}: issue a new key (without alias until the old one is gone), write it to ${file(step.spec)}, revoke the old one, then give the new one the alias`;
  }
}
