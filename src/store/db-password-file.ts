/**
 * The compose stack's database password file (DB_PASSWORD_FILE_PATH): `.env`'s LLM_PROXY_DB_PASSWORD
 * alone, which postgres reads as POSTGRES_PASSWORD_FILE when it creates its database (and checks on
 * every start). Mode 0600 in a 0700 directory owned by `.env`'s owner; postgres's entrypoint reads it
 * as root with CAP_DAC_READ_SEARCH (docker-compose.yml). The proxy gets the same value through its own
 * env file (DATABASE_PASSWORD, src/resources/env-file/mirror.ts). Replaced atomically, only when it
 * differs; the db-password kind (src/resources/db-password/kind.ts) decides when.
 */
import { dirname } from 'node:path';
import { DB_PASSWORD } from '../config/secret-policy.ts';
import { ensureDirectory } from './agent-file.ts';
import { readGeneratedFileIfAny } from './env-files.ts';
import { writeFileAtomic } from './fs-atomic.ts';

/** The password `.env`'s values give the file; undefined when none is set (nothing to write). */
export function dbPasswordOf(values: Record<string, string>): string | undefined {
  return values[DB_PASSWORD]?.trim() || undefined;
}

/** Does the file differ from `password` (or is it not 0600, or missing)? */
export function dbPasswordFileStale(file: string, password: string): boolean {
  const now = readGeneratedFileIfAny(file);
  return now.content !== password || now.mode !== 0o600;
}

/** Writes the file (0600, its directory created 0700 when missing), replaced atomically. */
export async function writeDbPasswordFile(file: string, password: string, owner: { uid: number; gid: number }): Promise<void> {
  ensureDirectory(dirname(file), owner);
  // A file the bootstrap generates: a link planted at its path is refused, never written through.
  await writeFileAtomic(file, password, { mode: 0o600, ...owner, generated: true });
}
