/**
 * Deciding without I/O: given what was observed (files, proxy), the plan says
 * what a run would do. These are the decisions behind every scenario.
 */
import { describe, expect, it } from 'vitest';
import { EnvDocument } from '../../src/store/env-file.ts';
import { describeMirrorStep, planMirror, type MirrorStep } from '../../src/resources/env-file/kind.ts';
import { describeKeyStep, movedValues, planKeys, type KeyPlanInput, type KeyStep } from '../../src/resources/keys/plan.ts';
import { mirrorContent } from '../../src/resources/env-file/mirror.ts';
import type { KeyObservation, KeyState } from '../../src/resources/keys/observe.ts';
import type { EnvFileState } from '../../src/store/env-files.ts';
import type { KeyInfo } from '../../src/proxy/client.ts';
import type { KeySpec } from '../../src/resources/keys/spec.ts';

/** The keys kind's plan, then the env-file kind's over `.env` as the key steps leave it (the order of the run's pipeline). */
type PlanInput = KeyPlanInput & { mainEnv: EnvFileState; litellmEnv: { path: string; content: string | null; mode: number | null } };
type Step = KeyStep | MirrorStep;
function plan(i: PlanInput): { steps: Step[]; notes: string[]; reused: string[] } {
  const keys = planKeys(i);
  return { ...keys, steps: [...keys.steps, ...planMirror({ ...i.mainEnv.doc.values(), ...movedValues(keys.steps) }, i.litellmEnv)] };
}
const describeStep = (step: Step) => (step.kind === 'mirror' ? describeMirrorStep(step) : describeKeyStep(step));

const spec: KeySpec = {
  alias: 'task-agent default',
  env: 'OPENAI_API_KEY',
  file: '/env/.env',
  models: ['gpt-4o-mini', 'gpt-4o'],
  userId: 'task-agent',
  duration: undefined,
  maxBudget: undefined,
  budgetDuration: undefined,
  keyType: 'default',
  teamId: undefined,
  tpmLimit: undefined,
  rpmLimit: undefined,
  maxParallelRequests: undefined,
  renewBefore: undefined,
  rotationInterval: undefined,
  metadata: {},
  source: 'test',
  aliasSource: 'LITELLM_DEFAULT_KEY_ALIAS',
};
const ours = { provisioned_by: 'llm-proxy-bootstrap', bootstrap_alias: 'task-agent default' };
const info = (over: Partial<KeyInfo> = {}): KeyInfo => ({
  alias: 'task-agent default',
  models: ['gpt-4o', 'gpt-4o-mini'],
  userId: 'task-agent',
  metadata: ours,
  expires: null,
  blocked: false,
  maxBudget: null,
  budgetDuration: null,
  token: 'tok-current',
  ...over,
});

function envFile(text: string): EnvFileState {
  return { path: '/env/.env', doc: EnvDocument.parse(text, '/env/.env'), uid: 1000, gid: 1000, mode: 0o644 };
}

function input(state: KeyState, opts: { text?: string; value?: string; issuedByUs?: boolean; holders?: KeyInfo[]; leftovers?: KeyInfo[]; rotate?: boolean; mirror?: string | null; mirrorMode?: number } = {}): PlanInput {
  const text = opts.text ?? `LITELLM_MASTER_KEY=sk-m\nLITELLM_OPENAI_API_KEY=\nOPENAI_API_KEY=${opts.value ?? 'sk-proxy-default'}\n`;
  const file = envFile(text);
  const obs: KeyObservation = {
    spec,
    file: { path: file.path, raw: file.doc.get(spec.env), lines: file.doc.assignments(spec.env).map((a) => a.line), backupPath: '/env/.env.bootstrap-backup' },
    value: state.kind === 'absent' ? undefined : (opts.value ?? 'sk-abcdefghijklmnopqrstuv'),
    line: 3,
    shadowedLines: [],
    state,
    issuedByUs: opts.issuedByUs ?? false,
    aliasHolders: opts.holders ?? [],
    rotationLeftovers: opts.leftovers ?? [],
  };
  const mirror = opts.mirror === undefined ? mirrorContent(file.doc.values()).content : opts.mirror;
  return {
    keys: [obs],
    mainEnv: file,
    litellmEnv: { path: '/env/.env.litellm', content: mirror, mode: mirror === null ? null : (opts.mirrorMode ?? 0o600) },
    rotate: () => opts.rotate ?? false,
  };
}

const valid = (i: KeyInfo = info()): KeyState => ({ kind: 'valid', token: 'tok-current', info: i, overBudget: false });

describe('plan', () => {
  it('a key that is valid, ours and scoped right: nothing to do', () => {
    const p = plan(input(valid()));
    expect(p.steps).toEqual([]);
    expect(p.reused).toEqual(['task-agent default']);
  });

  it('no key yet: issue one, after removing orphans that hold the alias', () => {
    const p = plan(input({ kind: 'absent' }, { holders: [info({ token: 'tok-orphan' })] }));
    expect(p.steps).toMatchObject([{ kind: 'issue', reason: 'no key yet', deleteFirst: ['tok-orphan'], preserve: undefined }]);
  });

  it('the defaults changed: update the models of the same key, nothing else', () => {
    const p = plan(input(valid(info({ models: ['gpt-4o-mini'] }))));
    expect(p.steps).toMatchObject([{ kind: 'update', token: 'tok-current', fields: ['models'], changes: { models: ['gpt-4o-mini', 'gpt-4o'] } }]);
  });

  it('an update names the key by its raw value (LiteLLM then clears its cache), by its hash only when the raw key is unknown', () => {
    const byRaw = plan(input(valid(info({ models: ['gpt-4o-mini'] })), { value: 'sk-RAWrawRAWrawRAWrawRAW1' }));
    expect(byRaw.steps).toMatchObject([{ kind: 'update', key: 'sk-RAWrawRAWrawRAWrawRAW1', token: 'tok-current' }]);
    expect(describeStep(byRaw.steps[0]!)).not.toContain('sk-RAW');
    const unknownRaw = input(valid(info({ models: ['gpt-4o-mini'] })));
    unknownRaw.keys[0]!.value = undefined;
    expect(plan(unknownRaw).steps).toMatchObject([{ kind: 'update', key: 'tok-current' }]);
  });

  it('update keeps metadata others added (the proxy replaces metadata whole)', () => {
    const p = plan(input(valid(info({ metadata: { team: 'x' } }))));
    expect(p.steps).toMatchObject([{ kind: 'update', fields: ['metadata'], changes: { metadata: { team: 'x', ...ours } } }]);
  });

  it("a working key with another alias is the user's choice", () => {
    const p = plan(input(valid(info({ alias: 'mine', metadata: {} }))));
    expect(p.steps).toEqual([]);
    expect(p.notes.join()).toMatch(/alias "mine", not "task-agent default": left as it is/);
  });

  it('an interrupted rotation is finished: the old key goes, the new one (unaliased, marked) takes the alias and loses the mark', () => {
    const marked = info({ alias: null, metadata: { ...ours, bootstrap_rotation: 'pending since 2026-11-30T08:00:00.000Z' } });
    const p = plan(input(valid(marked), { holders: [info({ token: 'tok-old' })] }));
    expect(p.steps).toEqual([
      expect.objectContaining({ kind: 'update', fields: ['alias', 'metadata'], changes: { key_alias: 'task-agent default', metadata: ours }, deleteFirst: ['tok-old'] }),
    ]);
  });

  it("a key of ours left without alias (its alias was refused) takes the configured alias; someone else's unaliased key is left alone", () => {
    const unnamed = info({ alias: null, metadata: { provisioned_by: 'llm-proxy-bootstrap', bootstrap_alias: 'old alias' } });
    expect(plan(input(valid(unnamed), { issuedByUs: true })).steps).toMatchObject([
      { kind: 'update', fields: ['alias', 'metadata'], changes: { key_alias: 'task-agent default', metadata: ours } },
    ]);
    const p = plan(input(valid(unnamed), { issuedByUs: false }));
    expect(p.steps).toEqual([]);
    expect(p.notes.join()).toMatch(/left as it is/);
  });

  it('a rotation interrupted by an older version (alias "<alias> (rotating)") is finished the same way', () => {
    const p = plan(input(valid(info({ alias: 'task-agent default (rotating)' })), { holders: [info({ token: 'tok-old' })] }));
    expect(p.steps).toMatchObject([{ kind: 'update', fields: ['alias'], changes: { key_alias: 'task-agent default' }, deleteFirst: ['tok-old'] }]);
  });

  it('an expired key of ours is deleted and replaced', () => {
    const p = plan(input({ kind: 'dead', token: 'tok-current', why: 'expired', info: info() }));
    expect(p.steps).toMatchObject([{ kind: 'issue', reason: 'expired', deleteFirst: ['tok-current'], preserve: undefined }]);
  });

  it('a key the proxy lost (wiped) but the ledger knows: replaced, nothing preserved', () => {
    const p = plan(input({ kind: 'unknown', token: 't' }, { issuedByUs: true }));
    expect(p.steps).toMatchObject([{ kind: 'issue', reason: 'unknown to the proxy', preserve: undefined }]);
  });

  it("a value the proxy never issued moves to LITELLM_OPENAI_API_KEY, and from there into the proxy's env file", () => {
    const upstream = 'sk-proj-a-real-upstream-key-0123456789';
    const p = plan(input({ kind: 'unknown', token: 't' }, { value: upstream }));
    expect(p.steps[0]).toMatchObject({ kind: 'issue', reason: 'not a key of this proxy', preserve: { to: 'env', name: 'LITELLM_OPENAI_API_KEY', value: upstream } });
    expect(p.steps[1]).toMatchObject({ kind: 'mirror', names: ['OPENAI_API_KEY'] });
    expect(p.steps[1]!.kind === 'mirror' && p.steps[1]!.content).toContain(`OPENAI_API_KEY=${upstream}\n`);
    for (const step of p.steps) expect(describeStep(step)).not.toContain(upstream);
  });

  it('a dead key shaped like a LiteLLM key (another proxy?) is backed up, not promoted to an upstream secret', () => {
    const p = plan(input({ kind: 'unknown', token: 't' }, { value: 'sk-abcdefghijklmnopqrstuv' }));
    expect(p.steps[0]).toMatchObject({ kind: 'issue', preserve: { to: 'backup', path: '/env/.env.bootstrap-backup', name: 'OPENAI_API_KEY' } });
  });

  it('--rotate: a rotate step that first clears leftovers of an interrupted rotation', () => {
    const p = plan(input(valid(), { rotate: true, leftovers: [info({ token: 'tok-left', alias: null, metadata: { ...ours, bootstrap_rotation: 'pending' } })] }));
    expect(p.steps).toMatchObject([{ kind: 'rotate', oldToken: 'tok-current', deleteFirst: ['tok-left'] }]);
  });

  it("the proxy's env file is rewritten when its content or mode is wrong, and only then", () => {
    expect(plan(input(valid(), { mirror: null })).steps).toMatchObject([{ kind: 'mirror' }]);
    expect(plan(input(valid(), { mirrorMode: 0o644 })).steps).toMatchObject([{ kind: 'mirror' }]);
    expect(plan(input(valid(), { mirror: '# edited by hand\n' })).steps).toMatchObject([{ kind: 'mirror' }]);
  });
});

describe('plan: the key life', () => {
  const NOW = Date.parse('2026-12-02T10:00:00Z');
  const at = (p: PlanInput, more: Partial<PlanInput> = {}): PlanInput => ({ ...p, now: NOW, renewalGrace: '1h', ...more });
  const renewing = (over: Partial<KeySpec> = {}) => ({ ...spec, renewBefore: '7d', ...over });
  const withSpec = (p: PlanInput, s: KeySpec): PlanInput => ({ ...p, keys: p.keys.map((o) => ({ ...o, spec: s })) });

  it('a key whose reported expiry is inside renew_before is renewed with the grace; outside it, reused', () => {
    const inside = withSpec(input(valid(info({ expires: '2026-12-05T00:00:00Z' }))), renewing());
    const p = plan(at(inside));
    expect(p.steps).toMatchObject([{ kind: 'rotate', reason: 'renewal', oldToken: 'tok-current', grace: '1h', expires: '2026-12-05T00:00:00Z' }]);
    expect(describeStep(p.steps[0]!)).toMatch(/^renew key "task-agent default" \(it expires 2026-12-05T00:00:00Z, within renew_before 7d\)/);
    const outside = withSpec(input(valid(info({ expires: '2026-12-20T00:00:00Z' }))), renewing());
    expect(plan(at(outside)).steps).toEqual([]);
    // No expiry, or no window: never renewed early.
    expect(plan(at(withSpec(input(valid()), renewing()))).steps).toEqual([]);
    expect(plan(at(input(valid(info({ expires: '2026-12-03T00:00:00Z' })))))).toMatchObject({ steps: [] });
  });

  it('a key the proxy issued already inside its window (1.77 rounding) is not renewed: the same key gets its exact duration, one step naming both settings and the expiry', () => {
    const rounded = info({ createdAt: '2026-12-02T09:40:00Z', expires: '2026-12-02T11:00:00Z' });
    const s = { ...spec, source: 'the LITELLM_DEFAULT_* settings', duration: '3h', renewBefore: '2h' };
    const p = plan(at(withSpec(input(valid(rounded)), s)));
    expect(p.steps).toMatchObject([{ kind: 'update', token: 'tok-current', changes: { duration: '3h' } }]);
    expect(describeStep(p.steps[0]!)).toBe(
      'update key "task-agent default": expiry (the proxy chose 2026-12-02T11:00:00Z, within LITELLM_DEFAULT_KEY_RENEW_BEFORE 2h of the key\'s issue, so a renewal would not move it later; the key is kept and gets its exact LITELLM_DEFAULT_KEY_DURATION 3h)',
    );
    // Issued long before and now inside its window: an ordinary renewal.
    const lived = info({ createdAt: '2026-12-02T07:30:00Z', expires: '2026-12-02T11:00:00Z' });
    expect(plan(at(withSpec(input(valid(lived)), s))).steps).toMatchObject([{ kind: 'rotate', reason: 'renewal' }]);
    // Without a duration to set, a renewal it is.
    expect(plan(at(withSpec(input(valid(rounded)), { ...s, duration: undefined }))).steps).toMatchObject([{ kind: 'rotate', reason: 'renewal' }]);
  });

  it('--rotate revokes at once unless --grace was given; the old key is named by its raw value', () => {
    const p = plan(at(input(valid(), { rotate: true, value: 'sk-abcdefghijklmnopqrstuv' })));
    expect(p.steps).toMatchObject([{ kind: 'rotate', reason: 'asked', grace: undefined, oldKey: 'sk-abcdefghijklmnopqrstuv' }]);
    expect(describeStep(p.steps[0]!)).not.toContain('sk-abcdefghijklmnopqrstuv');
    expect(plan(at(input(valid(), { rotate: true }), { rotationGrace: '10m' })).steps).toMatchObject([{ kind: 'rotate', grace: '10m' }]);
  });

  it('the proxy rotated our key: the stored key is unknown, the alias holder of ours shows a rotation → one repair step and one note', () => {
    const rotated = info({ token: 'tok-rotated', rotation: { autoRotate: true, count: 2, lastAt: '2026-12-01T00:00:00Z', nextAt: null } });
    const p = plan(at(input({ kind: 'unknown', token: 'tok-old' }, { issuedByUs: true, holders: [rotated, info({ token: 'tok-orphan', metadata: {} })] })));
    expect(p.steps).toMatchObject([{ kind: 'rotate', reason: 'repair', oldToken: 'tok-rotated', grace: undefined, deleteFirst: ['tok-orphan'] }]);
    expect(p.notes).toEqual([expect.stringMatching(/^key "task-agent default" was rotated by the proxy \(auto_rotate, rotation 2 at 2026-12-01T00:00:00Z\)/)]);
    // A holder without any sign of rotation is an orphan, as before.
    const plain = plan(at(input({ kind: 'unknown', token: 'tok-old' }, { issuedByUs: true, holders: [info({ token: 'tok-x' })] })));
    expect(plain.steps).toMatchObject([{ kind: 'issue', reason: 'unknown to the proxy', deleteFirst: ['tok-x'] }]);
  });

  it('retired keys past their grace are purged, those in it and one a store holds again are not', () => {
    const retired = [
      { token: 'tok-due', alias: 'task-agent default', until: '2026-12-02T09:00:00Z' },
      { token: 'tok-grace', alias: 'task-agent default', until: '2026-12-02T11:00:00Z' },
      { token: 'tok-current', alias: 'task-agent default', until: '2026-12-02T09:00:00Z' },
    ];
    const p = plan(at(input(valid()), { retired }));
    expect(p.steps).toEqual([{ kind: 'purge', retired: [retired[0]] }]);
    expect(describeStep(p.steps[0]!)).toBe('delete 1 retired key(s) past their grace period ("task-agent default")');
  });

  it('key_type is compared through allowed_routes; the other attributes only when the spec sets them; never a null', () => {
    const s: KeySpec = { ...spec, keyType: 'llm_api', teamId: 'analytics', tpmLimit: 1000, rpmLimit: undefined };
    const drifted = plan(at(withSpec(input(valid(info({ allowedRoutes: [], teamId: 'analytics', tpmLimit: 5, rpmLimit: 7 }))), s)));
    expect(drifted.steps).toMatchObject([{ kind: 'update', changes: { allowed_routes: ['llm_api_routes'], tpm_limit: 1000 }, fields: ['tpm_limit', 'key_type (llm_api)'] }]);
    // Another team: reissued there (LiteLLM's /key/update moves a key into a team only for a member of it:
    // validate_key_team_change), the old key revoked once the new one is written.
    const moved = plan(at(withSpec(input(valid(info({ allowedRoutes: ['llm_api_routes'], teamId: null, tpmLimit: 1000 }))), s)));
    expect(moved.steps).toMatchObject([{ kind: 'rotate', reason: 'team', grace: undefined }]);
    expect(describeStep(moved.steps[0]!)).toMatch(/^move key "task-agent default" into team analytics: a new key issued there/);
    const changes = (drifted.steps[0] as { changes: Record<string, unknown> }).changes;
    expect(Object.values(changes)).not.toContain(null);
    expect('rpm_limit' in changes).toBe(false);
    // An answer without allowed_routes (older proxies) is not compared; in place is nothing to do.
    expect(plan(at(withSpec(input(valid(info({ teamId: 'analytics', tpmLimit: 1000 }))), s))).steps).toEqual([]);
    expect(plan(at(withSpec(input(valid(info({ allowedRoutes: ['llm_api_routes'], teamId: 'analytics', tpmLimit: 1000 }))), s))).steps).toEqual([]);
  });

  it('auto_rotate found on is turned off unless the spec asks for proxy-side rotation', () => {
    const on = info({ rotation: { autoRotate: true, count: 0, lastAt: null, nextAt: null } });
    expect(plan(at(input(valid(on)))).steps).toMatchObject([{ kind: 'update', changes: { auto_rotate: false }, fields: ['auto_rotate'] }]);
    expect(plan(at(withSpec(input(valid(on)), { ...spec, rotationInterval: '30d' }))).steps).toEqual([]);
  });

  it('an interrupted renewal (new key in the file, marked with its grace): the old holder is retired, not deleted', () => {
    const fresh = info({ alias: null, token: 'tok-current', metadata: { ...ours, bootstrap_rotation: 'pending', bootstrap_grace: '1h' } });
    const old = info({ token: 'tok-old', metadata: { ...ours, team: 'x' } });
    const p = plan(at(input(valid(fresh), { issuedByUs: true, holders: [old] })));
    expect(p.steps).toMatchObject([{ kind: 'update', changes: { key_alias: 'task-agent default', metadata: ours }, deleteFirst: [], retireFirst: [{ token: 'tok-old', key: 'tok-old', grace: '1h', metadata: { ...ours, team: 'x' } }] }]);
    // Without the grace mark (a plain --rotate): deleted, as before.
    const plainFresh = info({ alias: null, token: 'tok-current', metadata: { ...ours, bootstrap_rotation: 'pending' } });
    expect(plan(at(input(valid(plainFresh), { issuedByUs: true, holders: [old] }))).steps).toMatchObject([{ kind: 'update', deleteFirst: ['tok-old'], retireFirst: [] }]);
  });

  it('a retired key back in the file (a restored backup) is not renamed into the alias', () => {
    const back = info({ alias: null, metadata: { ...ours, bootstrap_retired_until: '2026-12-02T11:00:00Z' } });
    const p = plan(at(input(valid(back), { issuedByUs: true })));
    expect(p.steps).toEqual([]);
    expect(p.notes.join('\n')).toMatch(/holds a key a renewal retired \(it works until 2026-12-02T11:00:00Z\): left as it is/);
  });
});

describe('ownership and pruning', () => {
  const staging = { ...ours, bootstrap_installation: 'env-staging' };

  it('an alias held by another installation\'s key: no step, exit 2 naming LITELLM_DEFAULT_KEY_ALIAS and the remedies', () => {
    const i = input({ kind: 'absent' });
    i.keys[0]!.foreignHolders = [info({ token: 'tok-staging', metadata: staging })];
    expect(() => plan(i)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/^LITELLM_DEFAULT_KEY_ALIAS "task-agent default" is held by another installation of the bootstrap \(env-staging/), hint: expect.stringMatching(/--take-over-alias/) }));
  });

  it('a working key in the store that names another installation is left alone, with a warning', () => {
    const i = input(valid(info({ metadata: staging, models: ['gpt-4o-mini'] })));
    i.keys[0]!.foreign = 'env-staging';
    const p = plan(i);
    expect(p.steps.filter((s) => s.kind !== 'mirror')).toEqual([]);
    expect(p.notes.join('\n')).toMatch(/issued by another installation \(env-staging\): left as it is/);
  });

  it('keys recorded under an alias no longer declared: ours deleted, one now another installation\'s only forgotten, one gone only forgotten', () => {
    const i = input(valid());
    const entry = (token: string, alias: string) => ({ token, alias, env: 'MEMORY_API_KEY', file: '/env/.env' });
    i.dropped = [
      { entry: entry('tok-memory', 'memory service'), info: info({ alias: 'memory service', token: 'tok-memory' }), foreign: undefined },
      { entry: entry('tok-memory-old', 'memory service'), info: undefined, foreign: undefined },
      { entry: entry('tok-crawler', 'crawler'), info: info({ alias: 'crawler', token: 'tok-crawler', metadata: staging }), foreign: 'env-staging' },
    ];
    const p = plan(i);
    const prunes = p.steps.filter((s) => s.kind === 'prune');
    expect(prunes).toEqual([
      { kind: 'prune', alias: 'memory service', delete: ['tok-memory'], forget: [i.dropped[0]!.entry, i.dropped[1]!.entry], variables: ['MEMORY_API_KEY'] },
      { kind: 'prune', alias: 'crawler', delete: [], forget: [i.dropped[2]!.entry], variables: ['MEMORY_API_KEY'] },
    ]);
    expect(describeStep(prunes[0]!)).toBe('retire key "memory service" (no longer declared): delete 1 key(s) from the proxy, revoked at once; empty MEMORY_API_KEY if it still holds it');
    expect(p.notes.join('\n')).toMatch(/"crawler" is no longer declared, but the proxy's key now belongs to another installation \(env-staging\)/);
  });
});

describe('lifetime: a new key the proxy cut short of its duration', () => {
  it('is one whose expiry after its issue is shorter than the duration (more than 1%, at most a minute, off); months are not judged', async () => {
    const { lifeShortened } = await import('../../src/resources/keys/lifetime.ts');
    const created = '2026-12-04T16:17:00Z';
    expect(lifeShortened({ duration: '3h' }, { expires: '2026-12-04T18:00:00Z', createdAt: created }, 0)).toBe(true);
    expect(lifeShortened({ duration: '3h' }, { expires: '2026-12-04T19:17:00.004Z', createdAt: created }, 0)).toBe(false);
    expect(lifeShortened({ duration: '3h' }, { expires: '2026-12-04T19:16:30Z', createdAt: created }, 0)).toBe(false);
    expect(lifeShortened({ duration: '1mo' }, { expires: '2026-12-05T00:00:00Z', createdAt: created }, 0)).toBe(false);
    expect(lifeShortened({ duration: undefined }, { expires: '2026-12-04T18:00:00Z', createdAt: created }, 0)).toBe(false);
    // Without created_at in the answer, the time of issue is the proxy's clock.
    expect(lifeShortened({ duration: '3h' }, { expires: '2026-12-04T18:00:00Z' }, Date.parse(created))).toBe(true);
  });
});
