/**
 * The key resource, observed: what the store (env file or Secret) holds for each declared key,
 * and what the proxy knows of it. Read-only: nothing here changes a file or the proxy.
 */
import { sha256 } from '../../store/ledger.ts';
import type { StoredKey } from '../../store/key-store.ts';
import type { KeyInfo, ProxyClient } from '../../proxy/client.ts';
import { NotFoundError } from '../../proxy/errors.ts';
import { registerSecret } from '../../log/redact.ts';
import { asMaster } from '../../proxy/as-master.ts';
import { PROVISIONED_BY, type KeySpec } from './spec.ts';
import type { Logger } from '../../log/log.ts';
import type { KeyIndex } from '../../proxy/key-list.ts';
import { isRetired, renewal, ROTATION_MARK } from './lifetime.ts';
import { proxyNow } from '../../proxy/clock.ts';
import { mayTouch, ownerOf } from './ownership.ts';
import { installationOf, type Installation } from '../../store/installation.ts';

/** What the proxy knows of the value found in the env file. */
export type KeyState =
  /** No key yet: the variable is missing, empty or the placeholder. */
  | { kind: 'absent' }
  /** Works, as far as its row tells (not blocked, not expired). `info`: the row, read with the master key. */
  | { kind: 'valid'; token: string; info: KeyInfo; overBudget: boolean }
  /** The proxy has it but it no longer works. */
  | { kind: 'dead'; token: string; why: 'expired' | 'blocked'; info: KeyInfo }
  /** The proxy does not know it: wiped, deleted, or never a key of this proxy. */
  | { kind: 'unknown'; token: string };

export interface KeyObservation {
  spec: KeySpec;
  /** Where the key lives (an env file or a Secret) and what it holds. */
  file: StoredKey;
  /** Raw value in the file, when it is a key (not absent). Never logged. */
  value: string | undefined;
  /** 1-based line of the assignment in effect, and of the duplicates it shadows. */
  line: number | undefined;
  shadowedLines: number[];
  state: KeyState;
  /** The ledger says the bootstrap issued this value. */
  issuedByUs: boolean;
  /** Keys on the proxy carrying spec.alias, other than the one in the file (looked up only when the plan needs them); ours only (see ownership.ts). */
  aliasHolders: KeyInfo[];
  /** Keys holding spec.alias that this installation did not issue: never deleted; a plan that needs the alias is refused. */
  foreignHolders?: KeyInfo[];
  /** The stored key names another installation (its id): left as it is, never updated or renewed. */
  foreign?: string | undefined;
  /** Keys left by an interrupted rotation (see isRotationLeftover), looked up only when rotating or replacing a dead key. */
  rotationLeftovers: KeyInfo[];
}

export { ROTATION_MARK };

/** A key a killed rotation issued and never put in place: unaliased, marked, meant for `alias`. */
export function isRotationLeftover(info: KeyInfo, alias: string): boolean {
  // `<alias> (rotating)`: the temporary alias of versions before the mark.
  if (info.alias === `${alias} (rotating)`) return true;
  return info.alias === null && bootstrapAliasOf(info) === alias && info.metadata[ROTATION_MARK] !== undefined;
}

export interface ObserveContext {
  client: ProxyClient;
  /** Whether readiness reported the database state (see RetryOptions.dbReported). */
  dbReported: boolean;
  /** The ledger(s) of the key stores: did the bootstrap issue the key with this sha256? */
  ledger: { has(token: string): boolean };
  placeholder: string;
  deadline: number;
  log: Logger;
  /** Aliases being rotated: their leftovers are looked up. */
  rotate: (spec: KeySpec) => boolean;
  /** This installation (ownership of keys); absent: every key counts as ours. */
  installation?: Installation | undefined;
  /** Answers of `GET /key/info` already had, by raw key (the warm-path probe, see probeKey). */
  known?: ReadonlyMap<string, KeyInfo>;
  /** Our keys as listed in pages (runs over several keys): rows compared locally, no request per key. */
  index?: KeyIndex | undefined;
}

/**
 * The warm path's only request for the key: `GET /key/info?key=<sha256>` with the master key.
 * It reads the key's row from the database, so an answer proves the proxy live and its database
 * ready (the readiness wait is skipped), and it answers for every key type: an `llm_api` key may
 * not read its own info (LiteLLM 1.77 answers that with a plain-text 500), and the master key's
 * answer carries what the plan compares (alias, models, budget, expiry, allowed_routes, rotation).
 * The hash is no credential, so the URL carries no secret. One attempt, no retries; undefined on
 * any failure, and the run then waits for readiness and observes as usual. It ends by the wait's deadline.
 */
export async function probeKey(client: ProxyClient, rawKey: string, deadline?: number): Promise<KeyInfo | undefined> {
  try {
    return await client.keyInfoByHash(sha256(rawKey), deadline);
  } catch {
    return undefined;
  }
}

export function isAbsent(value: string | undefined, placeholder: string): boolean {
  return value === undefined || value.trim() === '' || value.trim() === placeholder;
}

function isExpired(info: KeyInfo, now: number): boolean {
  return info.expires !== null && Date.parse(info.expires) <= now;
}

/** What a listed row says of the key: the checks the proxy makes when the key authenticates. */
export function stateFromRow(info: KeyInfo, token: string, now = Date.now()): KeyState {
  if (info.blocked) return { kind: 'dead', token, why: 'blocked', info };
  if (isExpired(info, now)) return { kind: 'dead', token, why: 'expired', info };
  const overBudget = info.maxBudget !== null && typeof info.spend === 'number' && info.spend >= info.maxBudget;
  return { kind: 'valid', token, info, overBudget };
}

/** Asks the proxy about the value in the file, by its sha256 with the master key (see probeKey). */
async function classify(value: string, token: string, ctx: ObserveContext): Promise<KeyState> {
  let info: KeyInfo;
  try {
    info = ctx.known?.get(value) ?? (await asMaster('looking up the key', () => ctx.client.keyInfoByHash(token), ctx));
  } catch (err) {
    if (err instanceof NotFoundError) return { kind: 'unknown', token };
    throw err;
  }
  // The checks the proxy makes when the key authenticates.
  return stateFromRow(info, token, proxyNow(ctx.client));
}

export async function observeKey(spec: KeySpec, file: StoredKey, ctx: ObserveContext): Promise<KeyObservation> {
  const lines = file.lines;
  const raw = file.raw;
  const absent = isAbsent(raw, ctx.placeholder);
  const value = absent ? undefined : raw!.trim();
  registerSecret(value);
  const token = value === undefined ? undefined : sha256(value);
  const listed = token === undefined ? undefined : ctx.index?.get(token);
  // A key missing from the listing is asked about: it may be another user's, or issued while we paged.
  const state: KeyState =
    value === undefined || token === undefined ? { kind: 'absent' } : listed ? stateFromRow(listed, token, proxyNow(ctx.client)) : await classify(value, token, ctx);
  const obs: KeyObservation = {
    spec,
    file,
    value,
    line: lines.at(-1),
    shadowedLines: lines.slice(0, -1),
    state,
    issuedByUs: token !== undefined && ctx.ledger.has(token),
    aliasHolders: [],
    foreignHolders: [],
    foreign: undefined,
    rotationLeftovers: [],
  };
  // A key in this installation's store is ours unless it names another installation (a .env copied from another stack).
  if ((state.kind === 'valid' || state.kind === 'dead') && !ctx.installation?.takeOver && ownerOf(state.info, ctx, state.token) === 'foreign') obs.foreign = installationOf(state.info.metadata);
  // Renewing is rotating: an earlier rotation's leftovers are cleaned on the way.
  const rotating = state.kind === 'valid' && (ctx.rotate(spec) || (state.info.alias === spec.alias && renewal(spec, state.info, proxyNow(ctx.client)) === 'renew'));
  const interrupted = state.kind === 'valid' && state.info.alias !== spec.alias && !isRetired(state.info) && (bootstrapAliasOf(state.info) === spec.alias || unnamedOfOurs(obs));
  // The warm path (valid key carrying its alias) asks nothing more.
  // Keys we issued carry spec.userId: when that user's keys are all listed, the alias holders are known.
  // (A key of another user holding the alias is found when issuing: the proxy refuses the alias, see Applier.generate.)
  const byAlias = (alias: string) =>
    ctx.index?.covers(spec.userId) ? Promise.resolve(ctx.index.withAlias(alias)) : asMaster('listing keys by alias', () => ctx.client.keysWithAlias(alias), ctx);
  if (state.kind !== 'valid' || interrupted) {
    const holders = (await byAlias(spec.alias)).filter((k) => k.token !== token);
    obs.aliasHolders = holders.filter((k) => mayTouch(k, ctx));
    obs.foreignHolders = holders.filter((k) => !mayTouch(k, ctx));
  }
  // Leftovers of an interrupted rotation are cleaned when rotating or replacing a dead key
  // (not on a first run: that stays at four requests).
  if (rotating || state.kind === 'dead' || state.kind === 'unknown') {
    const leftovers = ctx.index?.covers(spec.userId)
      ? ctx.index.rows().filter((k) => k.userId === spec.userId && isRotationLeftover(k, spec.alias))
      : await asMaster('listing the keys of the user', () => ctx.client.keysOfUser(spec.userId, (k) => isRotationLeftover(k, spec.alias)), ctx);
    obs.rotationLeftovers = leftovers.filter((k) => k.token !== token && ownerOf(k, ctx) === 'ours');
  }
  return obs;
}


/** The alias our metadata says the key is meant to carry (set on every key the bootstrap issues). */
export function bootstrapAliasOf(info: KeyInfo): string | undefined {
  const alias = info.metadata.bootstrap_alias;
  return info.metadata.provisioned_by === PROVISIONED_BY && typeof alias === 'string' ? alias : undefined;
}

/**
 * A key of ours without any alias that the ledger knows: a rotation whose last step (the alias) was
 * refused, e.g. by an alias rule, and the alias setting changed since. It takes the configured alias.
 */
export function unnamedOfOurs(obs: Pick<KeyObservation, 'issuedByUs' | 'state'>): boolean {
  return obs.state.kind === 'valid' && obs.state.info.alias === null && obs.issuedByUs && obs.state.info.metadata.provisioned_by === PROVISIONED_BY && !isRetired(obs.state.info);
}
