/**
 * The teams kind: what a team the run must converge to is (the keys file's `teams:` section), its
 * schema, its team_id and the marks that make a proxy team this installation's. A team is named by
 * its alias (LiteLLM's `team_alias`, which LiteLLM does not keep unique); its team_id is chosen by
 * the bootstrap (deterministic per installation and alias), so keys can be planned into a team not
 * created yet, and a retried or racing /team/new fails instead of making a second team.
 */
import * as z from 'zod';
import { durationSchema } from '../../config/duration.ts';
import { sha256 } from '../../store/ledger.ts';
import { ownerMarks } from '../../store/installation.ts';
import type { SpecSection } from '../kind.ts';

export interface TeamSpec {
  alias: string;
  /** Declared fields only (undefined: not enforced; a field declared before and dropped since is cleared). */
  models: string[] | undefined;
  maxBudget: number | undefined;
  budgetDuration: string | undefined;
  tpmLimit: number | undefined;
  rpmLimit: number | undefined;
  maxParallelRequests: number | undefined;
  metadata: Record<string, unknown>;
  /** `keys.yaml line 3`, for messages. */
  source: string;
}

/** The metadata field naming the alias a team was created for (its team_alias may be renamed by hand). */
export const TEAM_ALIAS_MARK = 'bootstrap_alias';
/** The metadata field listing the fields the file declared when the team was last written (a field dropped since is cleared). */
export const TEAM_FIELDS_MARK = 'bootstrap_fields';

export const TEAM_ID_PREFIX = 'llm-proxy-bootstrap-team-';

/** The team_id of a team this installation creates for `alias`. */
export function teamIdFor(installation: string, alias: string): string {
  return `${TEAM_ID_PREFIX}${sha256(`${installation}\0${alias}`).slice(0, 24)}`;
}

/** The fields a spec declares, by LiteLLM's names. */
export function declaredFields(spec: TeamSpec): Record<string, unknown> {
  const all: Record<string, unknown> = {
    models: spec.models,
    max_budget: spec.maxBudget,
    budget_duration: spec.budgetDuration,
    tpm_limit: spec.tpmLimit,
    rpm_limit: spec.rpmLimit,
    max_parallel_requests: spec.maxParallelRequests,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

/** The metadata of a team of ours: what the file declares, and the marks. */
export function teamMetadata(spec: TeamSpec, installation: string): Record<string, unknown> {
  return { ...spec.metadata, ...ownerMarks(installation), [TEAM_ALIAS_MARK]: spec.alias, [TEAM_FIELDS_MARK]: Object.keys(declaredFields(spec)).sort() };
}

const limit = () => z.number().int({ error: 'must be a whole number' }).gte(0, { error: 'must be 0 or more' }).optional();

const teamEntrySchema = z.strictObject({
  alias: z.string().trim().min(1, { error: 'must not be empty' }).max(200, { error: 'must be at most 200 characters' }),
  models: z.array(z.string().trim().min(1)).optional(),
  max_budget: z.number().gte(0, { error: 'must be 0 or more' }).optional(),
  budget_duration: durationSchema('budget reset').optional(),
  tpm_limit: limit(),
  rpm_limit: limit(),
  max_parallel_requests: limit(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type TeamEntry = z.output<typeof teamEntrySchema>;

/** `teams:` of the keys file. Absent: teams are not looked at (unless a key joins one); `teams: []`: every team of ours is removed. */
export const teamsSection: SpecSection<TeamSpec, TeamEntry> = {
  name: 'teams',
  schema: z.array(teamEntrySchema).optional(),
  absentUnlessWritten: true,
  specs(entries, { file, problems }) {
    const seen = new Map<string, number>();
    const specs: TeamSpec[] = [];
    for (const { value: e, line } of entries) {
      const before = seen.get(e.alias);
      if (before !== undefined) problems.push(`line ${line}: team alias ${JSON.stringify(e.alias)} is already declared at line ${before}`);
      seen.set(e.alias, line);
      specs.push({
        alias: e.alias,
        models: e.models === undefined ? undefined : [...new Set(e.models)],
        maxBudget: e.max_budget,
        budgetDuration: e.budget_duration,
        tpmLimit: e.tpm_limit,
        rpmLimit: e.rpm_limit,
        maxParallelRequests: e.max_parallel_requests,
        metadata: e.metadata ?? {},
        source: `${file} line ${line}`,
      });
    }
    return specs;
  },
};
