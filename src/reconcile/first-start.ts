/**
 * `--mirror-only` on a provable first start: `.env` was copied from the template by hand and still
 * holds its published placeholders. The proxy has never started from this directory when neither
 * its env file (`.env.litellm`, written by this step before the proxy starts) nor the ledger (written
 * when a key is issued) exists: nothing can have been encrypted with the placeholder salt key and no
 * client can know the placeholder master key as this proxy's. Then the placeholders are replaced with
 * fresh random values, in place (every other byte of `.env` kept, the file replaced atomically, under
 * the lock). In any other case the caller refuses (exit 2).
 */
import { existsSync } from 'node:fs';
import type { SecretName } from '../config/secret-policy.ts';
import type { Logger } from '../log/log.ts';
import { randomSecret } from '../store/env-init.ts';
import { readEnvFile, type EnvFileState } from '../store/env-files.ts';
import { writeFileAtomic } from '../store/fs-atomic.ts';
import { Ledger } from '../store/ledger.ts';

export interface FirstStartInput {
  envFile: string;
  litellmEnvFile: string;
  /** The settings holding a published placeholder in `.env`. */
  names: readonly SecretName[];
  published: ReadonlySet<string>;
  waitSeconds: number;
  log: Logger;
}

/** Why this is not a provable first start, or undefined when it is. */
export function notFirstStart(envFile: string, litellmEnvFile: string): string | undefined {
  if (existsSync(litellmEnvFile)) return `${litellmEnvFile} exists, so the proxy may have started with these values`;
  const ledger = Ledger.pathFor(envFile);
  if (existsSync(ledger)) return `${ledger} exists, so keys were issued from this directory`;
  return undefined;
}

/**
 * Replaces the placeholders with fresh values when this is a provable first start. Returns `.env` as
 * it is now and the settings it generated, or the reason it did not.
 */
export async function fillOnFirstStart(input: FirstStartInput): Promise<{ mainEnv: EnvFileState; generated: SecretName[] } | { reason: string }> {
  const before = notFirstStart(input.envFile, input.litellmEnvFile);
  if (before) return { reason: before };
  const { acquireLock } = await import('../store/lock.ts');
  const lock = await acquireLock(`${input.envFile}.lock`, { deadline: Date.now() + Math.max(input.waitSeconds * 1000, 15_000) });
  try {
    // Under the lock, from .env as it is now: another run may have filled them in meanwhile.
    const why = notFirstStart(input.envFile, input.litellmEnvFile);
    if (why) return { reason: why };
    const now = await readEnvFile(input.envFile);
    const generated = input.names.filter((name) => input.published.has((now.doc.get(name) ?? '').trim()));
    if (generated.length > 0) {
      const fresh = Object.fromEntries(generated.map((name) => [name, randomSecret()]));
      await writeFileAtomic(input.envFile, now.doc.setAll(fresh).toBuffer());
      input.log.info({ file: input.envFile, generated }, `first start: generated a fresh random ${generated.join(' and ')} in ${input.envFile} in place of the template's published placeholder (the proxy never started from this directory)`);
    }
    return { mainEnv: await readEnvFile(input.envFile), generated };
  } finally {
    await lock.release().catch(() => undefined);
  }
}
