/**
 * Env files as the `.env` store reads and edits them: read and parse (every failure names the
 * file and what to do), try an edit, set variables (other bytes kept, atomic replace), and keep
 * values that may be the user's own in the backup file.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { EnvFileError } from '../errors.ts';
import { EnvDocument } from './env-file.ts';
import { assertGeneratedPath, interruptedWrite, kindOf, recoverInterruptedWrite, writeFileAtomic } from './fs-atomic.ts';
import { formatValue } from './env-file.ts';

/** A value that may be the user's own, saved before its line is overwritten. */
export interface BackupEntry {
  /** The backup file. */
  path: string;
  name: string;
  value: string;
  /** Where it was read: file and line. */
  from: string;
  line: number | undefined;
}

export const TEMPLATE_HINT = 'run with --mirror-only once to create it from the template (the compose stack does: docker compose run --rm llm-proxy-init), or copy volumes/env/.env.template to volumes/env/.env and set LITELLM_MASTER_KEY';

export interface EnvFileState {
  path: string;
  doc: EnvDocument;
  uid: number;
  gid: number;
  mode: number;
}

/** Reads and parses an env file; every failure names the file and what to do. */
export async function readEnvFile(file: string): Promise<EnvFileState> {
  let bytes: Buffer;
  let st: Stats;
  try {
    // Synchronous: a one-shot CLI has nothing to overlap, and node:fs/promises costs start-up time.
    // A link is followed (the user's own), but what it points to must be a regular file: judged
    // before opening (a FIFO would block, a device may act on open), and again on the descriptor
    // (opened non-blocking) in case it was swapped in between.
    st = statSync(file);
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    if (!st.isFile()) throw notRegular(file, st);
    const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      st = fstatSync(fd);
      if (!st.isFile()) throw notRegular(file, st);
      bytes = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof EnvFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') throw new EnvFileError(file, `${file} does not exist`, { hint: TEMPLATE_HINT, cause: err });
    if (code === 'EISDIR') throw new EnvFileError(file, `${file} is a directory, not an env file`, { hint: 'point ENV_FILE_PATH at the .env file itself (a directory bind mount creates a directory when the file is missing)', cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new EnvFileError(file, `${file} is not readable by this user (${code})`, { hint: 'fix its owner or mode, or run the bootstrap as its owner (compose: user: "${UID}:${GID}")', cause: err });
    throw new EnvFileError(file, `cannot read ${file} (${code})`, { cause: err });
  }
  const doc = EnvDocument.parse(bytes, file);
  return { path: file, doc, uid: st.uid, gid: st.gid, mode: Number(st.mode) & 0o7777 };
}

function notRegular(file: string, st: Stats): EnvFileError {
  return new EnvFileError(file, `${file} is ${kindOf(st)}, not an env file: refused, nothing was read or written`, {
    hint: 'point ENV_FILE_PATH at a regular file (.env may be a symbolic link, but to a regular file)',
  });
}

/** Fails (exit 2, file untouched) before a key is issued if the editor would refuse to write it. */
export async function assertEditable(file: string, values: Record<string, string>): Promise<void> {
  (await readEnvFile(file)).doc.setAll(values);
}

/** Sets variables in an env file, re-reading it first so a concurrent edit of other lines is kept. */
export async function setEnvVars(file: string, values: Record<string, string>): Promise<boolean> {
  const state = await readEnvFile(file);
  const bytes = state.doc.setAll(values).toBuffer();
  if (bytes.equals(state.doc.toBuffer())) return false;
  await writeFileAtomic(file, bytes);
  return true;
}

/** Appends values that may be the user's own to the backup file, in one write; a value already saved is not added again. */
export async function saveBackups(preserves: readonly BackupEntry[], owner: { uid: number; gid: number }): Promise<void> {
  for (const [path, group] of Map.groupBy(preserves, (p) => p.path)) {
    // A file the bootstrap generates: a link or anything but a regular file there is refused, never read or followed.
    const existing = readGeneratedFile(path).content ?? '';
    const present = new Set(existing.split(/\r?\n/));
    let added = '';
    for (const p of group) {
      const line = `${p.name}=${formatValue(p.value, p.name)}`;
      if (present.has(line)) continue;
      present.add(line);
      const note = `# ${new Date().toISOString()}: value of ${p.name} from ${p.from}${p.line ? ` line ${p.line}` : ''}, replaced by llm-proxy-bootstrap (the proxy did not know it)`;
      added += `${note}\n${line}\n`;
    }
    if (added === '') continue;
    const sep = existing === '' || existing.endsWith('\n') ? '' : '\n';
    await writeFileAtomic(path, `${existing}${sep}${added}`, { mode: 0o600, ...owner, generated: true });
  }
}

/**
 * A file the bootstrap generates (the proxy's or the agent's env file, the backup), as it is now:
 * nulls when there is none. A link planted there, or anything but a regular file, is refused (exit 2)
 * and never opened through.
 */
export function readGeneratedFile(file: string): { content: string | null; mode: number | null } {
  try {
    assertGeneratedPath(file);
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw notRegular(file, st);
      return { content: readFileSync(fd, 'utf8'), mode: Number(st.mode) & 0o777 };
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof EnvFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { content: null, mode: null };
    throw new EnvFileError(file, `cannot read ${file} (${code})`, { hint: 'the bootstrap owns this file: remove it or fix its permissions', cause: err });
  }
}

/** The same where an unreadable file only means "write it again": nulls for any failure. */
export function readGeneratedFileIfAny(file: string): { content: string | null; mode: number | null } {
  try {
    return readGeneratedFile(file);
  } catch {
    return { content: null, mode: null };
  }
}

/** A killed in-place write (a bind-mounted .env) is undone before anything reads the file. */
export async function recoverTornEnvFile(file: string, lockFor: string = file): Promise<string> {
  if (!(await interruptedWrite(file).catch(() => false))) return 'none';
  const { acquireLock } = await import('./lock.ts');
  const lock = await acquireLock(`${lockFor}.lock`, { deadline: Date.now() + 30_000 });
  try {
    return await recoverInterruptedWrite(file);
  } finally {
    await lock.release();
  }
}
