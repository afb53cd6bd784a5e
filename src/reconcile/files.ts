/**
 * The run's file-system chores around the env files: the lock, and checking that what the plan
 * writes is writable before anything changes on the proxy.
 */
import { accessSync, constants, existsSync, lstatSync, readlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EnvFileError } from '../errors.ts';
import type { Logger } from '../log/log.ts';
import type { Lock } from '../store/lock.ts';

/**
 * Fails before anything changes on the proxy if a file the plan writes cannot be written.
 * `dirsCreated`: files whose directory the run creates when it is missing (the agent's env file):
 * then the nearest existing ancestor must be writable.
 */
export async function assertWritable(files: string[], dirsCreated: string[] = []): Promise<void> {
  for (const file of new Set([...files, ...dirsCreated])) {
    let target = file;
    try {
      if (lstatSync(file).isSymbolicLink()) target = resolve(dirname(file), readlinkSync(file));
    } catch {
      /* missing: the directory must be writable */
    }
    let dir = dirname(target);
    if (dirsCreated.includes(file)) while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
    for (const [p, what] of [[target, 'file'], [dir, 'directory']] as const) {
      try {
        accessSync(p, constants.W_OK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && what === 'file') continue;
        throw new EnvFileError(file, `${what === 'file' ? file : `the directory of ${file}`} is not writable (${code})`, {
          hint: 'mount volumes/env read-write and run the bootstrap as the owner of .env (compose: user: "${UID}:${GID}")',
          cause: err,
        });
      }
    }
  }
}

export async function takeLock(lockPath: string, deadline: number, log: Logger): Promise<Lock> {
  let announced = false;
  const { acquireLock } = await import('../store/lock.ts');
  return acquireLock(lockPath, {
    deadline: Math.max(deadline, Date.now() + 15_000),
    onWait: (holder) => {
      if (!announced) log.info({ lock: lockPath, holder }, 'another run holds the lock; waiting for it');
      announced = true;
    },
  });
}
