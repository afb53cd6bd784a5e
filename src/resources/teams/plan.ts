/**
 * Decide the team steps (pure, no I/O): the declared teams against the proxy's teams.
 *
 * Whose a team is: a team whose metadata names this installation (`bootstrap_installation`) is
 * ours; any other (made by hand in LiteLLM's UI, or by another installation) is never changed nor
 * removed. A declared alias held only by teams not ours is refused (exit 2, naming the keys-file
 * line) unless `--take-over-alias`, which adopts the one such team (marks it ours and reconciles
 * it in place, same team_id, its keys kept). A team of ours whose alias is no longer declared (the
 * `teams:` section written, even empty) is removed, in the kind's prune: after the keys moved out
 * of it or were pruned, and only once it holds no key (LiteLLM's /team/delete deletes a team's keys).
 */
import { ConfigError } from '../../errors.ts';
import type { ProxyTeam, TeamRequest } from '../../proxy/client.ts';
import { installationOf, ownershipOf, type Installation } from '../../store/installation.ts';
import { declaredFields, TEAM_ALIAS_MARK, TEAM_FIELDS_MARK, teamIdFor, teamMetadata, type TeamSpec } from './spec.ts';

export type TeamStep =
  | { kind: 'team-create'; spec: TeamSpec; teamId: string; body: TeamRequest }
  | { kind: 'team-update'; spec: TeamSpec; teamId: string; fields: string[]; body: TeamRequest; adopt: string | undefined }
  | { kind: 'team-remove'; alias: string; teamId: string };

export interface TeamPlanInput {
  declared: readonly TeamSpec[];
  /** What /team/list lists. */
  proxy: readonly ProxyTeam[];
  installation: Pick<Installation, 'id' | 'takeOver'>;
  /** The `teams:` section is written: teams of ours it does not declare are removed. */
  prune: boolean;
}

export interface TeamPlan {
  steps: TeamStep[];
  notes: string[];
  /** alias → team_id: every declared team (planned ones included), and every other team whose alias only it carries. */
  resolved: Map<string, string>;
  /** team_ids this plan removes. */
  removes: Set<string>;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && new Set([...a, ...b]).size === new Set(a).size;
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What the proxy's team has of each field, by LiteLLM's names. */
function current(team: ProxyTeam): Record<string, unknown> {
  return { models: team.models, max_budget: team.maxBudget, budget_duration: team.budgetDuration, tpm_limit: team.tpmLimit, rpm_limit: team.rpmLimit, max_parallel_requests: team.maxParallelRequests };
}

/** The /team/update that brings `team` to `spec` (only what differs), or undefined when it is right. */
export function teamChanges(spec: TeamSpec, team: ProxyTeam, installation: string): { fields: string[]; body: TeamRequest } | undefined {
  const body: TeamRequest = { team_id: team.teamId };
  const fields: string[] = [];
  if (team.alias !== spec.alias) {
    body.team_alias = spec.alias;
    fields.push('alias');
  }
  const wanted = declaredFields(spec);
  const now = current(team);
  for (const [field, value] of Object.entries(wanted)) {
    const same = Array.isArray(value) ? sameSet(value as string[], (now[field] as string[]) ?? []) : now[field] === value;
    if (!same) {
      Object.assign(body, { [field]: value });
      fields.push(field);
    }
  }
  // A field the file declared before and no longer does is cleared (models: [] is every model, as a new team's).
  const before = Array.isArray(team.metadata[TEAM_FIELDS_MARK]) ? (team.metadata[TEAM_FIELDS_MARK] as unknown[]).map(String) : [];
  for (const field of before) {
    if (field in wanted || !(field in now)) continue;
    const cleared = field === 'models' ? [] : null;
    if (sameJson(now[field], cleared)) continue;
    Object.assign(body, { [field]: cleared });
    fields.push(`${field} (removed)`);
  }
  const marks = teamMetadata(spec, installation);
  if (Object.entries(marks).some(([k, v]) => !sameJson(team.metadata[k], v))) {
    // /team/update replaces metadata whole: what others put there is kept.
    body.metadata = { ...team.metadata, ...marks };
    fields.push('metadata');
  }
  return fields.length === 0 ? undefined : { fields, body };
}

function createBody(spec: TeamSpec, teamId: string, installation: string): TeamRequest {
  return { team_id: teamId, team_alias: spec.alias, ...declaredFields(spec), metadata: teamMetadata(spec, installation) } as TeamRequest;
}

/** Exit 2: the alias is held by teams this installation did not create. */
export function teamAliasHeldElsewhere(spec: TeamSpec, holders: readonly ProxyTeam[], takeOver: boolean): ConfigError {
  const others = [...new Set(holders.map((t) => installationOf(t.metadata)))];
  const whose = others.every((o) => o !== undefined)
    ? `another installation of the bootstrap (${others.join(', ')})`
    : `a team this installation did not create (made by hand, or by another stack; team_id ${holders.map((t) => t.teamId).join(', ')})`;
  return new ConfigError(`${spec.source}: team alias ${JSON.stringify(spec.alias)} is held by ${whose}; this run does not change it`, {
    hint:
      takeOver && holders.length > 1
        ? `${holders.length} teams carry that alias: give this team an alias of its own, or remove the others`
        : `give the team at ${spec.source} an alias of this stack's own; or, to make that team this installation's (it is updated in place, keeping its team_id and keys, and removed when no longer declared), run once with --take-over-alias`,
  });
}

export function planTeams(input: TeamPlanInput): TeamPlan {
  const { id: installation, takeOver } = input.installation;
  const steps: TeamStep[] = [];
  const notes: string[] = [];
  const resolved = new Map<string, string>();
  const removes = new Set<string>();
  const ours = input.proxy.filter((t) => ownershipOf(t.metadata, installation, false) === 'ours');
  const others = input.proxy.filter((t) => !ours.includes(t));
  const kept = new Set<ProxyTeam>();
  for (const spec of input.declared) {
    const id = teamIdFor(installation, spec.alias);
    const mine = ours.filter((t) => t.metadata[TEAM_ALIAS_MARK] === spec.alias);
    const team = mine.find((t) => t.teamId === id) ?? mine[0];
    if (team) {
      kept.add(team);
      resolved.set(spec.alias, team.teamId);
      const change = teamChanges(spec, team, installation);
      if (change) steps.push({ kind: 'team-update', spec, teamId: team.teamId, ...change, adopt: undefined });
      continue;
    }
    const holders = others.filter((t) => t.alias === spec.alias);
    if (holders.length > 0) {
      if (!takeOver || holders.length > 1) throw teamAliasHeldElsewhere(spec, holders, takeOver);
      const held = holders[0]!;
      kept.add(held);
      resolved.set(spec.alias, held.teamId);
      const change = teamChanges(spec, held, installation)!;
      steps.push({ kind: 'team-update', spec, teamId: held.teamId, ...change, adopt: installationOf(held.metadata) ?? 'nobody we know (made by hand?)' });
      continue;
    }
    resolved.set(spec.alias, id);
    steps.push({ kind: 'team-create', spec, teamId: id, body: createBody(spec, id, installation) });
  }
  if (input.prune) {
    for (const team of ours) {
      if (kept.has(team)) continue;
      removes.add(team.teamId);
      steps.push({ kind: 'team-remove', alias: String(team.metadata[TEAM_ALIAS_MARK] ?? team.alias ?? team.teamId), teamId: team.teamId });
    }
  }
  // Teams the file does not declare: a key may join one by its alias when only that team carries it.
  const byAlias = Map.groupBy(
    input.proxy.filter((t) => t.alias !== null && !removes.has(t.teamId)),
    (t) => t.alias!,
  );
  for (const [alias, teams] of byAlias) if (!resolved.has(alias) && teams.length === 1) resolved.set(alias, teams[0]!.teamId);
  return { steps, notes, resolved, removes };
}

/** One secret-free line per step. */
export function describeTeamStep(step: TeamStep): string {
  switch (step.kind) {
    case 'team-create':
      return `create team ${JSON.stringify(step.spec.alias)} (${step.spec.source}; team_id ${step.teamId})`;
    case 'team-update':
      return step.adopt
        ? `take over team ${JSON.stringify(step.spec.alias)} (team_id ${step.teamId}, made by ${step.adopt}; --take-over-alias): mark it as this installation's and set ${step.fields.join(', ')} (same team_id, its keys kept)`
        : `update team ${JSON.stringify(step.spec.alias)}: ${step.fields.join(', ')} (same team_id ${step.teamId}, its keys kept)`;
    case 'team-remove':
      return `remove team ${JSON.stringify(step.alias)} (created by this installation, no longer declared; team_id ${step.teamId}) once it holds no key`;
  }
}
