/**
 * The users kind: LiteLLM internal users declared in the keys file's `users:` section (a budget,
 * limits and models per person or service; a key's `user_id` joins one), their schema, and the
 * marks that make a proxy user this installation's (in its metadata, as keys and teams carry them).
 */
import * as z from 'zod';
import { durationSchema } from '../../config/duration.ts';
import { ownerMarks } from '../../store/installation.ts';
import type { SpecSection } from '../kind.ts';

export interface UserSpec {
  userId: string;
  /** Declared fields only (undefined: not enforced). */
  models: string[] | undefined;
  maxBudget: number | undefined;
  budgetDuration: string | undefined;
  tpmLimit: number | undefined;
  rpmLimit: number | undefined;
  metadata: Record<string, unknown>;
  /** `keys.yaml line 9`, for messages. */
  source: string;
}

/** The fields a spec declares, by LiteLLM's names. */
export function declaredUserFields(spec: UserSpec): Record<string, unknown> {
  const all: Record<string, unknown> = { models: spec.models, max_budget: spec.maxBudget, budget_duration: spec.budgetDuration, tpm_limit: spec.tpmLimit, rpm_limit: spec.rpmLimit };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

/** The metadata of a user of ours: what the file declares, and the marks. */
export function userMetadata(spec: UserSpec, installation: string): Record<string, unknown> {
  return { ...spec.metadata, ...ownerMarks(installation) };
}

const limit = () => z.number().int({ error: 'must be a whole number' }).gte(0, { error: 'must be 0 or more' }).optional();

const userEntrySchema = z.strictObject({
  user_id: z.string().trim().min(1, { error: 'must not be empty' }).max(200, { error: 'must be at most 200 characters' }),
  // user_update skips an empty list (it cannot mean "every model" there): at least one, or none written.
  models: z.array(z.string().trim().min(1)).min(1, { error: 'must list at least one model (leave it out for every model)' }).optional(),
  max_budget: z.number().gte(0, { error: 'must be 0 or more' }).optional(),
  budget_duration: durationSchema('budget reset').optional(),
  tpm_limit: limit(),
  rpm_limit: limit(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type UserEntry = z.output<typeof userEntrySchema>;

/** `users:` of the keys file. Absent: users are not looked at; `users: []`: every user of ours is removed. */
export const usersSection: SpecSection<UserSpec, UserEntry> = {
  name: 'users',
  schema: z.array(userEntrySchema).optional(),
  absentUnlessWritten: true,
  specs(entries, { file, problems }) {
    const seen = new Map<string, number>();
    const specs: UserSpec[] = [];
    for (const { value: e, line } of entries) {
      const before = seen.get(e.user_id);
      if (before !== undefined) problems.push(`line ${line}: user_id ${JSON.stringify(e.user_id)} is already declared at line ${before}`);
      seen.set(e.user_id, line);
      specs.push({
        userId: e.user_id,
        models: e.models === undefined ? undefined : [...new Set(e.models)],
        maxBudget: e.max_budget,
        budgetDuration: e.budget_duration,
        tpmLimit: e.tpm_limit,
        rpmLimit: e.rpm_limit,
        metadata: e.metadata ?? {},
        source: `${file} line ${line}`,
      });
    }
    return specs;
  },
};
