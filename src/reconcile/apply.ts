/**
 * Apply: carry out a plan, kind by kind, in a crash-safe order: the keys first (the agent's key
 * is what the user waits for; each kind's applier keeps its own order, see src/resources/), then
 * the proxy's env file, replaced atomically, then the models (a key may be scoped to a model
 * registered here; a proxy that cannot store models must not cost the user the keys).
 */
import { writeFileAtomic } from '../store/fs-atomic.ts';
import { KeyApplier, type ApplyContext, type KeyReport } from '../resources/keys/apply.ts';
import type { KeyStep } from '../resources/keys/plan.ts';
import { ModelApplier, type ModelReport } from '../resources/models/apply.ts';
import { describeStep, isModelStep, type Plan } from './plan.ts';

export type { ApplyContext };

/** The model steps failed after the keys and the proxy's env file were done: `cause` says why. */
export class ModelStepsFailed extends Error {
  constructor(readonly failure: unknown) {
    super('the model steps failed');
    this.name = 'ModelStepsFailed';
  }
}

export interface Report extends KeyReport, ModelReport {
  /** Provider secrets in the proxy's env file, when it was written. */
  mirrored: string[] | undefined;
}

export class Applier {
  private readonly keys: KeyApplier;
  private readonly models: ModelApplier;
  private mirrored: string[] | undefined;

  constructor(private readonly ctx: ApplyContext) {
    this.keys = new KeyApplier(ctx);
    this.models = new ModelApplier(ctx);
  }

  /** What has been done so far (also after a failure, for the next round's summary). */
  get report(): Report {
    return { ...this.keys.report, ...this.models.report, mirrored: this.mirrored };
  }

  async apply(plan: Plan): Promise<Report> {
    const keySteps = plan.steps.filter((s): s is KeyStep => s.kind !== 'mirror' && !isModelStep(s));
    await this.keys.apply(keySteps, plan.reused);
    for (const step of plan.steps) {
      if (step.kind !== 'mirror') continue;
      this.ctx.log.info({ step: step.kind }, describeStep(step));
      await writeFileAtomic(step.path, step.content, { mode: 0o600, ...this.ctx.owner, generated: true });
      this.mirrored = step.names;
    }
    try {
      await this.models.apply(plan.steps.filter(isModelStep));
    } catch (err) {
      throw new ModelStepsFailed(err);
    }
    return this.report;
  }
}
