/**
 * The pipeline over resource kinds, with small kinds of its own (the contract is the pipeline's
 * input): kinds are worked on in the order their `after`/`before` give, each plan sees the plans
 * before it, deletions run in reverse order, and a failure stays with its kind unless others need it.
 */
import { describe, expect, it } from 'vitest';
import { BootstrapError, ProxyRefusedError } from '../../src/errors.ts';
import { createLogger } from '../../src/log/log.ts';
import type { KindPlan, KindSession, ResourceKind } from '../../src/resources/kind.ts';
import { applyPlan, observeAndPlan, report, workOrder, type OpenKind } from '../../src/reconcile/pipeline.ts';

const log = await createLogger({ level: 'silent', format: 'json' });

function kind(name: string, journal: string[], o: { after?: string[]; before?: string[]; fails?: boolean; sees?: string[] } = {}): OpenKind {
  const session: KindSession<string, { kind: string }, string[]> = {
    observe: async () => name,
    plan: (_observed, planned) => {
      o.sees?.push(`${name} sees ${[...planned.keys()].join(',') || 'nothing'}`);
      return { steps: [{ kind: `${name}-step` }], notes: [], unresolved: [] };
    },
    describe: (s) => s.kind,
    files: () => ({ files: [] }),
    newReport: () => [],
    apply: async (_p: KindPlan, r: string[]) => {
      journal.push(`apply ${name}`);
      if (o.fails) throw new ProxyRefusedError(`${name} refused`);
      r.push(name);
    },
    prune: async () => void journal.push(`prune ${name}`),
    merge: (rs) => rs.flat(),
    summary: (r) => r.map((n) => `did ${n}`),
  };
  const k: ResourceKind = { name, after: o.after, before: o.before, usesProxy: false, enabled: () => true, open: async () => session };
  return { kind: k, session };
}

describe('the pipeline over kinds', () => {
  it('teams declared before keys (from either side): planned, applied first, pruned last; each plan sees those before it', async () => {
    const journal: string[] = [];
    const sees: string[] = [];
    const kinds = [kind('keys', journal, { sees }), kind('models', journal, { after: ['keys'], sees }), kind('teams', journal, { before: ['keys'], sees })];
    expect(workOrder(kinds).map((k) => k.kind.name)).toEqual(['teams', 'keys', 'models']);
    const plan = await observeAndPlan(kinds);
    expect(sees).toEqual(['teams sees nothing', 'keys sees teams', 'models sees teams,keys']);
    // Listed in registry order.
    expect(plan.lines().map((l) => l.line)).toEqual(['keys-step', 'models-step', 'teams-step']);
    const failure = await applyPlan(plan, new Map(), log);
    expect(failure).toBeUndefined();
    expect(journal).toEqual(['apply teams', 'apply keys', 'apply models', 'prune models', 'prune keys', 'prune teams']);
  });

  it('a kind nothing depends on fails alone: the others finish, and the failure says what was done', async () => {
    const journal: string[] = [];
    const kinds = [kind('keys', journal), kind('models', journal, { after: ['keys'], fails: true }), kind('env-file', journal, { after: ['keys'] })];
    const plan = await observeAndPlan(kinds);
    const reports = new Map<string, unknown>();
    const failure = await applyPlan(plan, reports, log);
    expect(failure?.kind).toBe('models');
    expect(journal).toContain('apply env-file');
    const err = await report({ kinds, plan, rounds: [reports], label: 'done', prefix: [], failure }).catch((e: unknown) => e as BootstrapError);
    expect((err as BootstrapError).message).toBe('models refused; done before: did keys; did env-file');
    expect((err as BootstrapError).exitCode).toBe(4);
  });

  it('a kind others depend on ends the run at once: nothing after it is done', async () => {
    const journal: string[] = [];
    const kinds = [kind('keys', journal, { fails: true }), kind('models', journal, { after: ['keys'] })];
    const plan = await observeAndPlan(kinds);
    await expect(applyPlan(plan, new Map(), log)).rejects.toThrow('keys refused');
    expect(journal).toEqual(['apply keys']);
  });

  it('kinds that wait for each other are refused, naming them', () => {
    expect(() => workOrder([kind('a', [], { after: ['b'] }), kind('b', [], { after: ['a'] })])).toThrow(/in a circle: a, b/);
  });
});
