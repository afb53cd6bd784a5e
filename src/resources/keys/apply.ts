/**
 * The key steps, in a crash-safe order. At every instant the env file (or Secret)
 * holds either the old working key or the new working one; a new key is recorded
 * in the ledger before it is written; a value that may be the user's own is saved
 * before its line is overwritten; every file is replaced atomically.
 */
import { sha256 } from '../../store/ledger.ts';
import { StoreConflictError, type KeyStore } from '../../store/key-store.ts';
import { asMaster } from '../../proxy/as-master.ts';
import { ConfigError, ProxyRefusedError } from '../../errors.ts';
import type { GenerateRequest, IssuedKey, ProxyClient, UpdateRequest } from '../../proxy/client.ts';
import { AliasFormatError, AliasTakenError, KeyUpdateRefusedError, NotFoundError, RouteRefusedError } from '../../proxy/errors.ts';
import { registerSecret } from '../../log/redact.ts';
import { desiredMetadata, describeKeyStep, type KeyStep, type Retire } from './plan.ts';
import { GRACE_MARK, graceEnd, lifeShortened, lifetimeSettings, renewalDue, retiredMetadata, ROTATION_MARK } from './lifetime.ts';
import { proxyNow } from '../../proxy/clock.ts';
import type { KeySpec } from './spec.ts';
import type { Logger } from '../../log/log.ts';
import { chunks, firstFailure, settleAll, Skipped } from '../../batch.ts';
import { aliasHeldElsewhere, mayTouch, type OwnershipContext } from './ownership.ts';

export interface ApplyContext {
  client: ProxyClient;
  /** Where each key lives (an env file or a Secret). */
  store: (spec: KeySpec) => KeyStore;
  log: Logger;
  deadline: number;
  dbReported: boolean;
  /** Owner given to files the bootstrap creates (that of the main .env). */
  owner: { uid: number; gid: number };
  /** Most requests in flight at once (LITELLM_MAX_CONCURRENCY). */
  concurrency: number;
  /** Every key store of the run (retired keys are forgotten by the one that recorded them). */
  stores?: readonly KeyStore[];
  /**
   * Whether the proxy regenerates keys in place, as learnt in this run: the first "Enterprise
   * feature" refusal sets `refused`, and the run's other rotations use generate + write + revoke.
   */
  regenerate?: { refused: boolean };
  /** This installation and its ledger(s): keys of other installations holding an alias are never deleted. */
  ownership?: OwnershipContext;
}

type Rotation = Extract<KeyStep, { kind: 'rotate' }>;
type Fresh = Extract<KeyStep, { kind: 'issue' | 'rotate' }>;

/** Keys named in one `/key/delete` request. */
const DELETE_BATCH = 100;

/** What the key steps did, by alias (and where users' values were saved). */
export interface KeyReport {
  created: string[];
  replaced: string[];
  updated: string[];
  rotated: string[];
  /** Renewed before their expiry (the old key kept for its grace). */
  renewed: string[];
  /** The proxy had rotated them; the store now holds the working key. */
  repaired: string[];
  /** Reissued to join (or leave) a team: LiteLLM moves an existing key into a team only for a member of it. */
  moved: string[];
  /** Aliases whose retired keys were deleted after their grace. */
  purged: string[];
  /** Aliases no longer declared whose keys were deleted (or forgotten, already gone). */
  pruned: string[];
  reused: string[];
  preserved: string[];
}

/** A value shaped like the key the proxy will issue, to try an edit before the key exists. */
const KEY_SHAPED = `sk-${'x'.repeat(22)}`;

/** LiteLLM's key_alias rule (v1.82.0's default, and the opt-in check since), to suggest an alias that passes it. */
const DEFAULT_ALIAS_RULE = /^[a-zA-Z0-9][a-zA-Z0-9_\-/.]{0,253}[a-zA-Z0-9]$/;

function suggestAlias(alias: string): string | undefined {
  const candidate = alias.replace(/[^a-zA-Z0-9_\-/.]+/g, '-').replace(/^[^a-zA-Z0-9]+|[^a-zA-Z0-9]+$/g, '');
  return candidate !== alias && DEFAULT_ALIAS_RULE.test(candidate) ? candidate : undefined;
}

/** Exit 2: the proxy's alias rule refuses the configured alias; names the setting or keys-file line and quotes the rule. */
export function aliasRefused(spec: KeySpec, alias: string, rule: string): ConfigError {
  const suggestion = suggestAlias(alias);
  const fromSettings = spec.aliasSource.startsWith('LITELLM_DEFAULT_KEY_ALIAS');
  return new ConfigError(`${spec.aliasSource} ${JSON.stringify(alias)} is refused by the proxy's key alias rule (its litellm_settings.key_alias_pattern or enable_key_alias_format_validation): ${JSON.stringify(rule)}`, {
    hint: `${fromSettings ? 'set LITELLM_DEFAULT_KEY_ALIAS to' : 'change that alias to'} an alias the rule accepts${suggestion ? `, e.g. ${JSON.stringify(suggestion)}` : ''}`,
  });
}

/** /key/update named a key the proxy no longer has. */
class KeyGone extends Error {}

export class KeyApplier {
  readonly report: KeyReport = { created: [], replaced: [], updated: [], rotated: [], renewed: [], repaired: [], moved: [], purged: [], pruned: [], reused: [], preserved: [] };

  constructor(private readonly ctx: ApplyContext) {}

  /** Deletes keys by hash, up to DELETE_BATCH per request, at most `concurrency` requests at once. */
  private async deleteTokens(tokens: string[]): Promise<void> {
    const unique = [...new Set(tokens)];
    await this.all(chunks(unique, DELETE_BATCH), (batch) => asMaster('deleting stale keys', () => this.ctx.client.deleteKeys(batch), this.ctx));
  }

  /**
   * Issues a key carrying the spec's alias; an alias already taken (an orphan, or our own
   * earlier attempt whose answer was lost) is freed once. `unaliased`: a rotation's new key,
   * issued without an alias and marked until it takes the alias over.
   */
  private async generate(spec: KeySpec, opts: { unaliased?: boolean; grace?: string | undefined } = {}): Promise<IssuedKey & { token: string }> {
    const alias = spec.alias;
    const pending = { [ROTATION_MARK]: `pending since ${new Date().toISOString()}`, ...(opts.grace ? { [GRACE_MARK]: opts.grace } : {}) };
    // Only what the spec sets: an explicit null would clear a field, `models: []` mean every model.
    const body: GenerateRequest = {
      ...(opts.unaliased ? {} : { key_alias: alias }),
      models: spec.models,
      user_id: spec.userId,
      metadata: opts.unaliased ? { ...desiredMetadata(spec), ...pending } : desiredMetadata(spec),
      duration: spec.duration,
      max_budget: spec.maxBudget,
      budget_duration: spec.budgetDuration,
      // `default` is not sent: versions that predate key types would refuse an unknown enum value.
      ...(spec.keyType === 'default' ? {} : { key_type: spec.keyType }),
      team_id: spec.teamId,
      tpm_limit: spec.tpmLimit,
      rpm_limit: spec.rpmLimit,
      max_parallel_requests: spec.maxParallelRequests,
      // Proxy-side rotation only when asked (versions before it ignore the fields).
      ...(spec.rotationInterval === undefined ? { auto_rotate: false } : { auto_rotate: true, rotation_interval: spec.rotationInterval }),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const { key, expires, createdAt } = await asMaster('issuing a key', () => this.ctx.client.generate(body), this.ctx);
        registerSecret(key);
        return { key, token: sha256(key), expires, createdAt };
      } catch (err) {
        if (err instanceof AliasFormatError) throw aliasRefused(spec, alias, err.rule);
        if (!(err instanceof AliasTakenError) || opts.unaliased) throw err;
        // Taken again after we freed it: another run (a racing Job) is issuing the same key; look again.
        if (attempt > 1) throw new StoreConflictError(`another run took the alias ${JSON.stringify(alias)} while this one was issuing its key`);
        const holders = await asMaster('listing keys by alias', () => this.ctx.client.keysWithAlias(alias), this.ctx);
        const ownership = this.ctx.ownership;
        const theirs = ownership ? holders.filter((k) => !mayTouch(k, ownership)) : [];
        if (theirs.length > 0) throw aliasHeldElsewhere(spec, theirs);
        this.ctx.log.warn({ alias, count: holders.length }, 'the alias is held by keys nobody has; deleting them');
        await this.deleteTokens(holders.map((k) => k.token!).filter(Boolean));
      }
    }
  }

  /**
   * Rotation in place (`POST /key/{hash}/regenerate`, Enterprise): the row keeps its identity,
   * alias, spend and budget window; the old key works for the grace when one is asked (the
   * proxy's deprecated-key table), else stops at once. Undefined when the proxy refuses the
   * feature: then `regenerate.refused` is set and this run rotates the other way.
   */
  private async regenerate(step: Rotation): Promise<(IssuedKey & { token: string }) | undefined> {
    const state = this.ctx.regenerate;
    if (state?.refused) return undefined;
    const body = { ...(step.grace ? { grace_period: step.grace } : {}), ...(step.spec.duration ? { duration: step.spec.duration } : {}) };
    try {
      const answer = await asMaster('regenerating the key', () => this.ctx.client.regenerate(step.oldToken, body), this.ctx);
      if (!answer.key.startsWith('sk-')) throw new ProxyRefusedError('regenerating the key: the proxy answered without a new key', { hint: 'see the proxy logs (docker compose logs llm-proxy)' });
      registerSecret(answer.key);
      return { ...answer, token: sha256(answer.key) };
    } catch (err) {
      // The key to regenerate is gone: another run rotated or deleted it meanwhile.
      if (err instanceof NotFoundError) throw new StoreConflictError(`the key ${JSON.stringify(step.spec.alias)} was rotated or deleted by someone else while this run was rotating it`);
      // Unlicensed (an Enterprise feature), or no such route.
      if (!(err instanceof RouteRefusedError)) throw err;
      if (state && !state.refused) this.ctx.log.info({ reason: (err as Error).message }, 'the proxy does not regenerate keys in place (an Enterprise feature of LiteLLM): rotating by issuing a new key, writing it, then retiring the old one');
      if (state) state.refused = true;
      return undefined;
    }
  }

  /**
   * Retires keys: recorded in their store's ledger first (a kill after that leaves a record, and
   * the next run deletes the key after its grace), then each key's life is shortened to the grace,
   * its alias freed for its successor and its metadata marked (the others' fields kept).
   */
  private async retire(keys: readonly (Retire & { spec: KeySpec })[]): Promise<void> {
    if (keys.length === 0) return;
    const now = proxyNow(this.ctx.client);
    const until = new Map(keys.map((k) => [k, graceEnd(k.grace, now)]));
    // One ledger write per store, whatever the number of keys.
    for (const [store, group] of Map.groupBy(keys, (k) => this.ctx.store(k.spec))) {
      await store.recordRetired(group.map((k) => ({ spec: k.spec, token: k.token, until: until.get(k)! })));
    }
    await this.all(keys, async (k) => {
      try {
        await this.updateKey(k.spec, k.key, k.token, { key_alias: null, duration: k.grace, metadata: retiredMetadata(k.metadata, until.get(k)!) }, 'retiring the old key');
      } catch (err) {
        if (!(err instanceof KeyGone)) throw err; // already gone: nothing to retire
      }
    });
  }

  /**
   * /key/update, naming the key by `key` (raw when known, see Step 'update'). An alias the
   * proxy's rule refuses is exit 2. Every error of that route has type auth_error, so a
   * 401/404 is not taken for a wrong master key: the key is looked up again, and KeyGone
   * thrown when the proxy no longer has it.
   */
  private async updateKey(spec: KeySpec, key: string, token: string, changes: Omit<UpdateRequest, 'key'>, what: string): Promise<void> {
    const { ctx } = this;
    try {
      await asMaster(what, () => ctx.client.update({ key, ...changes }), ctx);
    } catch (err) {
      if (err instanceof AliasFormatError && changes.key_alias !== undefined) throw aliasRefused(spec, changes.key_alias!, err.rule);
      if (!(err instanceof KeyUpdateRefusedError)) throw err;
      try {
        await asMaster('looking the key up again', () => ctx.client.keyInfoByHash(token), ctx);
      } catch (lookup) {
        if (lookup instanceof NotFoundError) throw new KeyGone(`${what}: ${err.answer!.message}`);
        throw lookup;
      }
      const { status, message } = err.answered;
      throw new ProxyRefusedError(`${what}: the proxy answered ${status} although it has the key (${message})`, {
        hint: 'see the proxy logs (docker compose logs llm-proxy)',
        cause: err.answer,
      });
    }
  }

  /**
   * Runs the plan over every key at once: requests with at most `concurrency` in flight,
   * each file written once. Per key the order stays crash-safe: stale keys holding the
   * alias are deleted, the new key is issued, recorded in the ledger (one write for all),
   * then written to its env file (one write per file); a rotated key's old key is revoked
   * only after that. A kill between issuing and the ledger leaves keys on the proxy that
   * carry the alias: the next run finds them as alias holders and deletes them.
   */
  async apply(steps: readonly KeyStep[], reused: readonly string[]): Promise<KeyReport> {
    const { ctx } = this;
    this.report.reused.push(...reused);
    for (const step of steps) if (step.kind !== 'prune') ctx.log.info({ step: step.kind }, describeKeyStep(step));
    const fresh: Fresh[] = steps.filter((s) => s.kind === 'issue' || s.kind === 'rotate');
    const updates = steps.filter((s): s is Extract<KeyStep, { kind: 'update' }> => s.kind === 'update');
    const valuesOf = (step: (typeof fresh)[number], key: string) => ({
      [step.spec.env]: key,
      ...(step.kind === 'issue' && step.preserve?.to === 'env' ? { [step.preserve.name]: step.preserve.value } : {}),
    });
    // Before anything changes on the proxy: every store must take its new values (a file the editor
    // refuses: exit 2; a Secret RBAC will not let us write: exit 4), so nothing is issued in vain.
    const assertEditable = async (steps: typeof fresh) => {
      for (const [store, group] of Map.groupBy(steps, (step) => ctx.store(step.spec))) {
        await store.assertEditable(group.map((step) => ({ spec: step.spec, values: valuesOf(step, KEY_SHAPED) })));
      }
    };
    await assertEditable(fresh);

    // Updates first (their stale keys deleted before): a key gone since it was looked at joins the
    // keys to issue, as a re-run would replace it.
    await this.deleteTokens(updates.flatMap((s) => s.deleteFirst));
    await this.retire(updates.flatMap((step) => step.retireFirst.map((r) => ({ ...r, spec: step.spec }))));
    const gone: Extract<KeyStep, { kind: 'issue' }>[] = [];
    await this.all(updates, async (step) => {
      try {
        await this.updateKey(step.spec, step.key, step.token, step.changes, 'updating the key');
      } catch (err) {
        if (!(err instanceof KeyGone)) throw err;
        ctx.log.warn({ alias: step.spec.alias, reason: err.message }, `key ${JSON.stringify(step.spec.alias)} is gone from the proxy since it was looked at; issuing a new one`);
        gone.push({ kind: 'issue', spec: step.spec, reason: 'unknown to the proxy', deleteFirst: [], preserve: undefined });
        return;
      }
      this.report.updated.push(step.spec.alias);
    });
    // Keys gone since they were looked at are issued too: their stores are asked the same.
    await assertEditable(gone);
    fresh.push(...gone);
    await this.deleteTokens(fresh.flatMap((s) => s.deleteFirst));

    // Rotations in place first where the proxy is licensed (the first one alone: its refusal, if
    // any, switches the others to the other way without a second refusal).
    // A key moving to another team is reissued, never regenerated: a regenerated key keeps its row, team included.
    const rotations = fresh.filter((s): s is Rotation => s.kind === 'rotate' && s.reason !== 'team');
    const inPlace = new Map<Fresh, PromiseSettledResult<(IssuedKey & { token: string }) | undefined>>();
    if (rotations.length > 0) {
      const [first, ...rest] = rotations;
      const settled = await settleAll([first!], 1, (step) => this.regenerate(step));
      const head = settled[0]!;
      // Licensed: the others in place too. Refused: the others the other way. Failed: none started.
      const more =
        head.status === 'rejected'
          ? rest.map((): PromiseSettledResult<undefined> => ({ status: 'rejected', reason: new Skipped() }))
          : head.value !== undefined
            ? await settleAll(rest, ctx.concurrency, (step) => this.regenerate(step))
            : [];
      [first!, ...rest].forEach((step, i) => {
        const r = i === 0 ? head : more[i - 1];
        if (r) inPlace.set(step, r);
      });
    }
    const regenerated = (step: Fresh) => {
      const r = inPlace.get(step);
      return r?.status === 'fulfilled' ? r.value : undefined;
    };

    // Issue every other new key. A rotation's new key has no alias (aliases are unique; an alias of our own
    // making could fail the operator's key_alias_pattern) and a mark, until the old key is gone.
    const toIssue = fresh.filter((step) => !inPlace.has(step) || (inPlace.get(step)!.status === 'fulfilled' && regenerated(step) === undefined));
    const generated = await settleAll(toIssue, ctx.concurrency, (step) => this.generate(step.spec, { unaliased: step.kind === 'rotate', grace: step.kind === 'rotate' && step.reason !== 'repair' ? step.grace : undefined }));
    const issued = [
      ...fresh.flatMap((step) => {
        const r = regenerated(step);
        return r ? [{ step, ...r, inPlace: true }] : [];
      }),
      ...toIssue.flatMap((step, i) => {
        const r = generated[i]!;
        return r.status === 'fulfilled' ? [{ step, ...r.value, inPlace: false }] : [];
      }),
    ];
    // After the proxy accepted the keys (a refused alias leaves no backup behind), before any store
    // changes: the user's values to the backup, then the keys with their ledger entries (env files:
    // the backup file once, the ledger once, each env file once; a Secret: one write each).
    await this.storeKeys(issued.map(({ step, key, token, inPlace }) => ({ step, token, inPlace, values: valuesOf(step, key) })));
    // LiteLLM 1.77 rounds a new key's expiry down to calendar boundaries (`3h` at 16:17 expires at 18:00;
    // a 30d key issued on the 31st lives a day): such a key may land within its renew window, and every
    // run would renew it, each renewal getting a rounded expiry again. Its exact lifetime is set with
    // /key/update (1.77 adds exact seconds there): a rotation's new key in the request that gives it
    // its alias, any other in one more request.
    const issuedAt = proxyNow(ctx.client);
    const exact = new Set(issued.filter((i) => lifeShortened(i.step.spec, i, issuedAt)).map((i) => i.step));
    const extendLater = issued.filter((i) => exact.has(i.step) && (i.step.kind === 'issue' || i.inPlace));
    for (const { step, expires } of issued) {
      const names = lifetimeSettings(step.spec);
      if (expires && exact.has(step)) {
        ctx.log.info(
          { alias: step.spec.alias, expires, duration: step.spec.duration },
          `the proxy gave the new key ${JSON.stringify(step.spec.alias)} an expiry (${expires}) short of its ${names.duration} (${step.spec.duration}), as LiteLLM 1.77 rounds a new key's expiry to calendar boundaries: its exact lifetime is set with /key/update`,
        );
      } else if (expires && renewalDue(step.spec, { expires }, issuedAt)) {
        ctx.log.warn(
          { alias: step.spec.alias, expires, renewBefore: step.spec.renewBefore },
          `the proxy gave the new key ${JSON.stringify(step.spec.alias)} an expiry (${expires}) already within its renew window (${names.renewBefore} ${step.spec.renewBefore}): every run will renew it until a new key lives longer: set ${names.duration} longer than ${names.renewBefore}`,
        );
      }
      if (step.kind !== 'issue') continue;
      if (step.preserve) {
        const where = step.preserve.to === 'env' ? step.preserve.name : step.preserve.path;
        ctx.log.warn({ variable: step.spec.env, file: step.preserve.from, line: step.preserve.line, savedTo: where }, `the previous value of ${step.spec.env} was not a key of this proxy; it was saved to ${where}${step.preserve.to === 'backup' && step.preserve.unshaped ? ` (it is not shaped like an API key of ${step.preserve.unshaped}, so the proxy is not given it as one)` : ''}`);
        if (!this.report.preserved.includes(where)) this.report.preserved.push(where);
      }
      (step.reason === 'no key yet' ? this.report.created : this.report.replaced).push(step.spec.alias);
    }
    const failure = firstFailure([...inPlace.values(), ...generated]);
    if (failure !== undefined) throw failure;
    await this.all(extendLater, async ({ step, key, token }) => {
      try {
        await this.updateKey(step.spec, key, token, { duration: step.spec.duration }, "setting the new key's exact lifetime");
      } catch (err) {
        // The key works and is stored; the next run's plan sets its lifetime (see lifetime.renewal).
        ctx.log.warn({ alias: step.spec.alias, reason: (err as Error).message }, `the exact lifetime of the new key ${JSON.stringify(step.spec.alias)} could not be set; the next run sets it`);
      }
    });

    // Rotations: the new keys are in their stores. Regenerated ones are done (the proxy keeps the
    // old key for its grace). The others: the old keys are retired for their grace, or revoked,
    // then the new ones take the alias, named by the raw key (the proxy's cache cleared at once),
    // the marks going in the same request.
    const rotated = issued.filter((i): i is typeof i & { step: Rotation } => i.step.kind === 'rotate');
    const reissued = rotated.filter((i) => !i.inPlace);
    const graced = reissued.filter(({ step }) => step.grace !== undefined && step.reason !== 'repair');
    await this.deleteTokens(reissued.filter((i) => !graced.includes(i)).map(({ step }) => step.oldToken));
    await this.retire(graced.map(({ step }) => ({ spec: step.spec, token: step.oldToken, key: step.oldKey, metadata: step.oldMetadata, grace: step.grace! })));
    await this.all(reissued, async ({ step, key, token }) => {
      try {
        await this.updateKey(step.spec, key, token, { key_alias: step.spec.alias, metadata: desiredMetadata(step.spec), ...(exact.has(step) ? { duration: step.spec.duration } : {}) }, 'renaming the new key');
      } catch (err) {
        if (!(err instanceof KeyGone)) throw err;
        throw new ProxyRefusedError(`${err.message}: the key just issued and written to ${step.spec.env} is gone from the proxy already`, { hint: 'run the bootstrap again: it issues a new key' });
      }
    });
    for (const { step } of rotated) {
      (step.reason === 'renewal' ? this.report.renewed : step.reason === 'repair' ? this.report.repaired : step.reason === 'team' ? this.report.moved : this.report.rotated).push(step.spec.alias);
    }

    // Retired keys past their grace: deleted, then forgotten by the ledger that recorded them.
    for (const step of steps) {
      if (step.kind !== 'purge') continue;
      await this.deleteTokens(step.retired.map((r) => r.token));
      for (const store of ctx.stores ?? []) await store.forgetRetired(step.retired);
      this.report.purged.push(...new Set(step.retired.map((r) => r.alias)));
    }

    return this.report;
  }

  /**
   * Keys no longer declared (the kind's prune, after every kind applied): deleted from the proxy
   * (revoked at once), then the variable still holding one emptied, then forgotten by the ledger;
   * a kill between leaves the entry for the next run.
   */
  async prune(steps: readonly KeyStep[]): Promise<KeyReport> {
    const { ctx } = this;
    const prunes = steps.filter((s): s is Extract<KeyStep, { kind: 'prune' }> => s.kind === 'prune');
    if (prunes.length === 0) return this.report;
    for (const step of prunes) ctx.log.info({ step: step.kind }, describeKeyStep(step));
    await this.deleteTokens(prunes.flatMap((s) => s.delete));
    const forget = prunes.flatMap((s) => s.forget);
    for (const store of ctx.stores ?? []) {
      const mine = new Set(store.issued().map((e) => e.token));
      const emptied = await store.forgetPruned(forget.filter((e) => mine.has(e.token)));
      if (emptied.length > 0) ctx.log.info({ variables: emptied }, `emptied ${emptied.join(', ')}: the key it held was no longer declared and is revoked`);
    }
    this.report.pruned.push(...prunes.filter((s) => s.delete.length > 0).map((s) => s.alias));
    return this.report;
  }

  /**
   * Stores keys just issued, store by store. Keys a store could not take (refused, a lost race,
   * a failed write) are deleted from the proxy again before the error goes on: nobody would
   * ever hold them.
   */
  private async storeKeys(issued: { step: Fresh; token: string; inPlace: boolean; values: Record<string, string> }[]): Promise<void> {
    for (const [store, group] of Map.groupBy(issued, ({ step }) => this.ctx.store(step.spec))) {
      try {
        await store.saveBackups(group.flatMap(({ step }) => (step.kind === 'issue' && step.preserve?.to === 'backup' ? [{ spec: step.spec, saved: step.preserve }] : [])));
        await store.writeKeys(group.map(({ step, token, values }) => ({ spec: step.spec, token, values })));
      } catch (err) {
        // A regenerated key is the key's row itself: deleting it would leave nothing. The next run
        // finds the stored (old) key unknown and the row ours, and replaces it.
        const orphans = group.filter((i) => !i.inPlace);
        if (orphans.length < group.length) this.ctx.log.warn({ aliases: group.filter((i) => i.inPlace).map(({ step }) => step.spec.alias) }, 'a key regenerated in place could not be stored; the next run replaces it');
        try {
          await this.deleteTokens(orphans.map(({ token }) => token));
          this.ctx.log.info({ aliases: group.map(({ step }) => step.spec.alias) }, 'the new key(s) could not be stored, so they were deleted from the proxy again');
        } catch (cleanup) {
          this.ctx.log.warn({ reason: (cleanup as Error).message }, 'the new key(s) could not be stored, nor deleted from the proxy; the next run deletes them (they hold the alias)');
        }
        throw err;
      }
    }
  }

  /** `fn` over `items`, at most `concurrency` at once; the first failure is thrown once all started ones are done. */
  private async all<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    const failure = firstFailure(await settleAll(items, this.ctx.concurrency, fn));
    if (failure !== undefined) throw failure;
  }
}
