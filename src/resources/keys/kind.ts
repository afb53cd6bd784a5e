/**
 * The keys kind: virtual keys issued on the proxy and written to their env file or Secret.
 * Section `keys:` of the keys file (or the LITELLM_DEFAULT_* key); observed by hash (one probe on a
 * warm single-key run, pages of /key/list for several keys); planned by plan.ts; applied in
 * apply.ts's crash-safe order.
 */
import pLimit from 'p-limit';
import { proxyTarget } from '../../config/providers.ts';
import { ConfigError } from '../../errors.ts';
import type { KeyInfo, ProxyClient } from '../../proxy/client.ts';
import { recoverTornEnvFile } from '../../store/env-files.ts';
import type { KindPlan, KindSession, ResourceKind, RunContext } from '../kind.ts';
import { KeyApplier, type KeyReport } from './apply.ts';
import { loadIndex, loadIndexRetrying } from './listing.ts';
import { isAbsent, observeKey, probeKey, type KeyObservation, type ObserveContext } from './observe.ts';
import { describeKeyStep, movedValues, planKeys, type KeyStep } from './plan.ts';
import { markKeys } from './installation.ts';
import { observeDropped, type DroppedKey } from './prune.ts';
import { keysSection, resolveTeams, type KeySpec } from './spec.ts';
import { checkKeyPolicy } from './policy.ts';
import { proxyNow } from '../../proxy/clock.ts';
import type { EnvFileState } from '../../store/env-files.ts';
import type { RetiredKey, StoredKey } from '../../store/key-store.ts';

interface KeysObserved {
  keys: KeyObservation[];
  mainEnv: EnvFileState | undefined;
  retired: RetiredKey[];
  /** Keys this installation recorded under aliases no longer declared (prune.ts). */
  dropped: DroppedKey[];
}

export type KeysPlan = KindPlan<KeyStep> & { reused: string[] };

function rotateFilter(rotate: boolean | string, keys: KeySpec[]): (spec: KeySpec) => boolean {
  if (rotate === false) return () => false;
  if (rotate === true) return () => true;
  if (!keys.some((k) => k.alias === rotate)) {
    throw new ConfigError(`--rotate=${rotate}: no declared key has that alias (declared: ${keys.map((k) => JSON.stringify(k.alias)).join(', ')})`);
  }
  return (spec) => spec.alias === rotate;
}

const emptyReport = (): KeyReport => ({ created: [], replaced: [], updated: [], rotated: [], renewed: [], repaired: [], moved: [], purged: [], pruned: [], reused: [], preserved: [] });

class KeysSession implements KindSession<KeysObserved, KeyStep, KeyReport> {
  private readonly known = new Map<string, KeyInfo>();
  private index: ObserveContext['index'];
  private readonly rotate: (spec: KeySpec) => boolean;
  /** What this run learnt of /key/regenerate (refused once: not asked again in a later round). */
  private readonly regenerate = { refused: false };

  constructor(
    private readonly run: RunContext,
    private readonly keys: KeySpec[],
  ) {
    this.rotate = rotateFilter(run.args.rotate, keys);
  }

  private get many(): boolean {
    return this.keys.length > 1;
  }

  surelyWrites(): boolean {
    const { mainEnv, args, settings } = this.run;
    return mainEnv !== undefined && args.mode === 'apply' && (args.rotate !== false || this.keys.some((k) => !k.secret && k.file === settings.envFilePath && isAbsent(mainEnv.doc.get(k.env), settings.placeholderKey)));
  }

  /**
   * Several keys: our keys read in pages (one attempt): a listing the master key gets was read from
   * the database. One key already stored: its row read by hash. Either proves the proxy ready.
   */
  async proveReady(client: ProxyClient, deadline?: number): Promise<boolean> {
    const { settings, mainEnv } = this.run;
    if (this.many) {
      this.index = await loadIndex(client, this.keys, settings.maxConcurrency).catch(() => undefined);
      return this.index !== undefined;
    }
    for (const k of this.keys) {
      const value = k.secret ? (await this.run.storeFor(k).read(k)).raw : k.file === settings.envFilePath ? mainEnv?.doc.get(k.env) : undefined;
      if (isAbsent(value, settings.placeholderKey)) continue;
      // The probe ends by the wait's deadline: it is part of the wait.
      const probed = await probeKey(client, value!.trim(), deadline);
      if (probed !== undefined) this.known.set(value!.trim(), probed);
      return probed !== undefined;
    }
    return false;
  }

  forget(): void {
    this.known.clear(); // looking again means asking again
    this.index = undefined;
  }

  private context(): ObserveContext {
    const { run } = this;
    const proxy = run.proxy!;
    const ledger = { has: (token: string) => run.stores.some((s) => s.has(token)) };
    return { client: proxy.client, ledger, installation: run.installation, dbReported: proxy.dbReported, placeholder: run.settings.placeholderKey, deadline: proxy.deadline, log: run.log, rotate: this.rotate, known: this.known, index: this.index };
  }

  async observe(): Promise<KeysObserved> {
    const { run, keys } = this;
    // Every declared key carries this installation's id (a key without it is adopted: /key/update).
    if (run.installation) markKeys(keys, run.installation);
    const ctx = this.context();
    if (this.many && ctx.index === undefined) ctx.index = this.index = await loadIndexRetrying(ctx.client, keys, run.settings.maxConcurrency, ctx);
    const mainEnv = run.fileStore && (await run.fileStore.state(run.settings.envFilePath));
    // Each key's store read once, in order (a file or Secret is read on its first key; a failure names the first key's).
    const stored: StoredKey[] = [];
    for (const spec of keys) stored.push(await run.storeFor(spec).read(spec));
    // Keys not found in a listing (or every key, without one) are asked about at most `maxConcurrency` at a time.
    const limit = pLimit(run.settings.maxConcurrency);
    const observations = await Promise.all(keys.map((spec, i) => limit(() => observeKey(spec, stored[i]!, ctx))));
    // Keys of ours dropped from the keys file (a warm run whose ledger holds no undeclared alias asks nothing).
    const dropped = await observeDropped(keys, observations, run.stores, ctx, run.settings.maxConcurrency);
    return { keys: observations, mainEnv, retired: run.stores.flatMap((store) => store.retired()), dropped };
  }

  plan(observed: KeysObserved, planned: ReadonlyMap<string, KindPlan>): KeysPlan {
    const { settings, args } = this.run;
    // Keys that join a team by its alias get its team_id from the teams kind's plan (planned teams included).
    resolveTeams(this.keys, planned.get('teams'));
    // Renewals keep the old key for the grace period; `--rotate` only when `--grace` is on its command line.
    // Expiries are the proxy's times: judged by its clock (its Date header).
    const steps = planKeys({ keys: observed.keys, mainEnv: observed.mainEnv, rotate: this.rotate, rotationGrace: args.rotateGrace ? settings.gracePeriod : undefined, renewalGrace: settings.gracePeriod, retired: observed.retired, dropped: observed.dropped, now: proxyNow(this.run.proxy?.client), leavingTeams: planned.get('teams')?.removes });
    // A user's upstream key found in a key's line moves to its own variable of that file; the keys' own values are new (unknown until issued).
    const writes = new Map<string, Record<string, string | undefined>>();
    const add = (file: string, values: Record<string, string | undefined>) => writes.set(file, { ...writes.get(file), ...values });
    for (const step of steps.steps) if ((step.kind === 'issue' || step.kind === 'rotate') && !step.spec.secret) add(step.spec.file, { [step.spec.env]: undefined });
    if (observed.mainEnv) add(settings.envFilePath, movedValues(steps.steps));
    return { ...steps, unresolved: [], writes };
  }

  describe(step: KeyStep): string {
    return describeKeyStep(step);
  }

  files(plan: KindPlan<KeyStep>): { files: string[] } {
    return {
      files: plan.steps.flatMap((s) => {
        if (s.kind === 'update' || s.kind === 'purge' || s.kind === 'prune' || s.spec.secret) return [];
        const files = [s.spec.file];
        if (s.kind === 'issue' && s.preserve) files.push(s.preserve.to === 'backup' ? s.preserve.path : s.spec.file);
        return files;
      }),
    };
  }

  /** Month durations a proxy's version refuses (LiteLLM before 1.81 takes only 1mo): exit 2 before any write. */
  async checkBeforeWriting(plan: KindPlan<KeyStep>): Promise<void> {
    await checkKeyPolicy(plan.steps, this.run.proxy!.client);
  }

  newReport(): KeyReport {
    return emptyReport();
  }

  async apply(plan: KindPlan<KeyStep>, report: KeyReport): Promise<void> {
    // A warm run: nothing to do but say which keys are reused (keys no longer declared are the prune's).
    const steps = plan.steps.filter((s) => s.kind !== 'prune');
    if (steps.length === 0) return void report.reused.push(...(plan as KeysPlan).reused);
    const applier = this.applier();
    try {
      await applier.apply(steps, (plan as KeysPlan).reused);
    } finally {
      for (const [field, aliases] of Object.entries(applier.report)) report[field as keyof KeyReport].push(...aliases);
    }
  }

  /** Keys dropped from the keys file, after every kind applied (a kind that joins keys prunes after them). */
  async prune(plan: KindPlan<KeyStep>, report: KeyReport): Promise<void> {
    if (!plan.steps.some((s) => s.kind === 'prune')) return;
    const applier = this.applier();
    try {
      await applier.prune(plan.steps);
    } finally {
      for (const [field, aliases] of Object.entries(applier.report)) report[field as keyof KeyReport].push(...aliases);
    }
  }

  private applier(): KeyApplier {
    const { run } = this;
    const proxy = run.proxy!;
    const ledger = { has: (token: string) => run.stores.some((s) => s.has(token)) };
    return new KeyApplier({ client: proxy.client, store: run.storeFor, stores: run.stores, regenerate: this.regenerate, ownership: { installation: run.installation, ledger }, log: run.log, deadline: proxy.deadline, dbReported: proxy.dbReported, owner: run.owner, concurrency: run.settings.maxConcurrency });
  }

  merge(reports: KeyReport[]): KeyReport {
    const all = (field: keyof KeyReport) => [...new Set(reports.flatMap((r) => r[field]))];
    const merged = { ...emptyReport(), ...Object.fromEntries((Object.keys(emptyReport()) as (keyof KeyReport)[]).map((f) => [f, all(f)])) } as KeyReport;
    const changed = new Set([...merged.created, ...merged.replaced, ...merged.updated, ...merged.rotated, ...merged.renewed, ...merged.repaired, ...merged.moved]);
    merged.reused = merged.reused.filter((a) => !changed.has(a));
    return merged;
  }

  summary(report: KeyReport): string[] {
    const parts: string[] = [];
    // Up to 10 aliases are named; more are counted (a keys file may declare a thousand).
    const list = (verb: string, aliases: string[]) =>
      aliases.length && parts.push(aliases.length > 10 ? `${verb}s: ${aliases.length}` : `${verb} ${aliases.map((a) => JSON.stringify(a)).join(', ')}`);
    list('created key', report.created);
    list('replaced key', report.replaced);
    list('rotated key', report.rotated);
    list('renewed key', report.renewed);
    list('repaired key', report.repaired);
    list('moved key', report.moved);
    list('updated key', report.updated);
    list('reused key', report.reused);
    if (report.pruned.length) parts.push(`revoked and deleted the key(s) of ${report.pruned.map((a) => JSON.stringify(a)).join(', ')} (no longer declared)`);
    if (report.purged.length) parts.push(`deleted the retired keys of ${report.purged.map((a) => JSON.stringify(a)).join(', ')} after their grace period`);
    if (report.preserved.length) parts.push(`saved the previous value to ${report.preserved.join(', ')}`);
    return parts;
  }
}

export const keysKind: ResourceKind = {
  name: 'keys',
  section: keysSection,
  usesProxy: true,
  enabled: ({ mirrorOnly }) => !mirrorOnly,
  async open(run) {
    const keys = run.desired['keys'] as KeySpec[];
    const { settings } = run;
    // The other files the bootstrap writes keys to may have been torn (bind mounts).
    for (const spec of keys) if (!spec.secret && spec.file !== settings.envFilePath) await recoverTornEnvFile(spec.file, settings.envFilePath);
    for (const spec of keys) {
      const target = proxyTarget(spec.env);
      if (target !== undefined) {
        throw new ConfigError(`${spec.source}: the key cannot be written to ${spec.env}, which the bootstrap copies to the proxy (as ${target}): it holds upstream provider secrets and settings`);
      }
      if (run.mainEnv === undefined && !spec.secret) {
        throw new ConfigError(`${spec.source}: in Secret mode (LITELLM_KEY_SECRET) every key goes to a Secret, but this one names a file`, { hint: 'replace file: with secret: in the keys file' });
      }
    }
    return new KeysSession(run, keys);
  },
};
