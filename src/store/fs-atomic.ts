/**
 * Crash-safe file replacement: a file is replaced whole or not at all.
 *
 * writeFileAtomic: temp file in the same directory (created 0600, so a secret is
 * never readable by others even for a moment) → write → fsync → chmod/chown →
 * rename over the target → fsync the directory. A crash before the rename leaves
 * the old file and a temp file that the next locked run removes; after it, the new file.
 *
 * Hostile neighbours (anyone who can write to the env directory): the temp file is created
 * O_EXCL|O_NOFOLLOW (a link planted at its name is never followed), chmod'ed and chown'ed through
 * its descriptor (never through a path), and rename() replaces the name itself. A file the
 * bootstrap generates (`generated: true`: `.env.litellm`, the ledger, the backup, the agent's
 * file) is written at its own path: a link found there is refused (exit 2, naming it), never
 * followed. `.env` (and a keys file's env files) may be a link the user made: it is followed, and
 * what it points to must be a regular file.
 *
 * A single bind-mounted file cannot be renamed over (EBUSY/EXDEV). Then the old
 * content is first saved to a 0600 sibling backup (fsync'ed), the file is
 * overwritten in place (write, truncate, fsync), and the backup removed. A crash
 * in the middle leaves the backup, whose name says what it is.
 */
import { createHash } from 'node:crypto';
import {
  closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readdirSync,
  readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { EnvFileError } from '../errors.ts';

export interface WriteOptions {
  /** Mode of the result; default: the existing file's, or 0600 for a new file. */
  mode?: number;
  uid?: number;
  gid?: number;
  /**
   * A file the bootstrap generates: written at this very path, never through a link; a link (or
   * anything but a regular file) found there is refused with exit 2.
   */
  generated?: boolean;
}

const BACKUP_MARK = '.bootstrap-inplace-backup';

/**
 * Temp files: `.<name>.llm-proxy-bootstrap.<random>.tmp` beside the file they replace. The marker
 * says whose they are, so a cleanup removes them whatever pid wrote them (in a container every run
 * is PID 1) and never another program's file; no pid in the name.
 */
export const TEMP_MARK = 'llm-proxy-bootstrap';
const tempPattern = (base: string) => new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.${TEMP_MARK}\\.[0-9a-z]{8,}\\.(tmp|sock)$`);

/** A fresh temp path beside `target` (`ext`: `tmp`, or `sock` for the lock's liveness socket). */
export function tempPath(target: string, ext: 'tmp' | 'sock' = 'tmp'): string {
  return join(dirname(target), `.${basename(target)}.${TEMP_MARK}.${uniqueSuffix()}.${ext}`);
}

/** Whether `name` is one of our temp (or socket) names for a file named `base`. */
export function isOurTempName(name: string, base: string): boolean {
  return tempPattern(base).test(name);
}

/** What a non-regular file is, in words. */
export function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Refuses (exit 2) a generated file's path that holds anything but a regular file: a link there is never followed. */
export function assertGeneratedPath(file: string): void {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (st.isFile()) return;
  const where = st.isSymbolicLink() ? ` (pointing to ${readlinkSync(file)})` : '';
  throw new EnvFileError(file, `${file} is ${kindOf(st)}${where}; the bootstrap generates this file and never writes through a link or into anything but a regular file, so nothing was written`, {
    hint: `remove ${file} (the next run creates it); if you did not put it there, someone who can write to ${dirname(file)} did: restrict that directory to its owner`,
  });
}

/** Refuses (exit 2) an existing `.env`-like file (after its links) that is not a regular file. */
function assertRegularTarget(shownAs: string, st: Stats): void {
  if (st.isFile()) return;
  throw new EnvFileError(shownAs, `${shownAs} is ${kindOf(st)}, not an env file; nothing was written`, {
    hint: `point ENV_FILE_PATH at a regular file (${shownAs} may be a link, but to a regular file)`,
  });
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

/** Gives the file open as `fd` (never a path: a path may have been swapped for a link) to uid:gid. */
function chownQuietly(fd: number, uid: number | undefined, gid: number | undefined): void {
  if (uid === undefined || gid === undefined) return;
  try {
    fchownSync(fd, uid, gid);
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

/** Creates a fresh temp file beside `target` (O_EXCL|O_NOFOLLOW, 0600): its path and descriptor. */
export function createTemp(target: string): { path: string; fd: number } {
  for (let attempt = 1; ; attempt++) {
    const path = tempPath(target);
    try {
      return { path, fd: openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600) };
    } catch (err) {
      // A name taken (planted, or a collision): another name; anything else is the caller's to report.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
    }
  }
}

export async function writeFileAtomic(file: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
  if (opts.generated) assertGeneratedPath(file);
  const target = opts.generated ? file : resolveTarget(file);
  let existing: { mode: number; uid: number; gid: number } | undefined;
  try {
    const st = opts.generated ? lstatSync(target) : statSync(target);
    if (!opts.generated) assertRegularTarget(file, st);
    existing = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (err) {
    if (err instanceof EnvFileError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') fail(file, err, 'inspect');
  }
  const mode = opts.mode ?? existing?.mode ?? 0o600;
  const uid = opts.uid ?? existing?.uid;
  const gid = opts.gid ?? existing?.gid;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let temp = '';
  try {
    const created = createTemp(target);
    temp = created.path;
    const fd = created.fd;
    try {
      fchmodSync(fd, mode);
      chownQuietly(fd, uid, gid);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    writeAllAndSync(fd, bytes);
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
        writeInPlace(target, bytes, file, opts.generated === true);
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

/** A journal file, created afresh: whatever was at its name (a planted link) is removed, never followed. */
function writeSynced(file: string, data: Buffer | string): void {
  rmSync(file, { force: true });
  writeAllAndSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600), typeof data === 'string' ? Buffer.from(data) : data);
}

/**
 * For a file that cannot be renamed over: never without a copy of the old content on disk.
 * The old bytes and the hash of the new ones are written (fsync'ed) first, so a run killed in
 * the middle is detected and undone by recoverInterruptedWrite.
 */
function writeInPlace(target: string, bytes: Buffer, shownAs: string, generated: boolean): void {
  const j = journal(target);
  try {
    const noFollow = generated ? constants.O_NOFOLLOW : 0;
    writeSynced(j.backup, readFileSync(target, { flag: constants.O_RDONLY | constants.O_NONBLOCK | noFollow }));
    writeSynced(j.newHash, createHash('sha256').update(bytes).digest('hex'));
    fsyncDir(dirname(target));
    const fd = openSync(target, constants.O_WRONLY | constants.O_NONBLOCK | noFollow);
    try {
      if (!fstatSync(fd).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
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

/**
 * The places a temp file of each of `files` lands: beside the path, and beside what a link there
 * points to (a user's symlinked `.env`), each with the name the temp files carry.
 */
function tempPlaces(files: readonly string[]): { dir: string; base: string }[] {
  const places = new Map<string, { dir: string; base: string }>();
  for (const file of files) {
    for (const p of new Set([file, resolveTarget(file)])) places.set(p, { dir: dirname(p), base: basename(p) });
  }
  return [...places.values()];
}

/** Whether an entry is a temp file of ours: our name for one of our files, a regular file (not a link), ours. */
function ownTemp(dir: string, name: string, bases: readonly string[]): boolean {
  if (!name.endsWith('.tmp') || !bases.some((b) => isOurTempName(name, b))) return false;
  try {
    const st = lstatSync(join(dir, name));
    const me = process.geteuid?.();
    // root hands its temp files to the owner of .env; anyone else can only have made them itself.
    return st.isFile() && (me === undefined || me === 0 || st.uid === me);
  } catch {
    return false;
  }
}

/** Temp files writeFileAtomic left beside `files` (from killed runs, whatever their pid): full paths. */
export async function staleTemps(files: string | readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const byDir = Map.groupBy(tempPlaces(typeof files === 'string' ? [files] : files), (p) => p.dir);
  for (const [dir, places] of byDir) {
    const bases = places.map((p) => p.base);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) if (ownTemp(dir, name, bases)) found.push(join(dir, name));
  }
  return found;
}

/**
 * Removes temp files killed runs left beside `files`. Call it holding the lock: every write
 * happens under the lock, so no live writer owns them. Returns what it removed (full paths).
 */
export async function cleanupStaleTemps(files: string | readonly string[]): Promise<string[]> {
  const found = await staleTemps(files);
  for (const p of found) removeQuietly(p);
  return found;
}

let made = 0;
/**
 * A name part no other live writer uses: files are created O_EXCL|O_NOFOLLOW (a name taken
 * or planted is never followed: another name is tried), so this needs uniqueness, not unpredictability (node:crypto
 * would cost ~7 ms to load, docs/performance.md).
 */
export function uniqueSuffix(): string {
  made += 1;
  return `${made.toString(36)}${Math.random().toString(36).slice(2, 12).padEnd(10, '0')}`;
}
