/**
 * Where keys live, behind one interface, so the reconciler never asks: a line of an env file
 * (file-key-store.ts, the compose setup) or a key of a Kubernetes Secret's data
 * (secret-store.ts, LITELLM_KEY_SECRET). Each store also keeps the ledger of the keys the
 * bootstrap issued (the hashes only) next to them, and serialises concurrent runs its own way:
 * a lock file, or resourceVersion preconditions (a lost race is a StoreConflictError: the run
 * looks again).
 */
import { BootstrapError, ExitCode } from '../errors.ts';

/**
 * Where one key goes: what a store needs of a key's spec (the keys kind's KeyTarget is one). A store
 * knows targets, not what a key is.
 */
export interface KeyTarget {
  alias: string;
  /** Variable (env file) or data key (Secret) the raw key is written to. */
  env: string;
  /** Absolute path of the env file (unless `secret` is set). */
  file: string;
  /** The Secret whose `data[env]` holds the key. */
  secret?: string | undefined;
}

/** What a store holds for one key now. */
export interface StoredKey {
  /** Where the key lives, for plans and messages: the env file's path, or `Secret <namespace>/<name>`. */
  path: string;
  /** The value in effect, as stored (not trimmed); undefined when there is none. Never logged. */
  raw: string | undefined;
  /** 1-based lines of every assignment of the variable, the one in effect last (an env file); [] for a Secret. */
  lines: number[];
  /** Where a value that may be the user's own is saved before it is replaced. */
  backupPath: string;
}

/** A key to write: the spec it is for, its sha256 (the ledger), and the variables to set (the key under spec.env, maybe others). */
export interface KeyWrite {
  spec: KeyTarget;
  token: string;
  values: Record<string, string>;
}

/** A key of ours a renewal replaced, working until `until` (ISO), to delete after that. */
export interface RetiredKey {
  token: string;
  alias: string;
  until: string;
  /** The Secret whose ledger holds the entry (Secret store); undefined for the env-file ledger. */
  secret?: string | undefined;
}

/** A key the store's ledger recorded issuing: what retiring it needs once its alias is no longer declared. */
export interface RecordedKey {
  token: string;
  alias: string;
  /** Where it was written (entries of earlier versions may not say: the main .env is searched). */
  env?: string | undefined;
  file?: string | undefined;
  /** The Secret whose ledger holds the entry (Secret store). */
  secret?: string | undefined;
}

/** A value that may be the user's own, saved before it is overwritten. */
export interface SavedValue {
  spec: KeyTarget;
  saved: { path: string; name: string; value: string; from: string; line: number | undefined };
}

export interface KeyStore {
  /** Reads what is stored for `spec` (cached until `refresh`). */
  read(spec: KeyTarget): Promise<StoredKey>;
  /** The ledger: the bootstrap issued the key with this sha256. */
  has(token: string): boolean;
  /** Fails, with nothing changed anywhere, if writing these values would be refused: called before keys are issued. */
  assertEditable(writes: readonly Omit<KeyWrite, 'token'>[]): Promise<void>;
  /** Saves values that may be the user's own to their `backupPath` before they are overwritten. */
  saveBackups(values: readonly SavedValue[]): Promise<void>;
  /**
   * Records newly issued keys in the ledger and writes them, crash-safely: at every instant the
   * store holds the old value or the new one, and a stored key is one the ledger knows. Throws
   * StoreConflictError when another run changed the store since `read`.
   */
  writeKeys(writes: readonly KeyWrite[]): Promise<void>;
  /** Retired keys of ours recorded in the ledger(s) read so far (their grace running or over). */
  retired(): readonly RetiredKey[];
  /** Records retirements before the proxy is told: a kill in between leaves a record, never a forgotten key. */
  recordRetired(entries: readonly { spec: KeyTarget; token: string; until: string }[]): Promise<void>;
  /** Forgets retired keys once deleted from the proxy. */
  forgetRetired(entries: readonly RetiredKey[]): Promise<void>;
  /** Keys the ledger(s) read so far recorded issuing. */
  issued(): readonly RecordedKey[];
  /**
   * After a key no longer declared was deleted from the proxy: empties the variable that still
   * holds it (only that value: a line the user changed since is left alone), then forgets it in
   * the ledger. A kill between the two leaves the entry: the next run finishes.
   */
  forgetPruned(entries: readonly RecordedKey[]): Promise<string[]>;
  /** Forgets what was read: the next `read` looks again. */
  refresh(): void;
}

/**
 * Another run wrote the store since it was read (or took the key's alias on the proxy): nothing
 * of ours was written; observe and plan again. Exit 3 only when that keeps happening.
 */
export class StoreConflictError extends BootstrapError {
  constructor(message: string) {
    super(message, ExitCode.proxyUnavailable, { hint: 'other runs kept changing the same keys; run again when they are done' });
  }
}
