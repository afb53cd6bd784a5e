/** Runs take turns on <.env>.lock; a lock whose holder died is recovered. Real processes. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
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

/** Whether this machine lets the suite start a process in its own PID namespace (root, unshare). */
function canUnshare(): boolean {
  try {
    return execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', 'echo $$'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === '1';
  } catch {
    return false;
  }
}
const unshareWorks = canUnshare();

/** A holder that keeps the lock until SIGTERM; resolves once it holds it. `inOwnPidNamespace`: as PID 1 of a new PID namespace. */
async function longHolder(lock: string, journal: string, opts: { inOwnPidNamespace?: boolean; env?: Record<string, string> } = {}): Promise<{ child: ChildProcess; closed: Promise<number | null> }> {
  const cmd = [process.execPath, '--import', 'tsx', 'test/fixtures/lock-holder.ts', lock, journal, 'until-SIGTERM'];
  const child = opts.inOwnPidNamespace
    ? spawn('unshare', ['--pid', '--fork', '--mount-proc', ...cmd], { env: { ...process.env, ...opts.env }, stdio: 'ignore' })
    : spawn(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...opts.env }, stdio: 'ignore' });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  while (!(await readFile(journal, 'utf8').catch(() => '')).includes('start')) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, closed };
}

/** Runs a waiter for the lock as PID 1 of its own PID namespace (a container on the host's directory): its exit code. */
function waiterInOwnPidNamespace(lock: string, journal: string, deadlineMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '--import', 'tsx', 'test/fixtures/lock-holder.ts', lock, journal, '0'], {
      env: { ...process.env, LOCK_DEADLINE_MS: String(deadlineMs), LOCK_STALE_MS: '200' },
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

  it('is never taken from a stalled holder (SIGSTOPped), however long its lock file goes untouched', async () => {
    const lock = path.join(dir, '.env.lock');
    const journal = path.join(dir, 'journal');
    const { child, closed } = await longHolder(lock, journal);
    process.kill(child.pid!, 'SIGSTOP');
    try {
      // Untouched for far longer than staleAfterMs: age alone would call it dead.
      const err = await acquireLock(lock, { deadline: Date.now() + 1500, staleAfterMs: 200 }).then(
        async (l) => {
          await l.release();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err, 'the lock was taken from a live holder').toBeInstanceOf(BootstrapError);
      expect((err as Error).message).toContain(`pid ${child.pid}`);
    } finally {
      process.kill(child.pid!, 'SIGCONT');
      process.kill(child.pid!, 'SIGTERM');
    }
    expect(await closed).toBe(0);
    expect((await readFile(journal, 'utf8')).trim().split('\n')).toEqual([`start ${child.pid}`, `end ${child.pid}`]);
  });

  it.skipIf(!unshareWorks)('is not taken by a run in another PID namespace (a container with host networking: same hostname, pid not visible)', async () => {
    const lock = path.join(dir, '.env.lock');
    const journal = path.join(dir, 'journal');
    const { child, closed } = await longHolder(lock, journal);
    try {
      const code = await waiterInOwnPidNamespace(lock, path.join(dir, 'waiter-journal'), 1500);
      expect(code, 'the waiter in the other PID namespace got the lock while its holder lived').not.toBe(0);
      expect(await readFile(path.join(dir, 'waiter-journal'), 'utf8').catch(() => '')).toBe('');
    } finally {
      process.kill(child.pid!, 'SIGTERM');
    }
    expect(await closed).toBe(0);
  });

  it.skipIf(!unshareWorks)('is recovered at once when its holder in another PID namespace was killed', async () => {
    const lock = path.join(dir, '.env.lock');
    const { closed } = await longHolder(lock, path.join(dir, 'journal'), { inOwnPidNamespace: true, env: { DIE_HOLDING: '1' } });
    // The holder (PID 1 of its namespace) holds until SIGTERM; kill its whole namespace instead.
    const holderPid = Number((await readFile(path.join(dir, 'journal'), 'utf8')).match(/start (\d+)/)![1]);
    expect(holderPid).toBe(1);
    await killNamespaceOf(lock);
    await closed;
    // An hour of staleAfterMs: only the kernel's word (the socket is gone) can free it before the deadline.
    const l = await acquireLock(lock, { deadline: Date.now() + 5000, staleAfterMs: 3_600_000 });
    await l.release();
    expect(await readdir(dir)).toEqual(['journal']);
  });
});

/** SIGKILLs the PID-1 holder of `lock` from outside its namespace (the node process whose command line names the lock; the namespace dies with it). */
async function killNamespaceOf(lock: string): Promise<void> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv[0] === process.execPath && argv.includes(lock)) {
      process.kill(Number(pid), 'SIGKILL');
      return;
    }
  }
  throw new Error(`no process holds ${lock}`);
}
