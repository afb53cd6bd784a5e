/**
 * The master and salt keys, judged before any request (src/config/secret-policy.ts): warnings are
 * logged, refusals exit 2, except `--mirror-only` on a provable first start: `.env` was copied from
 * the template by hand and still holds its published placeholders. The proxy has never started from this directory when neither
 * its env file (`.env.litellm`, written by this step before the proxy starts) nor the ledger (written
 * when a key is issued) exists: nothing can have been encrypted with the placeholder salt key and no
 * client can know the placeholder master key as this proxy's. Then the placeholders are replaced with
 * fresh random values, in place (every other byte of `.env` kept, the file replaced atomically, under
 * the lock). The compose stack's database password (DB_PASSWORD_FILE_PATH set) is filled in the same
 * way when it is the placeholder or missing: postgres creates its database with it on that first start. In any other case the caller refuses (exit 2).
 */
import { existsSync } from 'node:fs';
import { DB_PASSWORD, fillable, judgeSecrets, publishedValues, refusal, secretsToCheck, warningText, type SecretName } from '../config/secret-policy.ts';
import type { Settings } from '../config/settings.ts';
import { EnvDocument } from '../store/env-file.ts';
import type { Logger } from '../log/log.ts';
import { declarePublic } from '../log/redact.ts';
import { listed, publishedTemplates, randomSecret } from '../store/env-init.ts';
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
    const generated = input.names.filter((name) => {
      const value = (now.doc.get(name) ?? '').trim();
      return input.published.has(value) || (name === DB_PASSWORD && value === '');
    });
    if (generated.length > 0) {
      const fresh = Object.fromEntries(generated.map((name) => [name, randomSecret()]));
      await writeFileAtomic(input.envFile, now.doc.setAll(fresh).toBuffer());
      input.log.info({ file: input.envFile, generated }, `first start: generated a fresh random ${listed(generated)} in ${input.envFile} in place of the template's published placeholder or a missing value (the proxy never started from this directory)`);
    }
    return { mainEnv: await readEnvFile(input.envFile), generated };
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/**
 * Judges the master and salt keys (src/config/secret-policy.ts): warnings are logged, refusals end
 * the run (exit 2), unless `fill` (--mirror-only applying) may replace the template's placeholders on
 * a provable first start (fillOnFirstStart below).
 */
export async function guardSecrets(o: { settings: Settings; mainEnv: EnvFileState | undefined; env: NodeJS.ProcessEnv; fill: boolean; log: Logger }): Promise<{ mainEnv: EnvFileState | undefined; generated: SecretName[] }> {
  const { settings, mainEnv } = o;
  const file = mainEnv && { path: settings.envFilePath, values: mainEnv.doc.values(), lineOf: (name: string) => mainEnv.doc.assignments(name).at(-1)?.line };
  const inputs = secretsToCheck({ masterKey: settings.masterKey, masterKeySource: settings.masterKeySource, file, env: o.env, dbPassword: settings.dbPasswordFilePath !== undefined });
  // A value that is not in a template's text cannot be one of its placeholders: parse only the templates that may hold one.
  const templates = publishedTemplates(settings.envFilePath).filter((text) => inputs.some((i) => i.value && text.includes(i.value)));
  const published = publishedValues(templates.map((text) => EnvDocument.parse(text, '.env.template').values()));
  // A placeholder is public: its pieces ("database", "password") are everyday words in messages.
  declarePublic(published);
  const findings = judgeSecrets(inputs, published);
  const refused = findings.filter((f) => f.refused);
  if (refused.length > 0) {
    let note: string | undefined;
    if (o.fill && mainEnv && refused.every(fillable)) {
      const filled = await fillOnFirstStart({ envFile: settings.envFilePath, litellmEnvFile: settings.litellmEnvFilePath, names: [...new Set(refused.map((f) => f.name))], published, waitSeconds: settings.waitSeconds, log: o.log });
      if ('mainEnv' in filled) return filled;
      note = `this is not a first start (${filled.reason}): the bootstrap replaces the template's placeholders itself only before the proxy ever started from this directory`;
    } else if (mainEnv && refused.every(fillable)) {
      note = 'before the first start (no .env.litellm yet), `docker compose run --rm llm-proxy-init` replaces the template\'s placeholders itself';
    }
    throw refusal(refused, note);
  }
  for (const f of findings) o.log.warn({ setting: f.name }, warningText(f));
  return { mainEnv, generated: [] };
}
