/**
 * Whose a key on the proxy is (src/store/installation.ts): this installation's (named in its
 * metadata, or recorded in this installation's ledger), another installation's, or nobody's we
 * know (made by hand). A run deletes, renews, repairs or updates only its own keys; an alias held
 * by a key that is not ours is refused, never freed, unless the user takes it over.
 */
import { ConfigError } from '../../errors.ts';
import type { KeyInfo } from '../../proxy/client.ts';
import type { KeySpec } from './spec.ts';
import { LEDGER_NAME } from '../../store/ledger.ts';
import { installationOf, ownershipOf, type Installation, type Ownership } from '../../store/installation.ts';

export interface OwnershipContext {
  /** Absent: ownership is not judged (every key counts as ours, as before installations existed). */
  installation?: Installation | undefined;
  ledger: { has(token: string): boolean };
}

/** Whose `info` is; `token`: its hash when the row does not carry it (a /key/info answer). */
export function ownerOf(info: KeyInfo, ctx: OwnershipContext, token = info.token): Ownership {
  if (!ctx.installation) return 'ours';
  return ownershipOf(info.metadata, ctx.installation.id, token !== null && ctx.ledger.has(token));
}

/** A key this run may delete or change: ours, or any key holding a declared alias under `--take-over-alias`. */
export function mayTouch(info: KeyInfo, ctx: OwnershipContext, token = info.token): boolean {
  return ctx.installation?.takeOver === true || ownerOf(info, ctx, token) === 'ours';
}

/**
 * Exit 2: the alias is held by a key this installation did not issue. Nothing was changed: the
 * other stack's key keeps working. Names the setting (or keys-file line) and both remedies.
 */
export function aliasHeldElsewhere(spec: KeySpec, holders: readonly KeyInfo[]): ConfigError {
  const others = [...new Set(holders.map((k) => installationOf(k.metadata)))];
  const whose = others.every((o) => o !== undefined)
    ? `another installation of the bootstrap (${others.join(', ')}: another env directory or Kubernetes namespace on this proxy)`
    : 'a key this installation did not issue (made by hand, by another stack, or by this one before its ledger was lost)';
  const fromSettings = spec.aliasSource.startsWith('LITELLM_DEFAULT_KEY_ALIAS');
  const rename = fromSettings ? 'set LITELLM_DEFAULT_KEY_ALIAS to an alias of this stack\'s own (e.g. "task-agent staging")' : `give the key at ${spec.aliasSource.replace(/^the alias at /, '')} an alias of this stack's own`;
  return new ConfigError(`${spec.aliasSource} ${JSON.stringify(spec.alias)} is held by ${whose}; this run does not revoke it`, {
    hint: spec.secret
      ? `${rename}; or, to take the alias over on purpose (the other installation's key is deleted), run the Job once with --take-over-alias`
      : `${rename}; or, if that key was this installation's and its ledger (${LEDGER_NAME} beside .env) was lost, run once with --take-over-alias, which deletes the holder and issues this installation's own key`,
  });
}
