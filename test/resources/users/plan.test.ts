/** The user plan (pure): what a run does to the proxy's users, from the file and what it lists. */
import { describe, expect, it } from 'vitest';
import type { ProxyUser } from '../../../src/proxy/client.ts';
import { planUsers } from '../../../src/resources/users/plan.ts';
import { userMetadata, type UserSpec } from '../../../src/resources/users/spec.ts';

const ME = { id: 'env-me', takeOver: false };
const spec = (userId: string, over: Partial<UserSpec> = {}): UserSpec => ({ userId, models: undefined, maxBudget: 10, budgetDuration: '30d', tpmLimit: undefined, rpmLimit: undefined, metadata: {}, source: 'keys.yaml line 2', ...over });
const user = (userId: string, over: Partial<ProxyUser> = {}): ProxyUser => ({ userId, metadata: {}, models: [], maxBudget: null, budgetDuration: null, tpmLimit: null, rpmLimit: null, ...over });
const ours = (s: UserSpec, over: Partial<ProxyUser> = {}) => user(s.userId, { maxBudget: s.maxBudget ?? null, budgetDuration: s.budgetDuration ?? null, metadata: userMetadata(s, ME.id), ...over });

describe('planUsers', () => {
  it('creates a declared user, marked as this installation\'s', () => {
    const plan = planUsers({ declared: [spec('alice')], proxy: [], installation: ME, prune: true });
    expect(plan.steps).toEqual([expect.objectContaining({ kind: 'user-create', body: { user_id: 'alice', max_budget: 10, budget_duration: '30d', metadata: { provisioned_by: 'llm-proxy-bootstrap', bootstrap_installation: 'env-me' } } })]);
  });

  it('a user of ours as declared: nothing; changed: an update of that field', () => {
    const s = spec('alice');
    expect(planUsers({ declared: [s], proxy: [ours(s)], installation: ME, prune: true }).steps).toEqual([]);
    const plan = planUsers({ declared: [spec('alice', { maxBudget: 12, tpmLimit: 100 })], proxy: [ours(s)], installation: ME, prune: true });
    expect(plan.steps).toEqual([expect.objectContaining({ kind: 'user-update', fields: ['max_budget', 'tpm_limit'], body: { user_id: 'alice', max_budget: 12, tpm_limit: 100 } })]);
  });

  it('removes only users of ours no longer declared; a user not ours holding a declared user_id is exit 2 unless taken over', () => {
    const plan = planUsers({ declared: [], proxy: [ours(spec('alice')), user('bob'), user('carol', { metadata: { bootstrap_installation: 'env-other' } })], installation: ME, prune: true });
    expect(plan.steps).toEqual([{ kind: 'user-remove', userId: 'alice' }]);
    expect(() => planUsers({ declared: [spec('bob')], proxy: [user('bob')], installation: ME, prune: true })).toThrow(/keys\.yaml line 2: user_id "bob" is a user of a user this installation did not create/);
    const taken = planUsers({ declared: [spec('bob')], proxy: [user('bob')], installation: { ...ME, takeOver: true }, prune: true });
    expect(taken.steps).toEqual([expect.objectContaining({ kind: 'user-update', adopt: 'nobody we know (made by hand?)' })]);
  });
});
