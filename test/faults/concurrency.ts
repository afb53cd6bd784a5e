/**
 * Concurrency: 8 runs at once, 20 rounds, starting from the placeholder (with
 * and without an orphan key holding the alias) and from a valid key (plain
 * runs mixed with --rotate). After every round: every run exited 0, exactly
 * one key carries the alias, `.env` holds it and it works, nothing but the
 * key's line changed, no temp file or lock is left.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALIAS, changedLines, Lab, rng, TEMP_FILE, TEMPLATE } from './support.ts';

export const concurrencyStats = { rounds: 0, runs: 0, generatesInPlaceholderRounds: [] as number[], violations: [] as string[] };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const PARALLEL = 8;
const ROUNDS = 20;

export function concurrency(): void {
  describe('concurrency', () => {
    it(`${PARALLEL} runs at once × ${ROUNDS} rounds: always one key with the alias and a working key in .env`, { timeout: 150_000 }, async () => {
      const lab = await Lab.open({ name: 'concurrency', env: { LITELLM_PROXY_WAIT_SECONDS: '5' } });
      const fail = (round: number, what: string) => concurrencyStats.violations.push(`[round ${round}] ${what}`);
      try {
        for (let round = 0; round < ROUNDS; round++) {
          const r = rng(7000 + round);
          const fromPlaceholder = round % 2 === 0;
          if (fromPlaceholder) {
            // Every other placeholder round keeps the previous key on the proxy: an orphan holding the alias.
            if (round % 4 === 0) lab.proxy.wipe();
            await lab.write(TEMPLATE);
          }
          const before = await lab.text();
          // Small random delays on the routes where runs race.
          lab.proxy.clearFaults();
          for (const p of ['/key/generate', '/key/info', '/key/list', '/key/delete']) lab.proxy.setDelay(r.int(0, 15), { path: p });
          lab.proxy.resetRequests();
          const rotating = fromPlaceholder ? new Set<number>() : new Set([r.int(0, PARALLEL - 1), r.int(0, PARALLEL - 1)]);
          const results = await Promise.all(
            Array.from({ length: PARALLEL }, (_, i) => lab.run('concurrency', rotating.has(i) ? ['--rotate'] : [], {}, { timeoutMs: 60_000 })),
          );
          lab.proxy.clearFaults();
          concurrencyStats.rounds++;
          concurrencyStats.runs += results.length;
          results.forEach((res, i) => {
            if (res.code !== 0) fail(round, `run ${i}${rotating.has(i) ? ' (--rotate)' : ''} exited ${res.code ?? res.signal}: ${res.last}`);
          });
          const key = await lab.agentKey();
          const holders = lab.keysWithAlias(ALIAS);
          if (holders.length !== 1) fail(round, `${holders.length} keys carry the alias`);
          else if (holders[0]!.token !== sha256(key ?? '')) fail(round, 'the key holding the alias is not the one in .env');
          if (lab.rotationLeftovers().length && rotating.size) fail(round, 'a rotation leftover (unaliased, marked key) is left after rotations that all exited 0');
          if (!(await lab.works(key))) fail(round, 'the key in .env does not work');
          const changed = changedLines(before, await lab.text()).filter((n) => n !== 'OPENAI_API_KEY');
          if (changed.length) fail(round, `lines other than the key's changed: ${changed.join(', ')}`);
          const debris = (await lab.names()).filter((n) => TEMP_FILE.test(n) || n.includes('.lock'));
          if (debris.length) fail(round, `left behind: ${debris.join(', ')}`);
          if (fromPlaceholder) concurrencyStats.generatesInPlaceholderRounds.push(lab.proxy.requestCount({ path: '/key/generate' }));
        }
      } finally {
        await lab.close();
      }
      console.log(JSON.stringify(concurrencyStats));
      expect(concurrencyStats.violations).toEqual([]);
      // Runs from the placeholder take the lock before looking: exactly one of them issues the key.
      expect(concurrencyStats.generatesInPlaceholderRounds.every((n) => n === 1)).toBe(true);
    });
  });
}
