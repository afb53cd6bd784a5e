/**
 * The compose stack's database password file (DB_PASSWORD_FILE_PATH): `.env`'s LLM_PROXY_DB_PASSWORD
 * alone, which postgres reads as POSTGRES_PASSWORD_FILE when it creates its database (and checks on
 * every start). Mode 0600 in a 0700 directory owned by `.env`'s owner; postgres's entrypoint reads it
 * as root with CAP_DAC_READ_SEARCH (docker-compose.yml). The proxy gets the same value through its own
 * env file (DATABASE_PASSWORD, src/store/mirror.ts). Replaced atomically, only when it differs.
 */
import { dirname } from 'node:path';
import { DB_PASSWORD } from '../config/secret-policy.ts';
import { ensureDirectory } from './agent-file.ts';
import { readGeneratedFileIfAny } from './env-files.ts';
import { writeFileAtomic } from './fs-atomic.ts';

/** Writes the file when `.env` has a password and the file differs (or is not 0600). Returns whether it wrote. */
export async function syncDbPasswordFile(file: string, values: Record<string, string>, owner: { uid: number; gid: number }): Promise<boolean> {
  const password = values[DB_PASSWORD]?.trim();
  if (!password) return false;
  const now = readGeneratedFileIfAny(file);
  if (now.content === password && now.mode === 0o600) return false;
  ensureDirectory(dirname(file), owner);
  await writeFileAtomic(file, password, { mode: 0o600, ...owner });
  return true;
}
