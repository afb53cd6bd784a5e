/**
 * Crash safety of pruning (keys dropped from the keys file): the CLI is SIGKILLed while it deletes
 * the dropped keys, empties their variables and forgets them in the ledger. At the instant of each
 * kill every key still declared is in its variable and works, and so does a key made by hand; the
 * next run converges: the dropped keys are gone from the proxy, their variables empty, the ledger
 * forgets them, and `--check` is clean.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as dotenvParse } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { ALIAS, journal, Lab, MASTER, MODELS_A, rng, sleep, TEMPLATE, until } from './support.ts';

const KEYS = [
  { alias: ALIAS, env: 'OPENAI_API_KEY' },
  { alias: 'memory service', env: 'MEMORY_API_KEY' },
  { alias: 'crawler', env: 'CRAWLER_API_KEY' },
];
const yaml = (keys: typeof KEYS) => `keys:\n${keys.map((k) => `  - alias: ${k.alias}\n    env: ${k.env}\n`).join('')}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const SETTINGS = { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml', LITELLM_DEFAULT_MODELS: MODELS_A };

type Trigger = { kind: 'seen' | 'answered'; path: string; ms: number } | { kind: 'temp'; target: string } | { kind: 'after'; ms: number };

export const pruneStats = { kills: 0, finishedBeforeTheKill: 0, converged: 0, violations: [] as string[] };

async function pruneCase(lab: Lab, seed: number): Promise<void> {
  const r = rng(seed);
  const where = `[prune seed ${seed}]`;
  const fail = (what: string) => pruneStats.violations.push(`${where} ${what}`);
  await lab.reset(TEMPLATE);
  await writeFile(path.join(lab.dir, 'keys.yaml'), yaml(KEYS));
  const first = await lab.run('prune', [], SETTINGS);
  if (first.code !== 0) throw new Error(`${where} converging run failed: ${first.last}`);
  // A key made by hand (LiteLLM's UI): never touched.
  const res = await fetch(`${lab.proxy.url}/key/generate`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ key_alias: 'ci bot' }) });
  const handMade = ((await res.json()) as { key: string }).key;
  journal.secrets.add(handMade);
  // Drop one or both of the keys-file keys (the agent's key stays declared).
  const dropped = r.next() < 0.5 ? [KEYS[1]!] : [KEYS[1]!, KEYS[2]!];
  const kept = KEYS.filter((k) => !dropped.includes(k));
  await writeFile(path.join(lab.dir, 'keys.yaml'), yaml(kept));
  const before = dotenvParse(Buffer.from(await lab.text()));
  for (const v of Object.values(before)) if (v.startsWith('sk-') && v.length === 25) journal.secrets.add(v);

  const trigger: Trigger = r.pick<Trigger>([
    { kind: 'seen', path: '/key/delete', ms: r.int(20, 100) },
    { kind: 'answered', path: '/key/delete', ms: r.int(0, 15) },
    { kind: 'answered', path: '/key/info', ms: r.int(0, 15) },
    { kind: 'temp', target: '.env' },
    { kind: 'temp', target: '.llm-proxy-bootstrap.json' },
    { kind: 'after', ms: r.int(0, 150) },
  ]);
  lab.proxy.clearFaults();
  lab.proxy.resetRequests();
  if (trigger.kind === 'seen') lab.proxy.setDelay(trigger.ms, { path: trigger.path });
  const watcher = trigger.kind === 'temp' ? lab.watchTemps(trigger.target) : undefined;
  const running = lab.spawn('prune', [], SETTINGS);
  const kill = async () => {
    if (trigger.kind === 'temp') await watcher!.appeared;
    else if (trigger.kind === 'after') await sleep(trigger.ms);
    else {
      const { path: route, kind, ms } = trigger;
      await until(() => lab.proxy.requests.some((q) => q.path === route && (kind === 'seen' || q.status !== 0)), 8000);
      await sleep(kind === 'answered' ? ms : 0);
    }
    await running.kill();
  };
  const result = await Promise.race([kill().then(() => running.exited), running.exited]);
  watcher?.close();
  await running.kill();
  if (result.signal === 'SIGKILL') pruneStats.kills++;
  else pruneStats.finishedBeforeTheKill++;
  lab.proxy.clearFaults();

  // ---- the instant of the kill: nothing declared is lost, the hand-made key works --------------
  const check = async (when: string) => {
    const now = dotenvParse(Buffer.from(await lab.text()));
    for (const k of kept) {
      if (now[k.env] !== before[k.env]) fail(`${when}: ${k.env} (still declared) changed`);
      if (!(await lab.works(now[k.env]))) fail(`${when}: ${k.env} (still declared) no longer works`);
    }
    for (const [name, value] of Object.entries(before)) {
      if (!dropped.some((d) => d.env === name) && now[name] !== value) fail(`${when}: ${name} changed`);
    }
    if (!(await lab.works(handMade))) fail(`${when}: the hand-made key no longer works`);
    return now;
  };
  await check('at the kill');

  // ---- the next run converges ---------------------------------------------------------------------
  const next = await lab.run('prune', [], SETTINGS);
  if (next.code !== 0) {
    fail(`the next run exited ${next.code}: ${next.last}`);
    return;
  }
  const now = await check('after the next run');
  for (const d of dropped) {
    if (now[d.env] !== '') fail(`after the next run ${d.env} (dropped) is ${now[d.env] === undefined ? 'gone' : 'not empty'}`);
    if (before[d.env] && (await lab.works(before[d.env]))) fail(`after the next run the dropped key ${JSON.stringify(d.alias)} still works`);
    if (lab.keysWithAlias(d.alias).length > 0) fail(`after the next run a key still holds the dropped alias ${JSON.stringify(d.alias)}`);
  }
  const ledger = JSON.parse(await readFile(lab.ledgerPath, 'utf8')) as { issued: { sha256: string; alias: string }[] };
  if (ledger.issued.some((e) => dropped.some((d) => d.alias === e.alias))) fail('after the next run the ledger still records a dropped key');
  if (!ledger.issued.some((e) => e.sha256 === sha256(now.OPENAI_API_KEY ?? ''))) fail('after the next run the ledger lost the agent\'s key');
  const clean = await lab.run('prune', ['--check'], SETTINGS);
  if (clean.code !== 0) fail(`--check after the next run exited ${clean.code}: ${clean.stdout.trim()}`);
  else pruneStats.converged++;
}

export function pruneCrashSafety(): void {
  describe('crash safety: pruning killed at every step', () => {
    it('keys dropped from the keys file: a SIGKILL while deleting, emptying or forgetting loses no declared key, touches no hand-made key, and the next run converges', { timeout: 240_000 }, async () => {
      const lab = await Lab.open({ name: 'prune' });
      try {
        for (let seed = 5000; seed < 5024; seed++) await pruneCase(lab, seed);
      } finally {
        await lab.close();
      }
      console.log(JSON.stringify({ prune: pruneStats }, null, 2));
      expect(pruneStats.violations).toEqual([]);
      expect(pruneStats.kills).toBeGreaterThanOrEqual(10);
      expect(pruneStats.converged).toBe(24);
    });
  });
}
