/**
 * A lock file next to `.env`, so two runs at once (two `compose up`, or a manual run beside the
 * service) take turns. The file is created O_EXCL and says who holds it; whether that holder is
 * still alive is judged by the kernel, not by a clock:
 *
 * - the holder listens on a Unix socket beside the lock file for as long as it holds the lock. The
 *   kernel closes it when the process dies (SIGKILL included), and only then: a stopped or busy
 *   holder still accepts connections (the kernel queues them). On the same kernel (same boot id,
 *   whatever the PID namespace: a container on the host's directory) a waiter connects: refused
 *   means dead, anything else alive. No heartbeat, no hostname, no pid comparisons.
 * - without a socket (a filesystem that has none), on the same kernel and PID namespace: the pid
 *   and the process start time (/proc/<pid>/stat) say whether that very process still runs.
 * - a holder on another kernel (another host sharing the directory over NFS, or this host before a
 *   reboot) cannot be asked: the lock file's age decides. The holder touches it every second (a
 *   timer: a worker thread would not stall, but costs ~19 MiB, a fifth of the memory budget,
 *   docs/performance.md); untouched for `staleAfterMs` means dead. docs/reliability.md ("Two hosts,
 *   one directory") says what this cannot promise.
 */
import { closeSync, constants, fstatSync, futimesSync, linkSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { BootstrapError, EnvFileError, ExitCode } from '../errors.ts';
import { isOurTempName, tempPath } from './fs-atomic.ts';

export interface Lock {
  release(): Promise<void>;
}

/** Locks this process holds (their paths, and how to release each at once), for a signal handler that must release them before exiting. */
const heldLocks = new Map<string, () => void>();

/** Releases every lock this process holds, synchronously (a signal handler exits right after); returns their paths. */
export function releaseHeldLocks(): string[] {
  const files = [...heldLocks.keys()];
  for (const release of [...heldLocks.values()]) release();
  heldLocks.clear();
  return files;
}

export interface LockOptions {
  /** Epoch ms after which waiting gives up. */
  deadline: number;
  /** For a holder on another kernel only: its lock file untouched this long means it is dead. */
  staleAfterMs?: number;
  /** Called while waiting, with a description of the holder. */
  onWait?: (holder: string) => void;
}

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
  /** /proc/sys/kernel/random/boot_id: the kernel (host and boot) the holder runs on. */
  boot?: string;
  /** /proc/self/ns/pid: its PID namespace. */
  pidns?: string;
  /** Its start time in clock ticks since boot (/proc/self/stat field 22): a reused pid differs. */
  start?: string;
  /** The name of its liveness socket, beside the lock file. */
  socket?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const readQuietly = (read: () => string): string | undefined => {
  try {
    return read().trim() || undefined;
  } catch {
    return undefined;
  }
};

/** The start time of process `pid` as this PID namespace sees it, or undefined when there is none. */
function startTimeOf(pid: number | 'self'): string | undefined {
  const stat = readQuietly(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  // Fields after the command (which may hold spaces and parentheses): state is field 3, starttime 22.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function identity(): Holder {
  return {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    boot: readQuietly(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pidns: readQuietly(() => readlinkSync('/proc/self/ns/pid')),
    start: startTimeOf('self'),
  };
}

/**
 * A path for a socket beside the lock: Unix socket paths are limited to 107 bytes, so a longer one
 * goes through a descriptor of the directory (/proc/self/fd/N/name); `use` runs while it is open.
 */
async function withSocketPath<T>(dir: string, name: string, use: (path: string) => Promise<T>): Promise<T> {
  const direct = join(dir, name);
  if (Buffer.byteLength(direct) <= 100) return use(direct);
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return await use(`/proc/self/fd/${fd}/${name}`);
  } finally {
    closeSync(fd);
  }
}

/** Listens on a fresh socket beside `file`; undefined where the filesystem has no sockets. */
async function listen(file: string): Promise<{ server: Server; name: string } | undefined> {
  const name = basename(tempPath(file, 'sock'));
  const server = createServer((c) => c.destroy());
  const ok = await withSocketPath(dirname(file), name, (path) =>
    new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(path, () => resolve(true));
    }),
  ).catch(() => false);
  if (!ok) return undefined;
  server.unref();
  return { server, name };
}

/** Whether something listens on the socket `name` beside `file`: refused or missing means its holder is gone. */
async function listening(file: string, name: string): Promise<boolean> {
  return withSocketPath(dirname(file), name, (path) =>
    new Promise<boolean>((resolve) => {
      const c = createConnection(path);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', (err: NodeJS.ErrnoException) => resolve(!(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' || err.code === 'ENOTSOCK')));
    }),
  ).catch(() => true);
}

const socketOf = (file: string, holder: Holder | undefined) =>
  holder?.socket !== undefined && isOurTempName(holder.socket, basename(file)) && holder.socket.endsWith('.sock') ? holder.socket : undefined;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Seen {
  holder: Holder | undefined;
  mtimeMs: number;
  ino: number;
}

function readHolder(file: string): Seen | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    const text = st.isFile() ? readFileSync(fd, 'utf8') : '';
    let holder: Holder | undefined;
    try {
      holder = JSON.parse(text) as Holder;
    } catch {
      holder = undefined; // being written, or garbage: judged by age
    }
    return { holder, mtimeMs: st.mtimeMs, ino: st.ino };
  } catch {
    return undefined; // gone
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether the holder seen in the lock file is gone. */
async function dead(file: string, seen: Seen, me: Holder, staleAfterMs: number): Promise<boolean> {
  const h = seen.holder;
  if (h !== undefined && h.boot !== undefined && h.boot === me.boot) {
    const socket = socketOf(file, h);
    if (socket !== undefined) return !(await listening(file, socket));
    if (h.pidns !== undefined && h.pidns === me.pidns && h.start !== undefined) return startTimeOf(h.pid) !== h.start;
    if (h.pidns !== undefined && h.pidns === me.pidns && h.start === undefined) return !alive(h.pid);
  }
  // Another kernel, another PID namespace without a socket, an older version's lock, or garbage: by age.
  return Date.now() - seen.mtimeMs > staleAfterMs;
}

/** Removes sockets of holders gone (a killed run's): ours by name, beside the lock, refusing connections. */
async function sweepSockets(file: string, mine: string | undefined): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    if (name === mine || !name.endsWith('.sock') || !isOurTempName(name, basename(file))) continue;
    try {
      if (!lstatSync(join(dirname(file), name)).isSocket()) continue;
    } catch {
      continue;
    }
    if (!(await listening(file, name))) rmSync(join(dirname(file), name), { force: true });
  }
}

export async function acquireLock(file: string, opts: LockOptions): Promise<Lock> {
  const staleAfterMs = opts.staleAfterMs ?? 10_000;
  const me = identity();
  const liveness = await listen(file);
  if (liveness) me.socket = liveness.name;
  const dropSocket = () => {
    if (!liveness) return;
    liveness.server.close();
    rmSync(join(dirname(file), liveness.name), { force: true });
  };
  let delay = 10;
  try {
    for (;;) {
      // Synchronous, like every file operation of the bootstrap (see fs-atomic.ts).
      let fd: number | undefined;
      try {
        fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        const body = Buffer.from(JSON.stringify(me));
        for (let done = 0; done < body.length; ) done += writeSync(fd, body, done, body.length - done);
        const lock = held(file, fd, fstatSync(fd).ino, dropSocket);
        await sweepSockets(file, me.socket);
        return lock;
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
      const seen = readHolder(file);
      if (seen === undefined) continue; // released meanwhile: try again at once
      if (await dead(file, seen, me, staleAfterMs)) {
        // Move it aside under a unique name: of several waiters, exactly one wins the rename.
        const aside = tempPath(file);
        try {
          renameSync(file, aside);
          const moved = readHolder(aside);
          // If what we moved is not what we judged dead (a fresh lock slipped in), put it back.
          if (moved && moved.ino !== seen.ino) {
            try {
              linkSync(aside, file);
            } catch {
              /* a newer lock is there already */
            }
          } else {
            const socket = socketOf(file, seen.holder);
            if (socket !== undefined) rmSync(join(dirname(file), socket), { force: true });
          }
          rmSync(aside, { force: true });
        } catch {
          /* someone else recovered it */
        }
        continue;
      }
      const h = seen.holder;
      const who = h ? `pid ${h.pid} on ${h.host} since ${h.startedAt}` : 'an unknown process';
      opts.onWait?.(who);
      if (Date.now() >= opts.deadline) {
        throw new BootstrapError(`another run still holds the lock ${file} (${who})`, ExitCode.unexpected, {
          hint: `wait for it to finish; if no other run exists, delete ${file}`,
        });
      }
      await sleep(delay);
      delay = Math.min(100, delay * 2);
    }
  } catch (err) {
    dropSocket();
    throw err;
  }
}

function held(file: string, fd: number, ino: number, dropSocket: () => void): Lock {
  // The heartbeat, for waiters on another kernel only (on this one the socket answers for us):
  // through our descriptor, so a file swapped in at the lock's path is never touched.
  const touch = () => {
    const now = new Date();
    try {
      futimesSync(fd, now, now);
    } catch {
      /* closed: released */
    }
  };
  touch();
  const heartbeat = setInterval(touch, 1000);
  heartbeat.unref();
  let released = false;
  const releaseNow = () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    heldLocks.delete(file);
    // Only our own lock file: a waiter on another kernel may have judged us dead and taken it.
    try {
      if (lstatSync(file).ino === ino) rmSync(file, { force: true });
    } catch {
      /* gone */
    }
    closeSync(fd);
    dropSocket();
  };
  heldLocks.set(file, releaseNow);
  return {
    async release() {
      releaseNow();
    },
  };
}
