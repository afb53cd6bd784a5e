/**
 * The key steps, in a crash-safe order. At every instant the env file (or Secret)
 * holds either the old working key or the new working one; a new key is recorded
 * in the ledger before it is written; a value that may be the user's own is saved
 * before its line is overwritten; every file is replaced atomically.
 */
import { sha256 } from '../../store/ledger.ts';
import { StoreConflictError, type KeyStore } from '../../store/key-store.ts';
import { asMaster, masterCallError } from '../../proxy/as-master.ts';
import { ROTATION_MARK } from './observe.ts';
import { ConfigError, ProxyRefusedError } from '../../errors.ts';
import { ProxyHttpError, type GenerateRequest, type ProxyClient, type UpdateRequest } from '../../proxy/client.ts';
import { aliasFormatRule } from '../../proxy/refusals.ts';
import { retrying } from '../../proxy/wait.ts';
import { registerSecret } from '../../log/redact.ts';
import { desiredMetadata, describeKeyStep, type KeyStep } from './plan.ts';
import type { KeySpec } from '../../config/key-spec.ts';
import type { Logger } from '../../log/log.ts';
import { chunks, firstFailure, settleAll } from '../../batch.ts';

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
}

/** Keys named in one `/key/delete` request. */
const DELETE_BATCH = 100;

/** What the key steps did, by alias (and where users' values were saved). */
export interface KeyReport {
  created: string[];
  replaced: string[];
  updated: string[];
  rotated: string[];
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
  return new ConfigError(`${spec.aliasSource} ${JSON.stringify(alias)} is refused by the proxy's key alias rule: ${JSON.stringify(rule)}`, {
    hint: `${fromSettings ? 'set LITELLM_DEFAULT_KEY_ALIAS to' : 'change that alias to'} an alias the rule accepts${suggestion ? `, e.g. ${JSON.stringify(suggestion)}` : ''}`,
  });
}

/** /key/update named a key the proxy no longer has. */
class KeyGone extends Error {}

export class KeyApplier {
  readonly report: KeyReport = { created: [], replaced: [], updated: [], rotated: [], reused: [], preserved: [] };

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
  private async generate(spec: KeySpec, opts: { unaliased?: boolean } = {}): Promise<{ key: string; token: string }> {
    const alias = spec.alias;
    const body: GenerateRequest = {
      ...(opts.unaliased ? {} : { key_alias: alias }),
      models: spec.models,
      user_id: spec.userId,
      metadata: opts.unaliased ? { ...desiredMetadata(spec), [ROTATION_MARK]: `pending since ${new Date().toISOString()}` } : desiredMetadata(spec),
      duration: spec.duration,
      max_budget: spec.maxBudget,
      budget_duration: spec.budgetDuration,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const { key } = await asMaster('issuing a key', () => this.ctx.client.generate(body), this.ctx);
        registerSecret(key);
        return { key, token: sha256(key) };
      } catch (err) {
        const cause = err instanceof ProxyRefusedError ? err.cause : undefined;
        const rule = cause instanceof ProxyHttpError ? aliasFormatRule(cause) : undefined;
        if (rule !== undefined) throw aliasRefused(spec, alias, rule);
        const aliasTaken = cause instanceof ProxyHttpError && cause.status === 400 && /alias/i.test(cause.proxyMessage) && /exist/i.test(cause.proxyMessage);
        if (!aliasTaken || opts.unaliased) throw err;
        // Taken again after we freed it: another run (a racing Job) is issuing the same key; look again.
        if (attempt > 1) throw new StoreConflictError(`another run took the alias ${JSON.stringify(alias)} while this one was issuing its key`);
        const holders = await asMaster('listing keys by alias', () => this.ctx.client.keysWithAlias(alias), this.ctx);
        this.ctx.log.warn({ alias, count: holders.length }, 'the alias is held by keys nobody has; deleting them');
        await this.deleteTokens(holders.map((k) => k.token!).filter(Boolean));
      }
    }
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
      await retrying(what, () => ctx.client.update({ key, ...changes }), ctx);
    } catch (err) {
      if (err instanceof ProxyHttpError) {
        const rule = changes.key_alias === undefined ? undefined : aliasFormatRule(err);
        if (rule !== undefined) throw aliasRefused(spec, changes.key_alias!, rule);
        if (err.status === 401 || err.status === 404) {
          try {
            await asMaster('looking the key up again', () => ctx.client.keyInfoByHash(token), ctx);
          } catch (lookup) {
            const cause = lookup instanceof ProxyRefusedError ? lookup.cause : undefined;
            if (cause instanceof ProxyHttpError && cause.status === 404) throw new KeyGone(`${what}: ${err.message}`);
            throw lookup;
          }
          throw new ProxyRefusedError(`${what}: the proxy answered ${err.status} although it has the key (${err.proxyMessage})`, {
            hint: 'see the proxy logs (docker compose logs llm-proxy)',
            cause: err,
          });
        }
      }
      throw masterCallError(what, err);
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
    for (const step of steps) ctx.log.info({ step: step.kind }, describeKeyStep(step));
    const fresh: Extract<KeyStep, { kind: 'issue' | 'rotate' }>[] = steps.filter((s) => s.kind === 'issue' || s.kind === 'rotate');
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

    // Issue every new key. A rotation's new key has no alias (aliases are unique; an alias of our own
    // making could fail the operator's key_alias_pattern) and a mark, until the old key is gone.
    const generated = await settleAll(fresh, ctx.concurrency, (step) => this.generate(step.spec, { unaliased: step.kind === 'rotate' }));
    const issued = fresh.flatMap((step, i) => {
      const r = generated[i]!;
      return r.status === 'fulfilled' ? [{ step, ...r.value }] : [];
    });
    // After the proxy accepted the keys (a refused alias leaves no backup behind), before any store
    // changes: the user's values to the backup, then the keys with their ledger entries (env files:
    // the backup file once, the ledger once, each env file once; a Secret: one write each).
    await this.storeKeys(issued.map(({ step, key, token }) => ({ step, token, values: valuesOf(step, key) })));
    for (const { step } of issued) {
      if (step.kind !== 'issue') continue;
      if (step.preserve) {
        const where = step.preserve.to === 'env' ? step.preserve.name : step.preserve.path;
        ctx.log.warn({ variable: step.spec.env, file: step.preserve.from, line: step.preserve.line, savedTo: where }, `the previous value of ${step.spec.env} was not a key of this proxy; it was saved to ${where}`);
        if (!this.report.preserved.includes(where)) this.report.preserved.push(where);
      }
      (step.reason === 'no key yet' ? this.report.created : this.report.replaced).push(step.spec.alias);
    }
    const failure = firstFailure(generated);
    if (failure !== undefined) throw failure;

    // Rotations: the new keys are in their files; revoke the old keys, then the new ones take the
    // alias, named by the raw key (the proxy's cache cleared at once), the mark going in the same request.
    const rotated = issued.filter((i) => i.step.kind === 'rotate');
    await this.deleteTokens(rotated.map(({ step }) => (step as Extract<KeyStep, { kind: 'rotate' }>).oldToken));
    await this.all(rotated, async ({ step, key, token }) => {
      try {
        await this.updateKey(step.spec, key, token, { key_alias: step.spec.alias, metadata: desiredMetadata(step.spec) }, 'renaming the new key');
      } catch (err) {
        if (!(err instanceof KeyGone)) throw err;
        throw new ProxyRefusedError(`${err.message}: the key just issued and written to ${step.spec.env} is gone from the proxy already`, { hint: 'run the bootstrap again: it issues a new key' });
      }
      this.report.rotated.push(step.spec.alias);
    });
    return this.report;
  }

  /**
   * Stores keys just issued, store by store. Keys a store could not take (refused, a lost race,
   * a failed write) are deleted from the proxy again before the error goes on: nobody would
   * ever hold them.
   */
  private async storeKeys(issued: { step: Extract<KeyStep, { kind: 'issue' | 'rotate' }>; token: string; values: Record<string, string> }[]): Promise<void> {
    for (const [store, group] of Map.groupBy(issued, ({ step }) => this.ctx.store(step.spec))) {
      try {
        await store.saveBackups(group.flatMap(({ step }) => (step.kind === 'issue' && step.preserve?.to === 'backup' ? [{ spec: step.spec, saved: step.preserve }] : [])));
        await store.writeKeys(group.map(({ step, token, values }) => ({ spec: step.spec, token, values })));
      } catch (err) {
        try {
          await this.deleteTokens(group.map(({ token }) => token));
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
