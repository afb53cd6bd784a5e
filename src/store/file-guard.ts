/**
 * The ground the env files stand on, judged before a run writes anything: a link or anything but a
 * regular file planted at the path of a file the bootstrap generates is refused (exit 2, naming
 * it); modes that expose secrets or let others plant files are reported as warnings.
 *
 * Warnings, not refusals: `cp .env.template .env` under the usual umask makes a 0644 `.env`, and
 * refusing it would stop every fresh install; and since generated files are never written through
 * a link, a writable directory no longer lets others redirect a write, only read or replace files.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { assertGeneratedPath } from './fs-atomic.ts';

/** Refuses (exit 2) the first generated file whose path holds a link or anything but a regular file. */
export function assertGeneratedPaths(files: readonly string[]): void {
  for (const file of files) assertGeneratedPath(file);
}

/** Whether every directory above `path` lets others through (o+x): else its mode exposes nothing. */
function reachableByOthers(path: string): boolean {
  let dir: string;
  try {
    dir = dirname(realpathSync.native(path));
  } catch {
    return false;
  }
  for (;;) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dirname(dir) === dir) return true;
    dir = dirname(dir);
  }
}

const mode = (st: { mode: number }) => (Number(st.mode) & 0o7777).toString(8).padStart(4, '0');

/**
 * Warnings for secrets others can read and directories others can write (only where others can
 * reach them: a 0644 file in a 0700 directory exposes nothing):
 * `secrets` are files holding secrets (followed through links: the file is what matters),
 * `dirs` the directories files are written in (a missing one is skipped).
 */
export function exposureWarnings(secrets: readonly string[], dirs: readonly string[]): string[] {
  const warnings: string[] = [];
  for (const file of new Set(secrets)) {
    try {
      const st = statSync(file);
      if (st.isFile() && (st.mode & 0o004) !== 0 && reachableByOthers(file)) {
        warnings.push(`${file} is readable by every user of this machine (mode ${mode(st)}) and holds secrets: chmod 600 ${file}`);
      }
    } catch {
      /* missing: nothing to expose */
    }
  }
  for (const dir of new Set(dirs)) {
    try {
      const st = lstatSync(dir).isSymbolicLink() ? statSync(dir) : lstatSync(dir);
      if (st.isDirectory() && (st.mode & 0o002) !== 0 && reachableByOthers(dir)) {
        warnings.push(`${dir} is writable by every user of this machine (mode ${mode(st)}): others can plant, replace or delete files beside the secrets; chmod o-w ${dir}`);
      }
    } catch {
      /* missing: created 0700 when needed */
    }
  }
  return warnings;
}

/** The directories of `files`, and of what links among them point to. */
export function directoriesOf(files: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const file of files) {
    dirs.add(dirname(file));
    try {
      dirs.add(dirname(realpathSync.native(file)));
    } catch {
      /* missing */
    }
  }
  return [...dirs];
}
