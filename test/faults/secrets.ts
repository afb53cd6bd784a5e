/**
 * Secrets, over the whole fault suite: every byte every run printed (stdout and
 * stderr, killed runs included) and every file every lab left. No master key,
 * upstream key or virtual key appears outside `.env`, `.env.litellm` and the
 * backups; the ledger holds only sha256 hashes; files holding secrets are 0600
 * (`.env` keeps its own mode). Registered last: it sees everything.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeSecret, journal, secretsIn, VIRTUAL_KEY_SHAPE } from './support.ts';

/**
 * Files allowed to hold secrets: the user's `.env`, the proxy's env file, and the copies kept so no user byte
 * is lost: the backup of a replaced value, the old bytes of an in-place write (and its restore in progress).
 */
const mayHoldSecrets = (base: string) =>
  ['.env', '.env.litellm', '.env.bootstrap-backup', '..env.bootstrap-inplace-backup', '..env.bootstrap-restore'].includes(base);
const LEDGER = '.llm-proxy-bootstrap.json';

export const secretStats = { outputs: 0, outputBytes: 0, files: 0, secretsKnown: 0 };

export function secretsEverywhere(): void {
  describe('secrets', () => {
    it('no secret in any output or stray file of the suite; the ledger holds only hashes; secret files are 0600', () => {
      const outputs = journal.outputs.filter((o) => o.length > 0);
      secretStats.outputs = journal.outputs.length / 2;
      secretStats.outputBytes = outputs.reduce((n, o) => n + o.length, 0);
      secretStats.files = journal.files.length;
      secretStats.secretsKnown = journal.secrets.size;
      console.log(JSON.stringify({ ...secretStats, runs: journal.runs }));

      // What was printed.
      const printed = outputs.join('\n');
      const leakedInOutput = [...journal.secrets].filter((s) => printed.includes(s)).map(describeSecret);
      const keyShaped = [...printed.matchAll(VIRTUAL_KEY_SHAPE)].map((m) => `${m[0].slice(0, 5)}…`);
      expect(leakedInOutput).toEqual([]);
      expect(keyShaped).toEqual([]);

      // What was left on disk.
      const problems: string[] = [];
      for (const f of journal.files) {
        const base = path.basename(f.name);
        const where = `${f.lab}: ${f.name}`;
        if (f.expectedMode !== undefined && f.mode !== f.expectedMode) problems.push(`${where} has mode ${f.mode.toString(8)}, want ${f.expectedMode.toString(8)}`);
        if (mayHoldSecrets(base)) {
          if (base !== '.env' && (f.mode & 0o077) !== 0) problems.push(`${where} holds secrets and is readable by others (mode ${f.mode.toString(8)})`);
          continue;
        }
        const text = f.content?.toString('utf8') ?? '';
        const found = secretsIn(text);
        if (found.length) problems.push(`${where} holds ${found.join(', ')}`);
        if (base === LEDGER) {
          const body = JSON.parse(text) as { issued: { sha256: string; alias: string }[] };
          if (!body.issued.every((e) => /^[0-9a-f]{64}$/.test(e.sha256))) problems.push(`${where} holds something other than sha256 hashes`);
        }
      }
      expect(problems).toEqual([]);

      // The check looked at something: the suite's runs and files are all here.
      // (With -t filtering only some classes run; the whole suite runs over 600 processes.)
      expect(secretStats.outputs).toBeGreaterThan(0);
      if (['crash', 'flap', 'concurrency', 'hostile'].every((k) => (journal.runs[k] ?? 0) > 0)) {
        expect(secretStats.outputs).toBeGreaterThan(300);
        expect(journal.files.some((f) => path.basename(f.name) === LEDGER)).toBe(true);
        expect(journal.files.some((f) => path.basename(f.name) === '.env.litellm')).toBe(true);
      }
    });
  });
}
