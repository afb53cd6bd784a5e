/** The team plan (pure): what a run does to the proxy's teams, from the file and what it lists. */
import { describe, expect, it } from 'vitest';
import type { ProxyTeam } from '../../../src/proxy/client.ts';
import { resolveTeams, type KeySpec } from '../../../src/resources/keys/spec.ts';
import { planTeams } from '../../../src/resources/teams/plan.ts';
import { teamIdFor, teamMetadata, type TeamSpec } from '../../../src/resources/teams/spec.ts';

const ME = { id: 'env-me', takeOver: false };
const spec = (alias: string, over: Partial<TeamSpec> = {}): TeamSpec => ({
  alias,
  models: ['openai/gpt-4o-mini'],
  maxBudget: 25,
  budgetDuration: undefined,
  tpmLimit: undefined,
  rpmLimit: undefined,
  maxParallelRequests: undefined,
  metadata: {},
  source: `keys.yaml line ${alias.length}`,
  ...over,
});
const team = (over: Partial<ProxyTeam> & { teamId: string }): ProxyTeam => ({
  alias: null,
  metadata: {},
  models: [],
  maxBudget: null,
  budgetDuration: null,
  tpmLimit: null,
  rpmLimit: null,
  maxParallelRequests: null,
  ...over,
});
/** A team this installation created for `s`, as the proxy lists it. */
const ours = (s: TeamSpec, over: Partial<ProxyTeam> = {}) =>
  team({ teamId: teamIdFor(ME.id, s.alias), alias: s.alias, models: s.models ?? [], maxBudget: s.maxBudget ?? null, metadata: teamMetadata(s, ME.id), ...over });

describe('planTeams', () => {
  it('creates a declared team with a team_id of its own, known to the keys before it exists', () => {
    const s = spec('research');
    const plan = planTeams({ declared: [s], proxy: [], installation: ME, prune: true });
    expect(plan.steps).toEqual([expect.objectContaining({ kind: 'team-create', teamId: teamIdFor('env-me', 'research') })]);
    expect(plan.steps[0]).toMatchObject({ body: { team_alias: 'research', models: ['openai/gpt-4o-mini'], max_budget: 25, metadata: { provisioned_by: 'llm-proxy-bootstrap', bootstrap_installation: 'env-me', bootstrap_alias: 'research' } } });
    expect(plan.resolved.get('research')).toBe(teamIdFor('env-me', 'research'));
    // Another installation's id for the same alias differs.
    expect(teamIdFor('env-other', 'research')).not.toBe(teamIdFor('env-me', 'research'));
  });

  it('a team of ours as declared: no step; a changed field: one update of that field, same team_id', () => {
    const s = spec('research');
    expect(planTeams({ declared: [s], proxy: [ours(s)], installation: ME, prune: true }).steps).toEqual([]);
    const plan = planTeams({ declared: [spec('research', { maxBudget: 40 })], proxy: [ours(s)], installation: ME, prune: true });
    expect(plan.steps).toEqual([expect.objectContaining({ kind: 'team-update', teamId: ours(s).teamId, fields: ['max_budget'] })]);
    expect(plan.steps[0]).toMatchObject({ body: { team_id: ours(s).teamId, max_budget: 40 } });
  });

  it('a field dropped from the file is cleared (null; models: [] as a new team has)', () => {
    const s = spec('research', { tpmLimit: 500 });
    const plan = planTeams({ declared: [spec('research', { models: undefined })], proxy: [ours(s, { tpmLimit: 500 })], installation: ME, prune: true });
    expect(plan.steps[0]).toMatchObject({ kind: 'team-update', body: { tpm_limit: null, models: [] } });
  });

  it('a team of ours no longer declared is removed only when the section is written; never one not ours', () => {
    const gone = ours(spec('old'));
    const handMade = team({ teamId: 'by-hand', alias: 'old' });
    const foreign = team({ teamId: 'theirs', alias: 'x', metadata: { bootstrap_installation: 'env-other', provisioned_by: 'llm-proxy-bootstrap' } });
    const plan = planTeams({ declared: [], proxy: [gone, handMade, foreign], installation: ME, prune: true });
    expect(plan.steps).toEqual([{ kind: 'team-remove', alias: 'old', teamId: gone.teamId }]);
    expect(plan.removes).toEqual(new Set([gone.teamId]));
    expect(planTeams({ declared: [], proxy: [gone], installation: ME, prune: false }).steps).toEqual([]);
  });

  it('an alias held by a team not ours is exit 2 naming the line; --take-over-alias adopts the one such team in place', () => {
    const handMade = team({ teamId: 'by-hand', alias: 'research', maxBudget: 5 });
    expect(() => planTeams({ declared: [spec('research')], proxy: [handMade], installation: ME, prune: true })).toThrow(/keys\.yaml line 8: team alias "research" is held by a team this installation did not create/);
    const foreign = team({ teamId: 'theirs', alias: 'research', metadata: { bootstrap_installation: 'env-other' } });
    expect(() => planTeams({ declared: [spec('research')], proxy: [foreign], installation: ME, prune: true })).toThrow(/another installation of the bootstrap \(env-other\)/);
    const taken = planTeams({ declared: [spec('research')], proxy: [handMade], installation: { ...ME, takeOver: true }, prune: true });
    expect(taken.steps).toEqual([expect.objectContaining({ kind: 'team-update', teamId: 'by-hand', adopt: 'nobody we know (made by hand?)' })]);
    expect(taken.resolved.get('research')).toBe('by-hand');
    expect(() => planTeams({ declared: [spec('research')], proxy: [handMade, { ...handMade, teamId: 'two' }], installation: { ...ME, takeOver: true }, prune: true })).toThrow(/held by/);
  });

  it('resolves undeclared teams a key may join by alias: only an alias one team carries, never a team being removed', () => {
    const plan = planTeams({
      declared: [],
      proxy: [team({ teamId: 'a', alias: 'solo' }), team({ teamId: 'b', alias: 'twice' }), team({ teamId: 'c', alias: 'twice' }), ours(spec('old'))],
      installation: ME,
      prune: true,
    });
    expect([...plan.resolved]).toEqual([['solo', 'a']]);
  });
});

describe('resolveTeams (the keys plan reading the teams plan)', () => {
  const key = (team: string | undefined) => ({ alias: 'k', source: 'keys.yaml line 9', team, teamSource: 'keys.yaml line 11', teamId: undefined }) as unknown as KeySpec;
  it('gives a key its team_id, or exit 2 naming the team: line', () => {
    const k = key('research');
    resolveTeams([k], { resolved: new Map([['research', 'tid']]) });
    expect(k.teamId).toBe('tid');
    expect(() => resolveTeams([key('nowhere')], { resolved: new Map() })).toThrow(/keys\.yaml line 11: key "k" joins team "nowhere", which is neither declared/);
    const none = key(undefined);
    resolveTeams([none], undefined);
    expect(none.teamId).toBeUndefined();
  });
});
