/**
 * Apply: carry out a plan in a crash-safe order. At every instant the env file
 * holds either the old working key or the new working one; a new key is recorded
 * in the ledger before it is written; a value that may be the user's own is saved
 * before its line is overwritten; every file is replaced atomically.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../store/fs-atomic.ts';
import { sha256 } from '../store/ledger.ts';
import { StoreConflictError, type KeyStore } from '../store/key-store.ts';
import { formatValue } from '../store/mirror.ts';
import { asMaster, masterCallError, readEnvFile, ROTATION_MARK } from './observe.ts';
import { ConfigError, ProxyRefusedError } from '../errors.ts';
import { ProxyHttpError, type GenerateRequest, type ProxyClient, type UpdateRequest } from '../proxy/client.ts';
import { aliasFormatRule } from '../proxy/refusals.ts';
import { isKeyWildcard, isServed } from '../proxy/models.ts';
import { retrying } from '../proxy/wait.ts';
import { registerSecret } from '../log/redact.ts';
import { desiredMetadata, describeStep, type Plan, type Preserve, type Step } from './plan.ts';
import type { KeySpec } from '../config/keys.ts';
import type { Logger } from '../log/log.ts';

export interface ApplyContext {
  client: ProxyClient;
  /** Where each key lives (an env file or a Secret). */
  store: (spec: KeySpec) => KeyStore;
  log: Logger;
  deadline: number;
  dbReported: boolean;
  /** Owner given to files the bootstrap creates (that of the main .env). */
  owner: { uid: number; gid: number };
}

export interface Report {
  created: string[];
  replaced: string[];
  updated: string[];
  rotated: string[];
  reused: string[];
  preserved: string[];
  /** Provider secrets in the proxy's env file, when it was written. */
  mirrored: string[] | undefined;
}

/** A value shaped like the key the proxy will issue, to try an edit before the key exists. */
const KEY_SHAPED = `sk-${'x'.repeat(22)}`;

/** Fails (exit 2, file untouched) before a key is issued if the editor would refuse to write it. */
export async function assertEditable(file: string, values: Record<string, string>): Promise<void> {
  let doc = (await readEnvFile(file)).doc;
  for (const [name, value] of Object.entries(values)) doc = doc.set(name, value);
}

/** Sets variables in an env file, re-reading it first so a concurrent edit of other lines is kept. */
export async function setEnvVars(file: string, values: Record<string, string>): Promise<boolean> {
  const state = await readEnvFile(file);
  let doc = state.doc;
  for (const [name, value] of Object.entries(values)) doc = doc.set(name, value);
  const bytes = doc.toBuffer();
  if (bytes.equals(state.doc.toBuffer())) return false;
  await writeFileAtomic(file, bytes);
  return true;
}

export async function saveBackup(p: Extract<Preserve, { to: 'backup' }>, owner: ApplyContext['owner']): Promise<void> {
  let existing = '';
  try {
    existing = readFileSync(p.path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const line = `${p.name}=${formatValue(p.value)}`;
  if (existing.split(/\r?\n/).includes(line)) return;
  const note = `# ${new Date().toISOString()}: value of ${p.name} from ${p.from}${p.line ? ` line ${p.line}` : ''}, replaced by llm-proxy-bootstrap (the proxy did not know it)`;
  const sep = existing === '' || existing.endsWith('\n') ? '' : '\n';
  await writeFileAtomic(p.path, `${existing}${sep}${note}\n${line}\n`, { mode: 0o600, ...owner });
}

/** Levenshtein distance, for "did you mean" on model names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

export function closestModel(model: string, served: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of served) {
    const score = distance(model.toLowerCase(), candidate.toLowerCase());
    if (score < bestScore) [best, bestScore] = [candidate, score];
  }
  return best;
}

/** Models of a key the proxy does not route (see proxy/models.ts: wildcards like `openai/*` serve `openai/gpt-4o-mini`). */
export function unservedModels(models: string[], served: string[]): { model: string; closest: string | undefined }[] {
  return models.filter((m) => !isKeyWildcard(m) && !isServed(m, served)).map((model) => ({ model, closest: closestModel(model, served) }));
}

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

export class Applier {
  private served: Promise<string[] | undefined> | undefined;
  readonly report: Report = { created: [], replaced: [], updated: [], rotated: [], reused: [], preserved: [], mirrored: undefined };

  constructor(private readonly ctx: ApplyContext) {}

  /** Warns (once per model) about models the proxy does not serve. Best effort: never fails the run. */
  private async checkModels(spec: KeySpec): Promise<void> {
    this.served ??= this.ctx.client.modelNames().catch((err: unknown) => {
      this.ctx.log.debug({ reason: (err as Error).message }, 'could not list the proxy\'s models');
      return undefined;
    });
    const served = await this.served;
    if (served === undefined) return;
    for (const { model, closest } of unservedModels(spec.models, served)) {
      this.ctx.log.warn(
        { alias: spec.alias, model, closest },
        `model ${JSON.stringify(model)} of key ${JSON.stringify(spec.alias)} is not served by the proxy${closest ? ` (closest configured: ${JSON.stringify(closest)})` : ' (it serves no models yet)'}`,
      );
    }
  }

  private async deleteTokens(tokens: string[]): Promise<void> {
    const unique = [...new Set(tokens)];
    if (unique.length === 0) return;
    await asMaster('deleting stale keys', () => this.ctx.client.deleteKeys(unique), this.ctx);
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
   * Writes a key just issued. If it cannot be written (refused, a lost race, a crash of the write),
   * the key is deleted from the proxy again before the error goes on: nobody would ever have it.
   */
  private async storeKey(spec: KeySpec, token: string, values: Record<string, string>, backup?: Extract<Preserve, { to: 'backup' }>): Promise<void> {
    try {
      // After the proxy accepted the key (a refused alias leaves no backup behind), before the store changes.
      if (backup) await this.ctx.store(spec).saveBackup(spec, backup);
      await this.ctx.store(spec).writeKey(spec, token, values);
    } catch (err) {
      try {
        await this.deleteTokens([token]);
        this.ctx.log.info({ alias: spec.alias }, 'the new key could not be stored, so it was deleted from the proxy again');
      } catch (cleanup) {
        this.ctx.log.warn({ alias: spec.alias, reason: (cleanup as Error).message }, 'the new key could not be stored, nor deleted from the proxy; the next run deletes it (it holds the alias)');
      }
      throw err;
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

  async apply(plan: Plan): Promise<Report> {
    this.report.reused.push(...plan.reused);
    for (const step of plan.steps) {
      this.ctx.log.info({ step: step.kind }, describeStep(step));
      await this.applyStep(step);
    }
    return this.report;
  }

  private async applyStep(step: Step): Promise<void> {
    const { ctx } = this;
    switch (step.kind) {
      case 'issue': {
        const store = ctx.store(step.spec);
        await store.assertEditable(step.spec, { [step.spec.env]: KEY_SHAPED, ...(step.preserve?.to === 'env' ? { [step.preserve.name]: step.preserve.value } : {}) });
        await this.deleteTokens(step.deleteFirst);
        await this.checkModels(step.spec);
        const { key, token } = await this.generate(step.spec);
        const values: Record<string, string> = { [step.spec.env]: key };
        if (step.preserve?.to === 'env') values[step.preserve.name] = step.preserve.value;
        await this.storeKey(step.spec, token, values, step.preserve?.to === 'backup' ? step.preserve : undefined);
        if (step.preserve) {
          const where = step.preserve.to === 'env' ? step.preserve.name : step.preserve.path;
          ctx.log.warn({ variable: step.spec.env, file: step.preserve.from, line: step.preserve.line, savedTo: where }, `the previous value of ${step.spec.env} was not a key of this proxy; it was saved to ${where}`);
          this.report.preserved.push(where);
        }
        (step.reason === 'no key yet' ? this.report.created : this.report.replaced).push(step.spec.alias);
        return;
      }
      case 'update': {
        await this.deleteTokens(step.deleteFirst);
        if (step.changes.models) await this.checkModels(step.spec);
        try {
          await this.updateKey(step.spec, step.key, step.token, step.changes, 'updating the key');
        } catch (err) {
          if (!(err instanceof KeyGone)) throw err;
          // Deleted (or the proxy wiped) since it was observed: replace it, as a re-run would.
          ctx.log.warn({ alias: step.spec.alias, reason: err.message }, `key ${JSON.stringify(step.spec.alias)} is gone from the proxy since it was looked at; issuing a new one`);
          await this.applyStep({ kind: 'issue', spec: step.spec, reason: 'unknown to the proxy', deleteFirst: [], preserve: undefined });
          return;
        }
        this.report.updated.push(step.spec.alias);
        return;
      }
      case 'rotate': {
        await ctx.store(step.spec).assertEditable(step.spec, { [step.spec.env]: KEY_SHAPED });
        await this.deleteTokens(step.deleteFirst);
        // Aliases are unique: the new key has none (and a mark) until the old one is gone. An alias
        // of our own making could fail the operator's key_alias_pattern; no alias is never checked.
        const { key, token } = await this.generate(step.spec, { unaliased: true });
        await this.storeKey(step.spec, token, { [step.spec.env]: key });
        await this.deleteTokens([step.oldToken]);
        // Named by the raw key (cache cleared at once); the mark goes with the same request.
        try {
          await this.updateKey(step.spec, key, token, { key_alias: step.spec.alias, metadata: desiredMetadata(step.spec) }, 'renaming the new key');
        } catch (err) {
          if (!(err instanceof KeyGone)) throw err;
          throw new ProxyRefusedError(`${err.message}: the key just issued and written to ${step.spec.env} is gone from the proxy already`, { hint: 'run the bootstrap again: it issues a new key' });
        }
        this.report.rotated.push(step.spec.alias);
        return;
      }
      case 'mirror': {
        await writeFileAtomic(step.path, step.content, { mode: 0o600, ...ctx.owner });
        this.report.mirrored = step.names;
        return;
      }
    }
  }
}
