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
import { constants } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { EnvFileError } from './errors.ts';

export interface WriteOptions {
  /** Mode of the result; default: the existing file's, or 0600 for a new file. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Injectable for tests. */
  rename?: (from: string, to: string) => Promise<void>;
}

const TEMP_SUFFIX = '.tmp';
const BACKUP_MARK = '.bootstrap-inplace-backup';

function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomHex(4)}${TEMP_SUFFIX}`);
}

/** The file a path finally points to (symlinks followed), or the path itself when missing. */
async function resolveTarget(file: string): Promise<string> {
  try {
    return await fs.realpath(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // A dangling link: write where it points.
    try {
      const link = await fs.readlink(file);
      return path.resolve(path.dirname(file), link);
    } catch {
      return file;
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // Some filesystems do not allow fsync on directories: the rename is still atomic.
  } finally {
    await handle?.close();
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

async function chownQuietly(p: string, uid: number | undefined, gid: number | undefined): Promise<void> {
  if (uid === undefined || gid === undefined) return;
  try {
    await fs.chown(p, uid, gid);
  } catch (err) {
    // Not root: we can only give files to ourselves. Keeping our own ownership is fine.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}

export async function writeFileAtomic(file: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
  const target = await resolveTarget(file);
  let existing: { mode: number; uid: number; gid: number } | undefined;
  try {
    const st = await fs.stat(target);
    existing = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') fail(file, err, 'inspect');
  }
  const mode = opts.mode ?? existing?.mode ?? 0o600;
  const uid = opts.uid ?? existing?.uid;
  const gid = opts.gid ?? existing?.gid;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const temp = tempName(target);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.chmod(mode);
    await handle.close();
    handle = undefined;
    await chownQuietly(temp, uid, gid);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
    fail(file, err, 'write');
  }
  try {
    await (opts.rename ?? fs.rename)(temp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY' || code === 'EXDEV') {
      try {
        await writeInPlace(target, bytes, file);
      } finally {
        await fs.rm(temp, { force: true }).catch(() => undefined);
      }
      return;
    }
    await fs.rm(temp, { force: true }).catch(() => undefined);
    fail(file, err, 'replace');
  }
  await fsyncDir(path.dirname(target));
}

/** The journal of an in-place write: the old bytes, the hash of the new ones, and a restore in progress. */
function journal(target: string) {
  const base = path.join(path.dirname(target), `.${path.basename(target)}`);
  return { backup: `${base}${BACKUP_MARK}`, newHash: `${base}.bootstrap-inplace-sha256`, restore: `${base}.bootstrap-restore` };
}

const sha256Hex = (b: Buffer) => process.getBuiltinModule('node:crypto').createHash('sha256').update(b).digest('hex');

async function writeSynced(file: string, data: Buffer | string): Promise<void> {
  const h = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * For a file that cannot be renamed over: never without a copy of the old content on disk.
 * The old bytes and the hash of the new ones are written (fsync'ed) first, so a run killed in
 * the middle is detected and undone by recoverInterruptedWrite.
 */
async function writeInPlace(target: string, bytes: Buffer, shownAs: string): Promise<void> {
  const j = journal(target);
  try {
    await writeSynced(j.backup, await fs.readFile(target));
    await writeSynced(j.newHash, sha256Hex(bytes));
    await fsyncDir(path.dirname(target));
    const h = await fs.open(target, constants.O_WRONLY);
    try {
      await h.write(bytes, 0, bytes.length, 0);
      await h.truncate(bytes.length);
      await h.sync();
    } finally {
      await h.close();
    }
  } catch (err) {
    fail(shownAs, err, 'write (in place)');
  }
  await fs.rm(j.backup, { force: true });
  await fs.rm(j.newHash, { force: true });
}

const exists = (p: string) => fs.access(p).then(() => true, () => false);

/** Whether an in-place write of `file` was interrupted (cheap: two stats). */
export async function interruptedWrite(file: string): Promise<boolean> {
  const j = journal(await resolveTarget(file));
  return (await exists(j.backup)) || (await exists(j.restore));
}

/**
 * Undoes an interrupted in-place write (call it holding the lock): if the file holds
 * neither its old nor its new bytes, the old bytes are put back. (A run that wrote the
 * new bytes would have issued its key again next time anyway: the old state is consistent.)
 */
export async function recoverInterruptedWrite(file: string): Promise<'none' | 'untouched' | 'completed' | 'restored'> {
  const target = await resolveTarget(file);
  const j = journal(target);
  let original: Buffer;
  if (await exists(j.restore)) {
    original = await fs.readFile(j.restore);
  } else {
    let old: Buffer;
    try {
      old = await fs.readFile(j.backup);
    } catch {
      return 'none';
    }
    const current = await fs.readFile(target);
    const expected = await fs.readFile(j.newHash, 'utf8').catch(() => '');
    if (current.equals(old) || (expected !== '' && sha256Hex(current) === expected.trim())) {
      await fs.rm(j.backup, { force: true });
      await fs.rm(j.newHash, { force: true });
      return current.equals(old) ? 'untouched' : 'completed';
    }
    // The file holds the first part of the new bytes over the old ones: nothing the old copy lacks.
    await fs.rename(j.backup, j.restore);
    original = old;
  }
  await writeFileAtomic(target, original);
  await fs.rm(j.restore, { force: true });
  await fs.rm(j.newHash, { force: true });
  return 'restored';
}

const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** Temp files writeFileAtomic left next to `file` (from killed runs), by name. */
export async function staleTemps(file: string): Promise<string[]> {
  const dir = path.dirname(await resolveTarget(file));
  try {
    return (await fs.readdir(dir)).filter((name) => {
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
  const dir = path.dirname(await resolveTarget(file));
  const names = await staleTemps(file);
  for (const name of names) await fs.rm(path.join(dir, name), { force: true }).catch(() => undefined);
  return names;
}

/** node:crypto is loaded on first use only: a warm run never writes. */
function randomHex(bytes: number): string {
  return process.getBuiltinModule('node:crypto').randomBytes(bytes).toString('hex');
}
