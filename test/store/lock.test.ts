/** Runs take turns on <.env>.lock; a lock whose holder died is recovered. Real processes. */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/store/lock.ts';
import { BootstrapError } from '../../src/errors.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function holder(lock: string, journal: string, holdMs: number, env: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/lock-holder.ts', lock, journal, String(holdMs)], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    child.on('close', (code) => resolve(code));
  });
}

describe('lock', () => {
  it('lets one process at a time in', async () => {
    const lock = path.join(dir, '.env.lock');
    const journal = path.join(dir, 'journal');
    const codes = await Promise.all([1, 2, 3, 4].map(() => holder(lock, journal, 60)));
    expect(codes).toEqual([0, 0, 0, 0]);
    const lines = (await readFile(journal, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(8);
    for (let i = 0; i < lines.length; i += 2) {
      expect(lines[i]).toMatch(/^start (\d+)$/);
      expect(lines[i + 1]).toBe(lines[i]!.replace('start', 'end'));
    }
  });

  it('recovers at once the lock of a holder that was killed on this host', async () => {
    const lock = path.join(dir, '.env.lock');
    expect(await holder(lock, path.join(dir, 'journal'), 0, { DIE_HOLDING: '1' })).toBeNull();
    const dead = JSON.parse(await readFile(lock, 'utf8')) as { pid: number };
    // The dead holder's lock is fresh (staleAfterMs is far off) and the deadline has passed: only
    // recognising the dead pid gets the lock, and it never waits for it.
    const waits: string[] = [];
    const l = await acquireLock(lock, { deadline: Date.now() - 1, staleAfterMs: 60_000, onWait: (h) => waits.push(h) });
    expect(waits).toEqual([]);
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(dead.pid).not.toBe(process.pid);
    await l.release();
  });

  it('recovers the lock of a holder elsewhere (another container) once nobody touched it for staleAfterMs', async () => {
    const lock = path.join(dir, '.env.lock');
    await writeFile(lock, JSON.stringify({ pid: 1, host: `not-${hostname()}`, startedAt: 'then' }));
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    const waits: string[] = [];
    const l = await acquireLock(lock, { deadline: Date.now() - 1, staleAfterMs: 10_000, onWait: (h) => waits.push(h) });
    expect(waits).toEqual([]);
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await l.release();
  });

  it('gives up at the deadline, naming the holder, when the holder is alive', async () => {
    const lock = path.join(dir, '.env.lock');
    const held = await acquireLock(lock, { deadline: Date.now() + 1000 });
    const waits: string[] = [];
    const err = await acquireLock(lock, { deadline: Date.now() + 300, onWait: (h) => waits.push(h) }).then(() => undefined, (e: unknown) => e);
    await held.release();
    expect(err).toBeInstanceOf(BootstrapError);
    expect((err as BootstrapError).exitCode).toBe(1);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    expect(waits.length).toBeGreaterThan(0);
  });
});
