/**
 * The model steps, after the keys (the agent's key matters most, and a key may be scoped to a
 * model registered here): registrations and updates with at most `concurrency` requests in
 * flight, then removals. A proxy without model storage (STORE_MODEL_IN_DB off) stops the kind
 * with ModelStorageOffError (exit 4, src/proxy/errors.ts) naming both fixes; what was done before is in the report.
 */
import { NULL_CLEARS_MODEL_PARAM_SINCE, olderThan } from '../../proxy/versions-known.ts';
import { masterCallError } from '../../proxy/as-master.ts';
import type { ProxyClient } from '../../proxy/client.ts';
import { ModelIdTakenError, ModelStorageOffError, RouteRefusedError } from '../../proxy/errors.ts';
import { retrying } from '../../proxy/wait.ts';
import type { Logger } from '../../log/log.ts';
import { firstFailure, settleAll } from '../../batch.ts';
import { describeModelStep, type ModelStep } from './plan.ts';
import { desiredModelInfo, modelId } from './spec.ts';

export interface ModelApplyContext {
  client: ProxyClient;
  log: Logger;
  deadline: number;
  dbReported: boolean;
  concurrency: number;
}

export interface ModelReport {
  registered: string[];
  updatedModels: string[];
  removed: string[];
}

const nameOf = (step: ModelStep) => (step.kind === 'model-remove' ? step.name : step.spec.name);

export class ModelApplier {
  readonly report: ModelReport = { registered: [], updatedModels: [], removed: [] };

  constructor(private readonly ctx: ModelApplyContext) {}

  /**
   * One model request with the master key, transient failures retried. `routeMissing`: a proxy
   * without that route (RouteRefusedError: 405, or FastAPI's plain 404) gives false instead of failing.
   */
  private async call(what: string, fn: () => Promise<void>, opts: { routeMissing?: boolean } = {}): Promise<boolean> {
    try {
      await retrying(what, fn, this.ctx);
      return true;
    } catch (err) {
      const refusal = masterCallError(what, err);
      if (opts.routeMissing && refusal instanceof RouteRefusedError) return false;
      throw refusal;
    }
  }

  private async register(step: Extract<ModelStep, { kind: 'model-register' | 'model-update' }>): Promise<void> {
    const { spec } = step;
    try {
      await this.call(`registering model ${JSON.stringify(spec.name)}`, () => this.ctx.client.addModel({ model_name: spec.name, litellm_params: spec.params, model_info: desiredModelInfo(spec) }));
    } catch (err) {
      // Our deterministic id is taken: another run registered it meanwhile (its next look compares the params).
      if (!(err instanceof ModelIdTakenError)) throw err;
      this.ctx.log.info({ model: spec.name, id: modelId(spec.name) }, `model ${JSON.stringify(spec.name)} was registered by another run meanwhile`);
    }
  }

  /** Whether the proxy clears a model parameter sent as null (its version tells; unknown: no). */
  private async nullClears(): Promise<boolean> {
    const version = await this.ctx.client.litellmVersion();
    return version !== undefined && !olderThan(version, ...NULL_CLEARS_MODEL_PARAM_SINCE);
  }

  private async run(step: ModelStep): Promise<void> {
    const { client } = this.ctx;
    switch (step.kind) {
      case 'model-register':
        await this.register(step);
        this.report.registered.push(step.spec.name);
        return;
      case 'model-update': {
        // PATCH merges model_info too (the marker's hash follows); without that route, or to drop a
        // parameter (a merge cannot), the model is deleted and registered again.
        // A dropped parameter: newer LiteLLM clears it with an explicit null (PR #40047), keeping the id.
        const clears = step.replace && (await this.nullClears());
        const cleared = clears ? Object.fromEntries((step.dropped ?? []).map((k) => [k, null])) : {};
        const body = { litellm_params: { ...step.spec.params, ...cleared }, model_info: desiredModelInfo(step.spec) };
        const patched = (!step.replace || clears) && (await this.call(`updating model ${JSON.stringify(step.spec.name)}`, () => client.patchModel(step.id, body), { routeMissing: true }));
        if (!patched) {
          await this.call(`removing model ${JSON.stringify(step.spec.name)}`, () => client.deleteModel(step.id));
          await this.register(step);
        }
        this.report.updatedModels.push(step.spec.name);
        return;
      }
      case 'model-remove':
        await this.call(`removing model ${JSON.stringify(step.name)}`, () => client.deleteModel(step.id));
        this.report.removed.push(step.name);
    }
  }

  async apply(steps: ModelStep[]): Promise<ModelReport> {
    for (const step of steps) this.ctx.log.info({ step: step.kind }, describeModelStep(step));
    const writes: ModelStep[] = steps.filter((s) => s.kind !== 'model-remove');
    const removals = steps.filter((s) => s.kind === 'model-remove');
    for (const batch of [writes, removals]) {
      const results = await settleAll(batch, this.ctx.concurrency, (step) => this.run(step));
      const failure = firstFailure(results);
      if (failure instanceof ModelStorageOffError) {
        const done = new Set([...this.report.registered, ...this.report.updatedModels, ...this.report.removed]);
        throw failure.naming(steps.map(nameOf).filter((n) => !done.has(n)));
      }
      if (failure !== undefined) throw failure;
    }
    return this.report;
  }
}
