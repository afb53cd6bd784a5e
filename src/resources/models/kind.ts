/**
 * The models kind: models registered on the proxy, declared in the keys file's `models:` section
 * or registered on demand for a key's `<provider>/<model>` (the keys' desired state says which).
 * Applied after the keys and the proxy's env file: a proxy that cannot store models (or refuses
 * one) must not cost the user the keys; nothing depends on it, so its failure is isolated.
 */
import type { ProxyModel } from '../../proxy/client.ts';
import type { KindPlan, KindSession, ResourceKind, RunContext } from '../kind.ts';
import { ModelApplier, type ModelReport } from './apply.ts';
import { observeModels } from './observe.ts';
import { describeModelStep, describeUnserved, planModels, type ModelStep } from './plan.ts';
import { modelsSection, onDemandFrom, type ModelSpec } from './spec.ts';

interface ModelsObserved {
  proxy: ProxyModel[] | undefined;
  /** `.env` as it is (on-demand registration follows its provider keys); undefined in Secret mode. */
  values: Record<string, string> | undefined;
}

class ModelsSession implements KindSession<ModelsObserved, ModelStep, ModelReport> {
  constructor(private readonly run: RunContext) {}

  async observe(): Promise<ModelsObserved> {
    const { run } = this;
    const mainEnv = run.fileStore && (await run.fileStore.state(run.settings.envFilePath));
    return { proxy: await observeModels({ ...run.proxy!, log: run.log }), values: mainEnv?.doc.values() };
  }

  plan(observed: ModelsObserved): KindPlan<ModelStep> {
    const { desired } = this.run;
    // On demand only where .env says which provider keys the proxy gets (not in Secret mode: there the
    // proxy's environment is the chart's, which the bootstrap cannot see).
    const keys = (desired['keys'] ?? []) as { alias: string; models: string[] }[];
    const planned = planModels({
      declared: (desired['models'] ?? []) as ModelSpec[],
      keys: keys.map((k) => ({ alias: k.alias, models: k.models })),
      proxy: observed.proxy,
      onDemand: onDemandFrom(observed.values),
      onDemandPossible: observed.values !== undefined,
    });
    const unresolved = planned.unserved.map((u) => ({ line: describeUnserved(u), kind: 'model-unserved', log: [{ model: u.model, aliases: u.aliases, closest: u.closest }, describeUnserved(u)] as [Record<string, unknown>, string] }));
    return { steps: planned.steps, notes: planned.notes, unresolved };
  }

  describe(step: ModelStep): string {
    return describeModelStep(step);
  }

  files(): { files: string[] } {
    return { files: [] };
  }

  newReport(): ModelReport {
    return { registered: [], updatedModels: [], removed: [] };
  }

  async apply(plan: KindPlan<ModelStep>, report: ModelReport): Promise<void> {
    const { run } = this;
    const applier = new ModelApplier({ ...run.proxy!, log: run.log, concurrency: run.settings.maxConcurrency });
    try {
      await applier.apply(plan.steps);
    } finally {
      report.registered.push(...applier.report.registered);
      report.updatedModels.push(...applier.report.updatedModels);
      report.removed.push(...applier.report.removed);
    }
  }

  merge(reports: ModelReport[]): ModelReport {
    const all = (field: keyof ModelReport) => [...new Set(reports.flatMap((r) => r[field]))];
    return { registered: all('registered'), updatedModels: all('updatedModels'), removed: all('removed') };
  }

  summary(report: ModelReport, plan: KindPlan<ModelStep>): string[] {
    const parts: string[] = [];
    const list = (verb: string, names: string[]) => names.length && parts.push(names.length > 10 ? `${verb}s: ${names.length}` : `${verb} ${names.map((a) => JSON.stringify(a)).join(', ')}`);
    list('registered model', report.registered);
    list('updated model', report.updatedModels);
    list('removed model', report.removed);
    if (plan.unresolved.length) parts.push(`${plan.unresolved.length} model(s) not served`);
    return parts;
  }
}

export const modelsKind: ResourceKind = {
  name: 'models',
  // Applied last: after the keys (a proxy that cannot store models must not cost the keys) and the proxy's env file.
  after: ['keys', 'env-file'],
  section: modelsSection,
  usesProxy: true,
  enabled: ({ mirrorOnly }) => !mirrorOnly,
  open: async (run) => new ModelsSession(run),
};
