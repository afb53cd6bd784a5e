/**
 * Decide: from what was observed, the steps that bring files and proxy to the desired state:
 * one plan over every resource kind (src/resources/: keys, models), plus the proxy's env file mirrored
 * from `.env`. Pure (no I/O), so a plan can be printed (--dry-run), checked (--check) and
 * unit-tested. An empty plan means everything is in place.
 */
import { changedVariables, mirrorContent } from '../store/mirror.ts';
import type { EnvFileState } from '../store/env-files.ts';
import type { KeySpec } from '../config/key-spec.ts';
import type { KeyObservation } from '../resources/keys/observe.ts';
import { describeKeyStep, movedValues, planKeys, type KeyPlanInput, type KeyStep } from '../resources/keys/plan.ts';
import { describeModelStep, planModels, type ModelPlanInput, type ModelStep, type Unserved } from '../resources/models/plan.ts';

export type MirrorStep = {
  kind: 'mirror';
  path: string;
  content: string;
  /** Provider secrets written (`<PROVIDER>_API_KEY`). */
  names: string[];
  /** Provider settings and passed-through variables written (`AZURE_API_BASE`, `AWS_REGION_NAME`, ...). */
  settings: string[];
  /** Variables whose value differs from the file as it is (names only, for --dry-run/--check). */
  changed: string[];
};

export type Step = KeyStep | ModelStep | MirrorStep;

export interface Plan {
  steps: Step[];
  /** Warnings the user should read; they change nothing. */
  notes: string[];
  /** Aliases whose key is already right. */
  reused: string[];
  /** Keys' models the proxy does not serve and the run cannot register: a warning, and drift for --check. */
  unserved: Unserved[];
}

export interface PlanInput extends KeyPlanInput {
  keys: KeyObservation[];
  /** The main .env and the proxy's env file mirrored from it; absent in Secret mode (nothing is mirrored). */
  mainEnv: EnvFileState | undefined;
  litellmEnv: { path: string; content: string | null; mode: number | null } | undefined;
  rotate: (spec: KeySpec) => boolean;
  /** The models kind's input; absent: no models are planned. */
  models?: ModelPlanInput | undefined;
}

export const isModelStep = (step: Step): step is ModelStep => step.kind === 'model-register' || step.kind === 'model-update' || step.kind === 'model-remove';

export function plan(input: PlanInput): Plan {
  const keys = planKeys(input);
  const models = input.models ? planModels(input.models) : { steps: [], notes: [], unserved: [] };
  // Keys first, then models (applied in that order too: see apply.ts).
  const steps: Step[] = [...keys.steps, ...models.steps];
  // The proxy's env file mirrors the main .env as it will be after the steps above (not in Secret mode:
  // there the proxy's provider keys come from a Secret its Deployment loads).
  if (input.mainEnv !== undefined && input.litellmEnv !== undefined) {
    const mirror = mirrorContent({ ...input.mainEnv.doc.values(), ...movedValues(keys.steps) });
    if (mirror.content !== input.litellmEnv.content || input.litellmEnv.mode !== 0o600) {
      steps.push({ kind: 'mirror', path: input.litellmEnv.path, content: mirror.content, names: mirror.names, settings: mirror.settings, changed: changedVariables(input.litellmEnv.content, mirror.content) });
    }
  }
  return { steps, notes: [...keys.notes, ...models.notes], reused: keys.reused, unserved: models.unserved };
}

/** One secret-free line per step, for logs, --dry-run and --check. */
export function describeStep(step: Step): string {
  if (step.kind === 'mirror') {
    const settings = step.settings.length ? `; provider settings: ${step.settings.join(', ')}` : '';
    // Named with their file: OPENAI_API_KEY here is the proxy's upstream key, not the agent's key of .env.
    return `write ${step.path}, the proxy's env file (${step.names.length} provider secret(s): ${step.names.join(', ') || 'none'}${settings}${step.changed.length ? `; changed in it: ${step.changed.join(', ')}` : ''})`;
  }
  if (isModelStep(step)) return describeModelStep(step);
  return describeKeyStep(step);
}
