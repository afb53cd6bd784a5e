/**
 * Crash-safe file replacement: a file is replaced whole or not at all.
 *
 * writeFileAtomic: temp file in the same directory (created 0600, so a secret is
 * never readable by others even for a moment) → write → fsync → chmod/chown →
 * rename over the target → fsync the directory. A crash before the rename leaves
 * the old file and a temp file that the next locked run removes; after it, the new file.
 *
 * A single bind-mounted file cannot be renamed over (EBUSY/EXDEV). Then the old
 * content is first saved to a 0600 sibling backup (fsync'ed), the file is
 * overwritten in place (write, truncate, fsync), and the backup removed. A crash
 * in the middle leaves the backup, whose name says what it is.
 */
import { createHash } from 'node:crypto';
import {
  chownSync, closeSync, constants, existsSync, fchmodSync, fsyncSync, ftruncateSync, openSync, readdirSync,
  readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { EnvFileError } from '../errors.ts';

export interface WriteOptions {
  /** Mode of the result; default: the existing file's, or 0600 for a new file. */
  mode?: number;
  uid?: number;
  gid?: number;
}

const TEMP_SUFFIX = '.tmp';
const BACKUP_MARK = '.bootstrap-inplace-backup';

function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${uniqueSuffix()}${TEMP_SUFFIX}`);
}

/*
 * Every file operation is synchronous (node:fs). A one-shot CLI has nothing to
 * overlap them with, and each fs.promises call costs a thread-pool round trip,
 * plus ~3 ms to load node:fs/promises at all (docs/performance.md). The
 * functions stay async so callers need not care.
 */

/** The file a path finally points to (symlinks followed), or the path itself when missing. */
function resolveTarget(file: string): string {
  try {
    return realpathSync.native(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // A dangling link: write where it points.
    try {
      return resolve(dirname(file), readlinkSync(file));
    } catch {
      return file;
    }
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Some filesystems do not allow fsync on directories: the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function fail(file: string, err: unknown, what: string): never {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const hints: Record<string, string> = {
    EACCES: 'make the file and its directory writable by this user, or run as their owner',
    EPERM: 'make the file and its directory writable by this user, or run as their owner',
    EROFS: 'the filesystem is read-only: mount it read-write',
    ENOSPC: 'the disk is full: free some space',
    EDQUOT: 'the disk quota is exceeded: free some space',
  };
  throw new EnvFileError(file, `cannot ${what} ${file} (${code}); it was left as it was`, { hint: hints[code], cause: err });
}

function chownQuietly(p: string, uid: number | undefined, gid: number | undefined): void {
  if (uid === undefined || gid === undefined) return;
  try {
    chownSync(p, uid, gid);
  } catch (err) {
    // Not root: we can only give files to ourselves. Keeping our own ownership is fine.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}

const removeQuietly = (p: string) => {
  try {
    rmSync(p, { force: true });
  } catch {
    /* best effort */
  }
};

/** Writes all of `data`, fsyncs, and closes `fd` (also on failure). */
function writeAllAndSync(fd: number, data: Uint8Array): void {
  try {
    for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function writeFileAtomic(file: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
  const target = resolveTarget(file);
  let existing: { mode: number; uid: number; gid: number } | undefined;
  try {
    const st = statSync(target);
    existing = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') fail(file, err, 'inspect');
  }
  const mode = opts.mode ?? existing?.mode ?? 0o600;
  const uid = opts.uid ?? existing?.uid;
  const gid = opts.gid ?? existing?.gid;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const temp = tempName(target);
  try {
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      fchmodSync(fd, mode);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    writeAllAndSync(fd, bytes);
    chownQuietly(temp, uid, gid);
  } catch (err) {
    removeQuietly(temp);
    fail(file, err, 'write');
  }
  try {
    renameSync(temp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY' || code === 'EXDEV') {
      try {
        writeInPlace(target, bytes, file);
      } finally {
        removeQuietly(temp);
      }
      return;
    }
    removeQuietly(temp);
    fail(file, err, 'replace');
  }
  fsyncDir(dirname(target));
}

/** The journal of an in-place write: the old bytes, the hash of the new ones, and a restore in progress. */
function journal(target: string) {
  const base = join(dirname(target), `.${basename(target)}`);
  return { backup: `${base}${BACKUP_MARK}`, newHash: `${base}.bootstrap-inplace-sha256`, restore: `${base}.bootstrap-restore` };
}

function writeSynced(file: string, data: Buffer | string): void {
  writeAllAndSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600), typeof data === 'string' ? Buffer.from(data) : data);
}

/**
 * For a file that cannot be renamed over: never without a copy of the old content on disk.
 * The old bytes and the hash of the new ones are written (fsync'ed) first, so a run killed in
 * the middle is detected and undone by recoverInterruptedWrite.
 */
function writeInPlace(target: string, bytes: Buffer, shownAs: string): void {
  const j = journal(target);
  try {
    writeSynced(j.backup, readFileSync(target));
    writeSynced(j.newHash, createHash('sha256').update(bytes).digest('hex'));
    fsyncDir(dirname(target));
    const fd = openSync(target, constants.O_WRONLY);
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, done);
      ftruncateSync(fd, bytes.length);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    fail(shownAs, err, 'write (in place)');
  }
  rmSync(j.backup, { force: true });
  rmSync(j.newHash, { force: true });
}

/** Whether an in-place write of `file` was interrupted (cheap: two stats). */
export async function interruptedWrite(file: string): Promise<boolean> {
  const j = journal(resolveTarget(file));
  return existsSync(j.backup) || existsSync(j.restore);
}

/**
 * Undoes an interrupted in-place write (call it holding the lock): if the file holds
 * neither its old nor its new bytes, the old bytes are put back. (A run that wrote the
 * new bytes would have issued its key again next time anyway: the old state is consistent.)
 */
export async function recoverInterruptedWrite(file: string): Promise<'none' | 'untouched' | 'completed' | 'restored'> {
  const target = resolveTarget(file);
  const j = journal(target);
  let original: Buffer;
  if (existsSync(j.restore)) {
    original = readFileSync(j.restore);
  } else {
    let old: Buffer;
    try {
      old = readFileSync(j.backup);
    } catch {
      return 'none';
    }
    const current = readFileSync(target);
    let expected = '';
    try {
      expected = readFileSync(j.newHash, 'utf8');
    } catch {
      /* not written yet */
    }
    if (current.equals(old) || (expected !== '' && createHash('sha256').update(current).digest('hex') === expected.trim())) {
      rmSync(j.backup, { force: true });
      rmSync(j.newHash, { force: true });
      return current.equals(old) ? 'untouched' : 'completed';
    }
    // The file holds the first part of the new bytes over the old ones: nothing the old copy lacks.
    renameSync(j.backup, j.restore);
    original = old;
  }
  await writeFileAtomic(target, original);
  rmSync(j.restore, { force: true });
  rmSync(j.newHash, { force: true });
  return 'restored';
}

const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-z]{2,}\.tmp$/;

/** Temp files writeFileAtomic left next to `file` (from killed runs), by name. */
export async function staleTemps(file: string): Promise<string[]> {
  const dir = dirname(resolveTarget(file));
  try {
    return readdirSync(dir).filter((name) => {
      const m = TEMP_NAME.exec(name);
      return m !== null && Number(m[1]) !== process.pid;
    });
  } catch {
    return [];
  }
}

/**
 * Removes temp files a killed run left next to `file`. Call it holding the lock:
 * every write happens under the lock, so no live writer owns them. Returns what it removed.
 */
export async function cleanupStaleTemps(file: string): Promise<string[]> {
  const dir = dirname(resolveTarget(file));
  const names = await staleTemps(file);
  for (const name of names) removeQuietly(join(dir, name));
  return names;
}

let made = 0;
/**
 * A name part no other live writer uses: names also carry the pid, and files are
 * created with O_EXCL, so this needs uniqueness, not unpredictability (node:crypto
 * would cost ~7 ms to load, docs/performance.md).
 */
export function uniqueSuffix(): string {
  made += 1;
  return `${made.toString(36)}${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
}
