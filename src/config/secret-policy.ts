/**
 * Published and weak secrets. A master or salt key anyone can read (the template's placeholders,
 * the example key of LiteLLM's docs) is bad input: refused (exit 2) before any request and before
 * `--mirror-only` hands it to the proxy. What the proxy accepts but is worth knowing (a master key
 * without LiteLLM's documented `sk-` prefix, no salt key) is a warning. Pure: values in, findings out;
 * a message names the setting and where it was read, never the value.
 */
import { ConfigError } from '../errors.ts';
import { MAKE_SECRET_COMMAND } from './settings.ts';

export const SECRET_NAMES = ['LITELLM_MASTER_KEY', 'LITELLM_SALT_KEY'] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

/**
 * The example master key of LiteLLM's docs. Newer LiteLLM versions refuse to start with it (or
 * with an empty one); others start and lock key management and stored credentials (403).
 */
export const DOCS_EXAMPLE_KEY = 'sk-1234';

export interface SecretInput {
  name: SecretName;
  /** The value as read; undefined: not set. */
  value: string | undefined;
  /** Where it was read, as messages say it: `/path/.env line 3`, `the process environment`. */
  where: string;
  /** Read from the `.env` file (so a fresh value can be written in its place). */
  inEnvFile: boolean;
}

export type Problem = 'empty' | 'docs-example' | 'published' | 'no-sk-prefix' | 'no-salt';

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
    } else if (v === '') add(i, 'no-salt', false);
    else if (published.has(v)) add(i, v === DOCS_EXAMPLE_KEY ? 'docs-example' : 'published', true);
  }
  return findings.sort((a, b) => Number(b.refused) - Number(a.refused));
}

/** A refusal that `--mirror-only` may undo on a provable first start: a template placeholder read from `.env`. */
export function fillable(f: Finding): boolean {
  return f.refused && f.problem === 'published' && f.inEnvFile;
}

function what(f: Finding): string {
  const subject = `${f.name} (${f.where})`;
  switch (f.problem) {
    case 'empty':
      return `${subject} is empty`;
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
  return new ConfigError(`refusing a published or empty secret: ${refused.map(what).join('; ')}`, {
    hint: `set ${names.join(' and ')} to a fresh value each, the output of ${MAKE_SECRET_COMMAND}${salt}${note ? `; ${note}` : ''}`,
  });
}
