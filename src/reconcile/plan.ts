/**
 * Decide: from what was observed, the steps that bring files and proxy to the desired state:
 * one plan over every resource kind (src/resources/: keys), plus the proxy's env file mirrored
 * from `.env`. Pure (no I/O), so a plan can be printed (--dry-run), checked (--check) and
 * unit-tested. An empty plan means everything is in place.
 */
import { mirrorContent } from '../store/mirror.ts';
import type { EnvFileState } from '../store/env-files.ts';
import type { KeySpec } from '../config/key-spec.ts';
import type { KeyObservation } from '../resources/keys/observe.ts';
import { describeKeyStep, movedValues, planKeys, type KeyStep } from '../resources/keys/plan.ts';

export type MirrorStep = { kind: 'mirror'; path: string; content: string; names: string[] };

export type Step = KeyStep | MirrorStep;

export interface Plan {
  steps: Step[];
  /** Warnings the user should read; they change nothing. */
  notes: string[];
  /** Aliases whose key is already right. */
  reused: string[];
}

export interface PlanInput {
  keys: KeyObservation[];
  /** The main .env and the proxy's env file mirrored from it; absent in Secret mode (nothing is mirrored). */
  mainEnv: EnvFileState | undefined;
  litellmEnv: { path: string; content: string | null; mode: number | null } | undefined;
  rotate: (spec: KeySpec) => boolean;
}

export function plan(input: PlanInput): Plan {
  const keys = planKeys(input);
  const steps: Step[] = [...keys.steps];
  // The proxy's env file mirrors the main .env as it will be after the steps above (not in Secret mode:
  // there the proxy's provider keys come from a Secret its Deployment loads).
  if (input.mainEnv !== undefined && input.litellmEnv !== undefined) {
    const mirror = mirrorContent({ ...input.mainEnv.doc.values(), ...movedValues(keys.steps) });
    if (mirror.content !== input.litellmEnv.content || input.litellmEnv.mode !== 0o600) {
      steps.push({ kind: 'mirror', path: input.litellmEnv.path, content: mirror.content, names: mirror.names });
    }
  }
  return { steps, notes: keys.notes, reused: keys.reused };
}

/** One secret-free line per step, for logs, --dry-run and --check. */
export function describeStep(step: Step): string {
  if (step.kind === 'mirror') return `write ${step.path} (${step.names.length} provider secret(s): ${step.names.join(', ') || 'none'})`;
  return describeKeyStep(step);
}
