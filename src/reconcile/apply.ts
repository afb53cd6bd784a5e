/**
 * Apply: carry out a plan in a crash-safe order. At every instant the env file
 * holds either the old working key or the new working one; a new key is recorded
 * in the ledger before it is written; a value that may be the user's own is saved
 * before its line is overwritten; every file is replaced atomically.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../store/fs-atomic.ts';
import { sha256, type Ledger } from '../store/ledger.ts';
import { formatValue } from '../store/mirror.ts';
import { asMaster, readEnvFile } from './observe.ts';
import { ProxyRefusedError } from '../errors.ts';
import { ProxyHttpError, type ProxyClient } from '../proxy/client.ts';
import { registerSecret } from '../log/redact.ts';
import { desiredMetadata, describeStep, rotatingAlias, type Plan, type Preserve, type Step } from './plan.ts';
import type { KeySpec } from '../config/keys.ts';
import type { Logger } from '../log/log.ts';
import { byFile, chunks, firstFailure, settleAll } from './batch.ts';

export interface ApplyContext {
  client: ProxyClient;
  ledger: Ledger;
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
async function assertEditable(file: string, values: Record<string, string>): Promise<void> {
  (await readEnvFile(file)).doc.setAll(values);
}

/** Sets variables in an env file, re-reading it first so a concurrent edit of other lines is kept. */
export async function setEnvVars(file: string, values: Record<string, string>): Promise<boolean> {
  const state = await readEnvFile(file);
  const bytes = state.doc.setAll(values).toBuffer();
  if (bytes.equals(state.doc.toBuffer())) return false;
  await writeFileAtomic(file, bytes);
  return true;
}

/** Appends values that may be the user's own to the backup file, in one write; a value already saved is not added again. */
async function saveBackups(preserves: Extract<Preserve, { to: 'backup' }>[], owner: ApplyContext['owner']): Promise<void> {
  for (const [path, group] of Map.groupBy(preserves, (p) => p.path)) {
    let existing = '';
    try {
      existing = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const present = new Set(existing.split(/\r?\n/));
    let added = '';
    for (const p of group) {
      const line = `${p.name}=${formatValue(p.value)}`;
      if (present.has(line)) continue;
      present.add(line);
      const note = `# ${new Date().toISOString()}: value of ${p.name} from ${p.from}${p.line ? ` line ${p.line}` : ''}, replaced by llm-proxy-bootstrap (the proxy did not know it)`;
      added += `${note}\n${line}\n`;
    }
    if (added === '') continue;
    const sep = existing === '' || existing.endsWith('\n') ? '' : '\n';
    await writeFileAtomic(path, `${existing}${sep}${added}`, { mode: 0o600, ...owner });
  }
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

export function unservedModels(models: string[], served: string[]): { model: string; closest: string | undefined }[] {
  const servedSet = new Set(served);
  return models
    .filter((m) => !m.includes('*') && m !== 'all-proxy-models' && !servedSet.has(m))
    .map((model) => ({ model, closest: closestModel(model, served) }));
}

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

  /** Deletes keys by hash, up to DELETE_BATCH per request, at most `concurrency` requests at once. */
  private async deleteTokens(tokens: string[]): Promise<void> {
    const unique = [...new Set(tokens)];
    await this.all(chunks(unique, DELETE_BATCH), (batch) => asMaster('deleting stale keys', () => this.ctx.client.deleteKeys(batch), this.ctx));
  }

  /** Issues a key; an alias already taken (an orphan, or our own earlier attempt whose answer was lost) is freed once. */
  private async generate(spec: KeySpec, alias: string): Promise<{ key: string; token: string }> {
    const body = {
      key_alias: alias,
      models: spec.models,
      user_id: spec.userId,
      metadata: desiredMetadata(spec),
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
        const aliasTaken = cause instanceof ProxyHttpError && cause.status === 400 && /alias/i.test(cause.proxyMessage) && /exist/i.test(cause.proxyMessage);
        if (!aliasTaken || attempt > 1) throw err;
        const holders = await asMaster('listing keys by alias', () => this.ctx.client.keysWithAlias(alias), this.ctx);
        this.ctx.log.warn({ alias, count: holders.length }, 'the alias is held by keys nobody has; deleting them');
        await this.deleteTokens(holders.map((k) => k.token!).filter(Boolean));
      }
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
  async apply(plan: Plan): Promise<Report> {
    const { ctx } = this;
    this.report.reused.push(...plan.reused);
    for (const step of plan.steps) ctx.log.info({ step: step.kind }, describeStep(step));
    const fresh = plan.steps.filter((s): s is Extract<Step, { kind: 'issue' | 'rotate' }> => s.kind === 'issue' || s.kind === 'rotate');
    const updates = plan.steps.filter((s): s is Extract<Step, { kind: 'update' }> => s.kind === 'update');

    // Before any key is issued: every env file must take its new values (else exit 2, nothing changed).
    const planned = fresh.flatMap((step) => [
      { file: step.spec.file, name: step.spec.env, value: KEY_SHAPED },
      ...(step.kind === 'issue' && step.preserve?.to === 'env' ? [{ file: step.spec.file, name: step.preserve.name, value: step.preserve.value }] : []),
    ]);
    for (const [file, values] of byFile(planned)) await assertEditable(file, values);
    const preserves = fresh.flatMap((s) => (s.kind === 'issue' && s.preserve ? [s.preserve] : []));
    await saveBackups(preserves.filter((p): p is Extract<Preserve, { to: 'backup' }> => p.to === 'backup'), ctx.owner);
    await this.deleteTokens([...fresh, ...updates].flatMap((s) => s.deleteFirst));
    for (const step of fresh) if (step.kind === 'issue') await this.checkModels(step.spec);

    // Issue every new key; the rotating ones carry a temporary alias (aliases are unique) until the old key is gone.
    const generated = await settleAll(fresh, ctx.concurrency, (step) => this.generate(step.spec, step.kind === 'rotate' ? rotatingAlias(step.spec.alias) : step.spec.alias));
    const issued = fresh.flatMap((step, i) => {
      const r = generated[i]!;
      return r.status === 'fulfilled' ? [{ step, ...r.value }] : [];
    });
    // Recorded before written anywhere: one ledger write, then one write per env file.
    await ctx.ledger.recordMany(issued.map(({ step, token }) => ({ token, alias: step.spec.alias })), ctx.owner);
    const assignments = issued.flatMap(({ step, key }) => [
      { file: step.spec.file, name: step.spec.env, value: key },
      ...(step.kind === 'issue' && step.preserve?.to === 'env' ? [{ file: step.spec.file, name: step.preserve.name, value: step.preserve.value }] : []),
    ]);
    for (const [file, values] of byFile(assignments)) await setEnvVars(file, values);
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

    // Rotations: the new keys are in their files; revoke the old keys, then give the new ones their alias.
    const rotated = issued.filter((i) => i.step.kind === 'rotate');
    await this.deleteTokens(rotated.map(({ step }) => (step as Extract<Step, { kind: 'rotate' }>).oldToken));
    await this.all(rotated, async ({ step, token }) => {
      await asMaster('renaming the new key', () => ctx.client.update({ key: token, key_alias: step.spec.alias }), ctx);
      this.report.rotated.push(step.spec.alias);
    });

    await this.all(updates, async (step) => {
      if (step.changes.models) await this.checkModels(step.spec);
      await asMaster('updating the key', () => ctx.client.update({ key: step.token, ...step.changes }), ctx);
      this.report.updated.push(step.spec.alias);
    });

    for (const step of plan.steps) {
      if (step.kind !== 'mirror') continue;
      await writeFileAtomic(step.path, step.content, { mode: 0o600, ...ctx.owner });
      this.report.mirrored = step.names;
    }
    return this.report;
  }

  /** `fn` over `items`, at most `concurrency` at once; the first failure is thrown once all started ones are done. */
  private async all<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    const failure = firstFailure(await settleAll(items, this.ctx.concurrency, fn));
    if (failure !== undefined) throw failure;
  }
}
