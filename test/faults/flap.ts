/**
 * A flapping proxy: readiness toggling, 30 % random 503s, connection resets,
 * answers delayed up to (and past) the request timeout. Every run either
 * converges (exit 0: one key with the alias, a working key in `.env`, nothing
 * else changed) or gives up with exit 3/4 leaving `.env` byte-identical.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALIAS, changedLines, Lab, MODELS_A, MODELS_B, rng, TEMP_FILE } from './support.ts';

type FlapScenario = 'first run' | 're-run' | 'model change' | 'rotate' | 'expired key' | 'short wait';

export interface FlapStats {
  cases: number;
  runs: number;
  exits: Record<string, number>;
  /** Runs a case needed until one exited 0. */
  runsToConverge: number[];
  /** --rotate runs that exited 3/4 after .env already held the new (working) key. */
  rotationsGaveUpAfterWritingEnv: string[];
  violations: string[];
}
export const flapStats: FlapStats = { cases: 0, runs: 0, exits: {}, runsToConverge: [], rotationsGaveUpAfterWritingEnv: [], violations: [] };

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const REQUEST_TIMEOUT_S = 1;

async function flapCase(scenario: FlapScenario, seed: number): Promise<void> {
  const r = rng(seed);
  const lab = await Lab.open({ name: `flap-${seed}`, env: { LITELLM_REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_S) } });
  const where = `[flap seed ${seed} ${scenario}]`;
  const fail = (what: string) => flapStats.violations.push(`${where} ${what}`);
  try {
    let models = MODELS_A;
    let args: string[] = [];
    let waitSeconds = String(r.int(2, 4));
    if (scenario !== 'first run' && scenario !== 'short wait') {
      const first = await lab.run('flap', [], { LITELLM_DEFAULT_MODELS: models });
      if (first.code !== 0) throw new Error(`${where} setup run failed: ${first.last}`);
    }
    if (scenario === 'model change') models = MODELS_B;
    if (scenario === 'rotate') args = ['--rotate'];
    if (scenario === 'expired key') lab.proxy.expireKey((await lab.agentKey())!);
    if (scenario === 'short wait') waitSeconds = '0.5';
    flapStats.cases++;

    const flap = {
      seed,
      errorRate: 0.3,
      resetRate: r.pick([0.05, 0.1, 0.15]),
      maxDelayMs: Math.round(REQUEST_TIMEOUT_S * 1000 * r.pick([0.5, 1, 1.2])),
      readinessToggleMs: r.pick([300, 700, 1500]),
    };
    let converged = false;
    const originalKey = await lab.agentKey();
    for (let attempt = 1; attempt <= 2 && !converged; attempt++) {
      const before = await lab.read();
      lab.proxy.flap({ ...flap, seed: seed * 10 + attempt });
      const res = await lab.run('flap', args, { LITELLM_DEFAULT_MODELS: models, LITELLM_PROXY_WAIT_SECONDS: waitSeconds }, { timeoutMs: 90_000 });
      lab.proxy.clearFaults();
      flapStats.runs++;
      const exit = res.signal ? `killed (${res.signal}: hung)` : String(res.code);
      flapStats.exits[exit] = (flapStats.exits[exit] ?? 0) + 1;
      const after = await lab.read();
      if (res.code === 0) {
        converged = true;
        flapStats.runsToConverge.push(attempt);
        const changed = changedLines(before.toString('utf8'), after.toString('utf8')).filter((n) => n !== 'OPENAI_API_KEY');
        if (changed.length) fail(`exit 0 but lines other than the key's changed: ${changed.join(', ')}`);
        const key = await lab.agentKey();
        if (!(await lab.works(key))) fail('exit 0 but the key in .env does not work');
        const holders = lab.keysWithAlias(ALIAS);
        if (holders.length !== 1) fail(`exit 0 but ${holders.length} keys carry the alias`);
        else if (holders[0]!.token !== sha256(key ?? '')) fail('exit 0 but the key holding the alias is not the one in .env');
        if (scenario === 'rotate' && key === originalKey) fail('--rotate exited 0 without a new key');
        if (scenario === 'model change' && holders[0]?.models.join(',') !== models) fail('exit 0 but the models were not updated');
      } else if (res.code === 3 || res.code === 4) {
        if (!after.equals(before)) {
          const key = await lab.agentKey();
          const works = await lab.works(key);
          const onlyKey = changedLines(before.toString('utf8'), after.toString('utf8')).every((n) => n === 'OPENAI_API_KEY');
          const message = `exit ${res.code} ("${res.last.slice(0, 160)}") but .env changed (only the key's line: ${onlyKey}; the key in it ${works ? 'works' : 'does not work'})`;
          // A rotation that wrote the new key and then could not revoke/rename: the key in .env works and the
          // next run finishes the rotation. Counted apart (see docs/reliability.md), anything else is a violation.
          if (scenario === 'rotate' && onlyKey && works && /renaming the new key|deleting stale keys/.test(res.last)) flapStats.rotationsGaveUpAfterWritingEnv.push(`${where} ${message}`);
          else fail(message);
        }
      } else {
        fail(`exit ${exit}: ${res.last.slice(0, 200)}`);
      }
      waitSeconds = String(r.int(2, 4));
    }
    // Whatever happened, a run against a healthy proxy converges and leaves no debris.
    const calm = await lab.run('flap', [], { LITELLM_DEFAULT_MODELS: models });
    if (calm.code !== 0) fail(`the run after the flapping stopped exited ${calm.code}: ${calm.last}`);
    if (lab.keysWithAlias(ALIAS).length !== 1) fail(`after the flapping stopped ${lab.keysWithAlias(ALIAS).length} keys carry the alias`);
    if (!(await lab.works(await lab.agentKey()))) fail('after the flapping stopped the key in .env does not work');
    const temps = (await lab.names()).filter((n) => TEMP_FILE.test(n));
    if (temps.length) fail(`temp files left: ${temps.join(', ')}`);
  } finally {
    await lab.close();
  }
}

export function flappingProxy(): void {
  describe('a flapping proxy', () => {
    it('converges or exits 3/4 with .env byte-identical, under 503s, resets, slow answers and readiness flips', { timeout: 180_000 }, async () => {
      const scenarios: FlapScenario[] = ['first run', 're-run', 'model change', 'rotate', 'expired key', 'short wait'];
      const cases = scenarios.flatMap((s, i) => [0, 1, 2].map((k) => ({ scenario: s, seed: 500 + i * 10 + k })));
      // Mostly waiting on the network: all cases at once.
      await Promise.all(cases.map((c) => flapCase(c.scenario, c.seed)));
      console.log(JSON.stringify(flapStats, null, 2));
      expect(flapStats.violations).toEqual([]);
      expect(flapStats.cases).toBe(cases.length);
    });

    it('a --rotate whose last step is refused after .env got the new key: exit 4, the key in .env works, the next run finishes the rotation', async () => {
      // The one exit 3/4 that comes with a changed .env, by design: the new key is written before the old one is
      // revoked and the new one renamed, so when those fail the file already holds the new, working key.
      const lab = await Lab.open({ name: 'flap-rotate-refused' });
      try {
        expect((await lab.run('flap')).code).toBe(0);
        const before = await lab.text();
        const old = await lab.agentKey();
        lab.proxy.failNext(1, { status: 400, path: '/key/update', body: { error: { message: 'stand-in: refused', type: 'bad_request_error', code: '400' } } });
        const res = await lab.run('flap', ['--rotate']);
        expect(res.code, res.last).toBe(4);
        expect(res.last).toMatch(/renaming the new key/);
        const key = await lab.agentKey();
        expect(key).not.toBe(old);
        expect(changedLines(before, await lab.text())).toEqual(['OPENAI_API_KEY']);
        expect(await lab.works(key)).toBe(true);
        expect(await lab.works(old)).toBe(false);
        const next = await lab.run('flap');
        expect(next.code, next.last).toBe(0);
        expect(await lab.agentKey()).toBe(key);
        expect(lab.keysWithAlias(ALIAS).map((k) => k.token)).toEqual([sha256(key!)]);
        expect(lab.proxy.keys()).toHaveLength(1);
      } finally {
        await lab.close();
      }
    });
  });
}
