/**
 * The reconciler's four words over the registry's kinds, each kind a session (src/resources/kind.ts):
 * observe → plan → apply → report. Knows no kind: it orders them by their `after`, hands each the
 * plans of the kinds before it, applies in that order (prunes in the reverse), and isolates a
 * failure: a kind others depend on ends the run at once (they cannot go on without it); a kind
 * nothing depends on fails alone, the others finish, and the failure is reported under its name
 * with what was done.
 */
import { BootstrapError } from '../errors.ts';
import type { Logger } from '../log/log.ts';
import type { KindPlan, KindSession, ResourceKind } from '../resources/kind.ts';
import { StoreConflictError } from '../store/key-store.ts';

export interface OpenKind {
  kind: ResourceKind;
  session: KindSession;
}

/** The kinds `kind` depends on among `kinds`: those it names in `after`, and those that name it in `before`. */
export function dependencies(kind: ResourceKind, kinds: readonly { kind: ResourceKind }[]): string[] {
  const names = new Set(kinds.map((k) => k.kind.name));
  const before = kinds.filter((k) => (k.kind.before ?? []).includes(kind.name)).map((k) => k.kind.name);
  return [...(kind.after ?? []), ...before].filter((d) => names.has(d));
}

/** Kinds in the order of work: each after the kinds it depends on (those taking part), else in registry order. */
export function workOrder<T extends { kind: ResourceKind }>(kinds: readonly T[]): T[] {
  const done = new Set<string>();
  const order: T[] = [];
  while (order.length < kinds.length) {
    const next = kinds.find((k) => !done.has(k.kind.name) && dependencies(k.kind, kinds).every((d) => done.has(d)));
    if (next === undefined) throw new Error(`resource kinds depend on each other in a circle: ${kinds.filter((k) => !done.has(k.kind.name)).map((k) => k.kind.name).join(', ')}`);
    done.add(next.kind.name);
    order.push(next);
  }
  return order;
}

/** One plan over every kind taking part. */
export class RunPlan {
  constructor(
    /** Registry order: listings and summaries. */
    readonly kinds: readonly OpenKind[],
    readonly plans: ReadonlyMap<string, KindPlan>,
  ) {}

  get stepCount(): number {
    return [...this.plans.values()].reduce((n, p) => n + p.steps.length, 0);
  }

  get notes(): string[] {
    return this.kinds.flatMap((k) => this.plans.get(k.kind.name)!.notes);
  }

  /** One secret-free line per step, then what the run cannot do; with the words --check lists. */
  lines(): { line: string; kind: string }[] {
    const steps = this.kinds.flatMap(({ kind, session }) => this.plans.get(kind.name)!.steps.map((s) => ({ line: session.describe(s), kind: s.kind })));
    const unresolved = this.kinds.flatMap((k) => this.plans.get(k.kind.name)!.unresolved.map((u) => ({ line: `(cannot be done by this run) ${u.line}`, kind: u.kind })));
    return [...steps, ...unresolved];
  }

  files(): { files: string[]; created: string[] } {
    const all = this.kinds.map(({ kind, session }) => session.files(this.plans.get(kind.name)!));
    return { files: all.flatMap((f) => f.files), created: all.flatMap((f) => f.created ?? []) };
  }
}

export async function observeAndPlan(kinds: readonly OpenKind[]): Promise<RunPlan> {
  const plans = new Map<string, KindPlan>();
  for (const { kind, session } of workOrder(kinds)) {
    const observed = await session.observe();
    plans.set(kind.name, session.plan(observed, plans));
  }
  return new RunPlan(kinds, plans);
}

/** Each kind's check of what the proxy would refuse of its plan, before any kind writes (registry order; the first refusal ends the run). */
export async function checkBeforeWriting(plan: RunPlan): Promise<void> {
  for (const { kind, session } of plan.kinds) await session.checkBeforeWriting?.(plan.plans.get(kind.name)!);
}

/** A kind's apply failed; the kinds that did not depend on it finished. */
export interface KindFailure {
  kind: string;
  error: unknown;
}

/**
 * Applies a plan, kind by kind in the order of work, then prunes in the reverse order. Returns each
 * kind's report of this round (also of a kind that failed: what it did before) and the isolated
 * failure, if any. A lost race (StoreConflictError) and the failure of a kind others depend on are thrown.
 */
export async function applyPlan(plan: RunPlan, reports: Map<string, unknown>, log: Logger): Promise<KindFailure | undefined> {
  const order = workOrder(plan.kinds);
  const dependents = (name: string) => order.some((k) => dependencies(k.kind, order).includes(name));
  let failure: KindFailure | undefined;
  const failed = new Set<string>();
  const phase = async (kinds: OpenKind[], act: (k: OpenKind, p: KindPlan, report: unknown) => Promise<void> | undefined) => {
    for (const k of kinds) {
      if (dependencies(k.kind, order).some((d) => failed.has(d)) || failed.has(k.kind.name)) {
        failed.add(k.kind.name);
        continue;
      }
      if (!reports.has(k.kind.name)) reports.set(k.kind.name, k.session.newReport());
      try {
        await act(k, plan.plans.get(k.kind.name)!, reports.get(k.kind.name));
      } catch (err) {
        if (err instanceof StoreConflictError || dependents(k.kind.name)) throw err;
        log.warn({ kind: k.kind.name, reason: (err as Error).message }, `the ${k.kind.name} kind failed; the kinds that do not depend on it go on`);
        failed.add(k.kind.name);
        failure ??= { kind: k.kind.name, error: err };
      }
    }
  };
  await phase(order, (k, p, r) => k.session.apply(p, r));
  await phase([...order].reverse(), (k, p, r) => k.session.prune?.(p, r));
  return failure;
}

/**
 * The summary line: each kind's words (registry order), the warnings count, then what the kinds add
 * when they finish. A failure isolated to one kind is thrown now, with what was done before it.
 */
export async function report(o: { kinds: readonly OpenKind[]; plan: RunPlan; rounds: Map<string, unknown>[]; label: string; prefix: string[]; failure: KindFailure | undefined }): Promise<string> {
  const merged = new Map(o.kinds.map(({ kind, session }) => [kind.name, session.merge(o.rounds.map((r) => r.get(kind.name) ?? session.newReport()))]));
  const parts = [...o.prefix, ...o.kinds.flatMap(({ kind, session }) => session.summary(merged.get(kind.name), o.plan.plans.get(kind.name)!))];
  const notes = o.plan.notes.length;
  if (notes) parts.push(`${notes} warning(s) above`);
  const after: string[] = [];
  for (const { kind, session } of o.kinds) if (session.finish) after.push(...(await session.finish(merged.get(kind.name), o.plan.plans.get(kind.name)!)));
  const summary = [`${o.label}: ${parts.join('; ')}`, ...after].join('; ');
  const { failure } = o;
  if (failure === undefined) return summary;
  if (!(failure.error instanceof BootstrapError)) throw failure.error;
  throw new BootstrapError(`${failure.error.message}; done before: ${summary.replace(/^[^:]*: /, '')}`, failure.error.exitCode, { hint: failure.error.hint, cause: failure.error });
}
