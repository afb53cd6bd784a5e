/**
 * Published and weak secrets. A master or salt key anyone can read (the template's placeholders,
 * the example key of LiteLLM's docs) is bad input: refused (exit 2) before any request and before
 * `--mirror-only` hands it to the proxy. What the proxy accepts but is worth knowing (a master key
 * without LiteLLM's documented `sk-` prefix, no salt key) is a warning. Pure: values in, findings out;
 * a message names the setting and where it was read, never the value.
 */
import { ConfigError } from '../errors.ts';
import { MAKE_SECRET_COMMAND } from './settings.ts';

export const SECRET_NAMES = ['LITELLM_MASTER_KEY', 'LITELLM_SALT_KEY', 'LLM_PROXY_DB_PASSWORD'] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/**
 * The example master key of LiteLLM's docs. Newer LiteLLM versions refuse to start with it (or
 * with an empty one); others start and lock key management and stored credentials (403).
 */
export const DOCS_EXAMPLE_KEY = 'sk-1234';

/** The compose stack's database password (postgres and the proxy's DATABASE_URL), judged when the stack asks for it (DB_PASSWORD_FILE_PATH). */
export const DB_PASSWORD = 'LLM_PROXY_DB_PASSWORD';
/** What docker-compose.yml gave postgres before the password was generated: a database created then still has it. */
export const FORMER_DB_PASSWORD = 'litellm';
/** What a database password may hold: it goes into the proxy's DATABASE_URL unescaped (volumes/litellm/with-env-file.sh). */
export const DB_PASSWORD_SHAPE = /^[A-Za-z0-9._~-]+$/;

export interface SecretInput {
  name: SecretName;
  /** The value as read; undefined: not set. */
  value: string | undefined;
  /** Where it was read, as messages say it: `/path/.env line 3`, `the process environment`. */
  where: string;
  /** Read from the `.env` file (so a fresh value can be written in its place). */
  inEnvFile: boolean;
}

export type Problem = 'empty' | 'docs-example' | 'published' | 'no-sk-prefix' | 'no-salt' | 'former-default' | 'not-url-safe';

export interface Finding {
  name: SecretName;
  where: string;
  inEnvFile: boolean;
  problem: Problem;
  /** Refused (exit 2); otherwise a warning. */
  refused: boolean;
}

/** The published values: what the templates assign to either secret (empty ones aside), and the docs' example. */
export function publishedValues(templates: readonly Record<string, string>[]): Set<string> {
  const values = new Set<string>([DOCS_EXAMPLE_KEY]);
  for (const t of templates) for (const name of SECRET_NAMES) if ((t[name] ?? '').trim() !== '') values.add(t[name]!.trim());
  return values;
}

export interface SecretSources {
  /** The resolved master key (settings) and where it came from. */
  masterKey: string;
  masterKeySource: string;
  /** `.env` (file mode): its values and the line of each; undefined in Secret mode. */
  file: { path: string; values: Record<string, string>; lineOf: (name: string) => number | undefined } | undefined;
  /** The process environment (Secret mode: the salt key, when the Job is given one). */
  env: NodeJS.ProcessEnv;
  /** The compose stack's database password is required (DB_PASSWORD_FILE_PATH set, file mode). */
  dbPassword?: boolean;
}

/**
 * The values to judge. The bootstrap's master key as resolved; in file mode also `.env`'s own
 * values, which are what `.env.litellm` hands the proxy (a process-environment override reaches
 * only the bootstrap). In Secret mode the salt key only when the environment has one.
 */
export function secretsToCheck(s: SecretSources): SecretInput[] {
  const inputs: SecretInput[] = [{ name: 'LITELLM_MASTER_KEY', value: s.masterKey, where: s.masterKeySource, inEnvFile: s.file !== undefined && s.masterKeySource.startsWith(s.file.path) }];
  const f = s.file;
  const at = (name: string) => (f ? `${f.path}${f.lineOf(name) ? ` line ${f.lineOf(name)}` : ''}` : 'the process environment');
  if (f) {
    const own = f.values.LITELLM_MASTER_KEY;
    if (own !== undefined && own.trim() !== '' && own.trim() !== s.masterKey) inputs.push({ name: 'LITELLM_MASTER_KEY', value: own.trim(), where: at('LITELLM_MASTER_KEY'), inEnvFile: true });
    inputs.push({ name: 'LITELLM_SALT_KEY', value: f.values.LITELLM_SALT_KEY?.trim(), where: at('LITELLM_SALT_KEY'), inEnvFile: true });
    if (s.dbPassword) inputs.push({ name: DB_PASSWORD, value: f.values[DB_PASSWORD]?.trim(), where: at(DB_PASSWORD), inEnvFile: true });
  } else if (s.env.LITELLM_SALT_KEY !== undefined) {
    inputs.push({ name: 'LITELLM_SALT_KEY', value: s.env.LITELLM_SALT_KEY.trim(), where: 'the process environment', inEnvFile: false });
  }
  return inputs;
}

/** Every finding about `inputs`, refusals first. */
export function judgeSecrets(inputs: readonly SecretInput[], published: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  const add = (i: SecretInput, problem: Problem, refused: boolean) => findings.push({ name: i.name, where: i.where, inEnvFile: i.inEnvFile, problem, refused });
  for (const i of inputs) {
    const v = i.value ?? '';
    if (i.name === 'LITELLM_MASTER_KEY') {
      if (v === '') add(i, 'empty', true);
      else if (v === DOCS_EXAMPLE_KEY) add(i, 'docs-example', true);
      else if (published.has(v)) add(i, 'published', true);
      else if (!v.startsWith('sk-')) add(i, 'no-sk-prefix', false);
    } else if (i.name === DB_PASSWORD) {
      if (v === '') add(i, 'empty', true);
      else if (v === FORMER_DB_PASSWORD) add(i, 'former-default', true);
      else if (published.has(v)) add(i, 'published', true);
      else if (!DB_PASSWORD_SHAPE.test(v)) add(i, 'not-url-safe', true);
    } else if (v === '') add(i, 'no-salt', false);
    else if (published.has(v)) add(i, v === DOCS_EXAMPLE_KEY ? 'docs-example' : 'published', true);
  }
  return findings.sort((a, b) => Number(b.refused) - Number(a.refused));
}

/** A refusal that `--mirror-only` may undo on a provable first start: a template placeholder read from `.env`. */
export function fillable(f: Finding): boolean {
  return f.refused && f.inEnvFile && (f.problem === 'published' || (f.problem === 'empty' && f.name === DB_PASSWORD));
}

function what(f: Finding): string {
  const subject = `${f.name} (${f.where})`;
  switch (f.problem) {
    case 'empty':
      return f.name === DB_PASSWORD ? `${subject} is not set: the compose stack's database and proxy need it` : `${subject} is empty`;
    case 'former-default':
      return `${subject} is the password docker-compose.yml used to default to, known to anyone`;
    case 'not-url-safe':
      return `${subject} holds characters other than letters, digits and . _ ~ - (it goes into the proxy's DATABASE_URL as it is)`;
    case 'docs-example':
      return `${subject} is the example key of LiteLLM's docs, known to anyone`;
    case 'published':
      return `${subject} is the placeholder published in .env.template, known to anyone who reads the repository`;
    case 'no-sk-prefix':
      return `${subject} does not start with sk-, the prefix LiteLLM documents for it (the proxy accepts it)`;
    case 'no-salt':
      return `${subject} is not set: LiteLLM then encrypts the credentials it stores with LITELLM_MASTER_KEY, so rotating the master key later makes them unreadable`;
  }
}

/** The one-line warning for a finding that is not refused. */
export function warningText(f: Finding): string {
  return `${what(f)}; set it once to the output of ${MAKE_SECRET_COMMAND}`;
}

/**
 * Exit 2 for the refused findings: one line naming each setting and where it was read, and the
 * command that makes a good value. `note` ends the hint (e.g. why `--mirror-only` did not fill it in).
 */
export function refusal(findings: readonly Finding[], note?: string): ConfigError {
  const refused = findings.filter((f) => f.refused);
  const names = [...new Set(refused.map((f) => f.name))];
  const salt = names.includes('LITELLM_SALT_KEY') ? ' (for LITELLM_SALT_KEY: before the proxy stores credentials with it; they cannot be read after it changes)' : '';
  const db = names.includes(DB_PASSWORD)
    ? ` (for ${DB_PASSWORD}: the database keeps the password it was created with, so change it there first, e.g. \`docker compose exec llm-proxy-db psql -U litellm -d litellm -c "ALTER USER litellm PASSWORD '<new>'"\`, then set the same value in .env and run \`docker compose up -d --force-recreate llm-proxy\`)`
    : '';
  return new ConfigError(`refusing a published or empty secret: ${refused.map(what).join('; ')}`, {
    hint: `set ${names.join(' and ')} to a fresh value each, the output of ${MAKE_SECRET_COMMAND}${salt}${db}${note ? `; ${note}` : ''}`,
  });
}
