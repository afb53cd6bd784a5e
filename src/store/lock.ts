/**
 * A lock file next to `.env`, so two runs at once (two `compose up`, or a manual
 * run beside the service) take turns. The holder touches the file every second;
 * a lock is stale when its holder is a dead process on this host, or when it has
 * not been touched for `staleAfterMs` (a holder in another container that died).
 */
import { closeSync, constants, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { BootstrapError, EnvFileError, ExitCode } from '../errors.ts';
import { uniqueSuffix } from './fs-atomic.ts';

export interface Lock {
  release(): Promise<void>;
}

/** Lock files this process holds, for a signal handler that must release them before exiting. */
const heldFiles = new Set<string>();

/** Releases every lock this process holds, synchronously (a signal handler exits right after); returns their paths. */
export function releaseHeldLocks(): string[] {
  const files = [...heldFiles];
  for (const file of files) rmSync(file, { force: true });
  heldFiles.clear();
  return files;
}

export interface LockOptions {
  /** Epoch ms after which waiting gives up. */
  deadline: number;
  staleAfterMs?: number;
  /** Called while waiting, with a description of the holder. */
  onWait?: (holder: string) => void;
}

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<{ holder: Holder | undefined; mtimeMs: number } | undefined> {
  try {
    const text = readFileSync(file, 'utf8');
    const st = statSync(file);
    let holder: Holder | undefined;
    try {
      holder = JSON.parse(text) as Holder;
    } catch {
      holder = undefined; // being written, or garbage: judged by age
    }
    return { holder, mtimeMs: st.mtimeMs };
  } catch {
    return undefined; // gone
  }
}

export async function acquireLock(file: string, opts: LockOptions): Promise<Lock> {
  const staleAfterMs = opts.staleAfterMs ?? 10_000;
  const me: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  let delay = 10;
  for (;;) {
    // Synchronous, like every file operation of the bootstrap (see fs-atomic.ts).
    let fd: number | undefined;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return held(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (fd !== undefined) {
        // Created but not written (e.g. a full disk): never leave an empty lock for the next run to wait on.
        try {
          closeSync(fd);
        } catch {
          /* already closed */
        }
        rmSync(file, { force: true });
      }
      if (code !== 'EEXIST' || fd !== undefined) {
        const why = code === 'ENOSPC' || code === 'EDQUOT' ? 'the disk is full' : 'its directory is not writable';
        throw new EnvFileError(file, `cannot create the lock file ${file}: ${why} (${code})`, {
          hint: code === 'ENOSPC' || code === 'EDQUOT' ? 'free some disk space' : `the directory ${dirname(file)} must be writable by this user`,
          cause: err,
        });
      }
    }
    const seen = await readHolder(file);
    if (seen === undefined) continue; // released meanwhile: try again at once
    const { holder, mtimeMs } = seen;
    const deadOnThisHost = holder !== undefined && holder.host === me.host && !alive(holder.pid);
    const untouched = Date.now() - mtimeMs > staleAfterMs;
    if (deadOnThisHost || untouched) {
      // Move it aside under a unique name: of several waiters, exactly one wins the rename.
      const aside = `${file}.stale-${process.pid}-${uniqueSuffix()}`;
      try {
        renameSync(file, aside);
        const moved = await readHolder(aside);
        // If what we moved is not what we judged stale (a fresh lock slipped in), put it back.
        if (moved && moved.mtimeMs !== mtimeMs && !(moved.holder?.host === me.host && !alive(moved.holder.pid))) {
          try {
            linkSync(aside, file);
          } catch {
            /* a newer lock is there already */
          }
        }
        rmSync(aside, { force: true });
      } catch {
        /* someone else recovered it */
      }
      continue;
    }
    const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.startedAt}` : 'an unknown process';
    opts.onWait?.(who);
    if (Date.now() >= opts.deadline) {
      throw new BootstrapError(`another run still holds the lock ${file} (${who})`, ExitCode.unexpected, {
        hint: `wait for it to finish; if no other run exists, delete ${file}`,
      });
    }
    await sleep(delay);
    delay = Math.min(100, delay * 2);
  }
}

function held(file: string): Lock {
  const heartbeat = setInterval(() => {
    const now = new Date();
    try {
      utimesSync(file, now, now);
    } catch {
      /* released or moved: nothing to keep alive */
    }
  }, 1000);
  heartbeat.unref();
  heldFiles.add(file);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      heldFiles.delete(file);
      rmSync(file, { force: true });
    },
  };
}

