/**
 * The resource-kind contract. A kind (keys, models, the proxy's env file, ...) is one folder under
 * src/resources/ with a `kind.ts` exporting a ResourceKind, plus one line in registry.ts. The
 * reconciler (src/reconcile/) iterates the registry: it names no kind and switches on none.
 *
 * A kind owns: its section of the keys file (zod schema; specs built from the validated entries),
 * observe (what is there: proxy, files, Secrets), plan (steps from desired and observed, pure),
 * describe (one secret-free line per step: logs, --dry-run, --check), the files its steps write
 * (checked writable before anything changes), apply (in a crash-safe order of its own), and its
 * part of the summary.
 *
 * Order between kinds: `after` names the kinds this one depends on (`before`, the kinds that depend
 * on it). They are planned first (their
 * plans are visible to this kind's plan: `planned`), applied first, and their failure skips this
 * kind. Deletions (`prune`) run in the reverse order, after every kind's apply: a kind that joins
 * another (keys join teams) applies after it and prunes before it.
 */
import type * as z from 'zod';
import type { CliArgs, Settings } from '../config/settings.ts';
import type { Logger } from '../log/log.ts';
import type { ProxyClient } from '../proxy/client.ts';
import type { EnvFileState } from '../store/env-files.ts';
import type { FileKeyStore } from '../store/file-key-store.ts';
import type { Installation } from '../store/installation.ts';
import type { KeyStore, KeyTarget } from '../store/key-store.ts';

/**
 * Everything declared, by kind name (`keys`, `models`, ...): each kind's specs. A kind may read
 * another's. A section marked `absentUnlessWritten` is missing when the keys file does not write it.
 */
export type DesiredSpec = Readonly<Record<string, readonly unknown[]>>;

/** Settings a keys file's sections are read with. */
export type SectionSettings = Pick<Settings, 'envFilePath' | 'defaultModels' | 'defaultUser'> &
  Partial<Pick<Settings, 'defaultKeyType' | 'defaultRenewBefore'>> & { keySecret?: string | undefined };

/** One validated entry of a section, with where it was written. */
export interface SectionEntry<Entry> {
  value: Entry;
  index: number;
  /** Line of the entry itself. */
  line: number;
  /** Line of a field inside the entry (`lineOf('alias')`). */
  lineOf: (...path: (string | number)[]) => number;
}

/** A kind's part of the keys file (LITELLM_BOOTSTRAP_CONFIG). */
export interface SpecSection<Spec, Entry = unknown> {
  /** The top-level field: `keys:`, `models:`, `teams:`. */
  name: string;
  /** The section's schema as it sits in the file (a list, optional or not); its messages are the user's. */
  schema: z.ZodType;
  /**
   * Left out of DesiredSpec when the file does not write it (rather than an empty list): a kind
   * that asks the proxy only when its section is written (`teams: []` removes every team of ours).
   */
  absentUnlessWritten?: boolean;
  /** The file may be this section's list alone (the original keys-file format: a list of keys). */
  bare?: boolean;
  /** Specs from the validated entries; problems between entries (duplicates) go to `problems`, each with its line. */
  specs(entries: SectionEntry<Entry>[], ctx: { file: string; settings: SectionSettings; problems: string[] }): Spec[];
  /** The specs without a keys file (keys: the LITELLM_DEFAULT_* key; may throw a ConfigError). */
  fromSettings?(settings: Settings): Spec[];
}

/** The proxy as a run reaches it (absent when the run asks the proxy nothing: --mirror-only). */
export interface ProxyAccess {
  client: ProxyClient;
  /** Retries of API calls end here. */
  deadline: number;
  /** The proxy said (or a read of the database showed) that its database is connected. */
  dbReported: boolean;
}

/** What one run gives every kind. */
export interface RunContext {
  settings: Settings;
  args: CliArgs;
  log: Logger;
  desired: DesiredSpec;
  /** Why the keys file could not be read, in a run that carries on without it (--mirror-only); `desired` is then empty. */
  desiredProblem?: Error | undefined;
  /** `.env` (undefined in Secret mode). */
  mainEnv: EnvFileState | undefined;
  /** Owner of the files written (that of `.env`). */
  owner: { uid: number; gid: number };
  /** Where a key goes (its env file or Secret). */
  storeFor: (target: KeyTarget) => KeyStore;
  stores: KeyStore[];
  fileStore: FileKeyStore | undefined;
  /** Set once the proxy is reachable (after `proveReady` or the readiness wait). */
  proxy: ProxyAccess | undefined;
  /**
   * This installation (src/store/installation.ts), set with the key stores, before the first
   * observe (undefined when the run asks the proxy nothing). What a kind makes carries its id
   * (`ownerMarks(installation.id)`); a kind touches only what carries it (`ownershipOf`).
   */
  installation: Installation | undefined;
  /** `.env` as it is after every kind applied (read once, for the kinds' `finish`). */
  mainEnvNow(): Promise<EnvFileState>;
}

/** What a kind decided. Steps carry a `kind` word (`issue`, `model-register`, `mirror`): --check lists them. */
export interface KindPlan<Step extends { kind: string } = { kind: string }> {
  steps: Step[];
  /** Warnings the user should read; they change nothing. */
  notes: string[];
  /** What this run cannot do (a model nobody serves): a warning when applying, drift for --check. */
  unresolved: { line: string; kind: string; log: [Record<string, unknown>, string] }[];
  /**
   * Variables this plan writes into env files, by file: kinds planned after see them (the mirror takes
   * a user's upstream key moved to its own line). undefined: a new value not known before applying
   * (a key to be issued).
   */
  writes?: ReadonlyMap<string, Record<string, string | undefined>>;
  /**
   * Names this kind's resources have on the proxy, planned ones included (a team's alias → its
   * team_id, known before it is created): kinds planned after it (its dependents) refer to them.
   */
  resolved?: ReadonlyMap<string, string>;
  /** Ids of resources this plan removes: a dependent must not leave what it joins there. */
  removes?: ReadonlySet<string>;
}

/** One kind's work in one run: opened once, observed again after a lost race. */
export interface KindSession<Obs = unknown, Step extends { kind: string } = { kind: string }, Report = unknown> {
  /** Will this run surely write (then it takes the lock before looking, and looks once)? */
  surelyWrites?(): boolean;
  /** A cheap read that shows the proxy ready and its database connected (then no readiness wait); it ends by the wait's `deadline` (epoch ms). */
  proveReady?(client: ProxyClient, deadline?: number): Promise<boolean>;
  /** Forget what was seen: the next observe asks again. */
  forget?(): void;
  observe(): Promise<Obs>;
  /** Pure. `planned`: the plans of the kinds named in `after`. */
  plan(observed: Obs, planned: ReadonlyMap<string, KindPlan>): KindPlan<Step>;
  describe(step: Step): string;
  /** Files the plan's apply writes (checked writable before anything changes); `created`: whose directory it may create. */
  files(plan: KindPlan<Step>): { files: string[]; created?: string[] };
  newReport(): Report;
  /**
   * What the proxy would refuse of the plan, checked where it tells beforehand (its LiteLLM version),
   * before any kind writes, and before --check or --dry-run print the plan: a ConfigError (exit 2).
   * Asks the proxy only when a step depends on it.
   */
  checkBeforeWriting?(plan: KindPlan<Step>): Promise<void>;
  /** Creates and updates. Records what was done in `report` as it goes (also when it fails). */
  apply(plan: KindPlan<Step>, report: Report): Promise<void>;
  /** Deletions, in reverse dependency order after every kind's apply. */
  prune?(plan: KindPlan<Step>, report: Report): Promise<void>;
  /** Reports of several rounds (a lost race) as one. */
  merge(reports: Report[]): Report;
  /** The summary's words for this kind (empty: nothing to say). */
  summary(report: Report, plan: KindPlan<Step>): string[];
  /** After every kind applied: files derived from the result, notes for the user. */
  finish?(report: Report, plan: KindPlan<Step>): Promise<string[]>;
  /**
   * Will `finish` write a file although no kind planned a step? Then the run takes the lock (every
   * write holds it: a locked run removes temp files whatever pid wrote them); nothing to look again
   * for, since `finish` reads what the others left.
   */
  finishWrites?(plan: KindPlan<Step>): Promise<boolean>;
  close?(): Promise<void>;
}

export interface ResourceKind {
  /** The name it is reported under, and its key in DesiredSpec. */
  name: string;
  /** Kinds this one depends on: planned and applied before it, pruned after it. */
  after?: readonly string[];
  /** Kinds that depend on this one (the same edge, declared from this side: a teams kind is `before: ['keys']`). */
  before?: readonly string[];
  /** Its section of the keys file, if it has one. */
  section?: SpecSection<unknown, any>;
  /** Does it ask the proxy? (a run whose kinds do not, --mirror-only, never contacts it) */
  usesProxy: boolean;
  /** Does it take part in this run? (the env file: not in Secret mode; --mirror-only: the kinds that ask the proxy nothing). */
  enabled(ctx: { secretMode: boolean; mirrorOnly: boolean; settings: Settings }): boolean;
  /** Checks what it can before the proxy is asked anything (bad input: exit 2), and starts its work. */
  open(run: RunContext): Promise<KindSession<any, any, any>>;
}
