/**
 * Zero-config start: when `.env` does not exist, create it from the template with a fresh
 * random LITELLM_MASTER_KEY, LITELLM_SALT_KEY and LLM_PROXY_DB_PASSWORD. Never overwrites: the file is written whole
 * to a 0600 temp file in the same directory, fsync'ed, then hard-linked to its name, which
 * fails when a file is already there (so two runs at once create it once, and a crash leaves
 * either no `.env` or a complete one; the temp file is removed by the next locked run).
 * The new file belongs to the user the process runs as (compose: `UID:GID`).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fsyncSync, linkSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EnvFileError } from '../errors.ts';
import { EnvDocument } from './env-file.ts';
import { createTemp } from './fs-atomic.ts';

declare const __ENV_TEMPLATE__: string | undefined;

/** The variables a created `.env` gets fresh values for (the last one: the compose stack's database password). */
export const GENERATED = ['LITELLM_MASTER_KEY', 'LITELLM_SALT_KEY', 'LLM_PROXY_DB_PASSWORD'] as const;

/** "A, B and C", as summaries name what was generated. */
export function listed(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** `sk-` + 48 hex characters (192 random bits), the shape LiteLLM documents for both keys (URL-safe, so also a database password). */
export function randomSecret(): string {
  return `sk-${randomBytes(24).toString('hex')}`;
}

/**
 * The template: `.env.template` beside `.env` when there is one (a clone's volumes/env/),
 * else the copy built into the bundle (scripts/build.mjs), else the repository's (unbundled runs).
 */
export function readTemplate(envFile: string): { text: string; from: string } {
  const beside = join(dirname(envFile), '.env.template');
  if (existsSync(beside)) return { text: readFileSync(beside, 'utf8'), from: beside };
  if (typeof __ENV_TEMPLATE__ === 'string') return { text: __ENV_TEMPLATE__, from: 'the built-in template' };
  const repo = join(process.cwd(), 'volumes/env/.env.template'); // unbundled (tests, tsx) run from the repository
  return { text: readFileSync(repo, 'utf8'), from: repo };
}

/**
 * Every template a user may have copied `.env` from: the one beside `.env` (when there is one)
 * and the one this build ships. Their values of GENERATED are published placeholders.
 */
export function publishedTemplates(envFile: string): string[] {
  const texts = [readTemplate(envFile).text];
  if (typeof __ENV_TEMPLATE__ === 'string' && !texts.includes(__ENV_TEMPLATE__)) texts.push(__ENV_TEMPLATE__);
  return texts;
}

/** The template with fresh values for GENERATED, and a first line saying so. Pure but for the randomness. */
export function envFromTemplate(template: string, file: string, secret: () => string = randomSecret): Buffer {
  const header = `# Created by llm-proxy-bootstrap from .env.template with a fresh random ${listed(GENERATED)}.\n`;
  let doc = EnvDocument.parse(header + template, file);
  for (const name of GENERATED) doc = doc.set(name, secret());
  return doc.toBuffer();
}

/** Creates `file` from the template when it does not exist. Returns whether it did. */
export function createEnvFileIfMissing(file: string): { created: false } | { created: true; from: string } {
  if (existsSync(file)) return { created: false };
  const { text, from } = readTemplate(file);
  const bytes = envFromTemplate(text, file);
  let temp = '';
  let fd: number | undefined;
  try {
    ({ path: temp, fd } = createTemp(file));
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    try {
      linkSync(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { created: false }; // another run was first
      // Our temp file is gone: a locked run removed it as a killed run's (temp files carry no pid). Again.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(dirname(file))) return createEnvFileIfMissing(file);
      throw err;
    }
    // The directory entry must survive a crash too.
    const dirFd = openSync(dirname(file), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return { created: true, from };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new EnvFileError(file, `${file} does not exist and cannot be created from the template (${code})`, {
      hint: 'make its directory writable by the user the bootstrap runs as (compose: UID/GID, default 1000), or create .env yourself from volumes/env/.env.template',
      cause: err,
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (temp) rmSync(temp, { force: true });
  }
}
