/**
 * The secret policy (src/config/secret-policy.ts) and the local alias rules (src/config/alias-rules.ts):
 * pure decisions, every case a user can meet.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aliasProblem } from '../../src/config/alias-rules.ts';
import { fillable, judgeSecrets, publishedValues, refusal, secretsToCheck, warningText, type SecretInput } from '../../src/config/secret-policy.ts';
import { EnvDocument } from '../../src/store/env-file.ts';

const template = EnvDocument.parse(readFileSync('volumes/env/.env.template'), '.env.template').values();
const published = publishedValues([template]);
const input = (name: SecretInput['name'], value: string | undefined, inEnvFile = true): SecretInput => ({ name, value, where: '/e/.env line 2', inEnvFile });
const judge = (...inputs: SecretInput[]) => judgeSecrets(inputs, published).map((f) => `${f.name}:${f.problem}:${f.refused ? 'refused' : 'warn'}`);

describe('published values', () => {
  it("are the template's own values of its secrets (master key, salt key, database password), and the docs' sk-1234", () => {
    expect(published).toEqual(new Set(['sk-1234', template.LITELLM_MASTER_KEY, template.LITELLM_SALT_KEY, template.LLM_PROXY_DB_PASSWORD]));
    expect(template.LITELLM_MASTER_KEY).toMatch(/^sk-/); // a real placeholder, not empty
  });

  it('ignore a template that leaves a secret empty', () => {
    expect(publishedValues([{ LITELLM_MASTER_KEY: '', LITELLM_SALT_KEY: '  ' }])).toEqual(new Set(['sk-1234']));
  });
});

describe('judging the master key and the salt key', () => {
  it('refuses a master key that is empty, the docs example or a template placeholder (either one)', () => {
    expect(judge(input('LITELLM_MASTER_KEY', ''))).toEqual(['LITELLM_MASTER_KEY:empty:refused']);
    expect(judge(input('LITELLM_MASTER_KEY', 'sk-1234'))).toEqual(['LITELLM_MASTER_KEY:docs-example:refused']);
    expect(judge(input('LITELLM_MASTER_KEY', template.LITELLM_MASTER_KEY))).toEqual(['LITELLM_MASTER_KEY:published:refused']);
    expect(judge(input('LITELLM_MASTER_KEY', template.LITELLM_SALT_KEY))).toEqual(['LITELLM_MASTER_KEY:published:refused']);
  });

  it('refuses a salt key that is published; warns when it is not set', () => {
    expect(judge(input('LITELLM_SALT_KEY', template.LITELLM_SALT_KEY))).toEqual(['LITELLM_SALT_KEY:published:refused']);
    expect(judge(input('LITELLM_SALT_KEY', 'sk-1234'))).toEqual(['LITELLM_SALT_KEY:docs-example:refused']);
    expect(judge(input('LITELLM_SALT_KEY', undefined))).toEqual(['LITELLM_SALT_KEY:no-salt:warn']);
    expect(judge(input('LITELLM_SALT_KEY', ''))).toEqual(['LITELLM_SALT_KEY:no-salt:warn']);
  });

  it('warns about a master key without the sk- prefix; accepts good values silently; lists refusals first', () => {
    expect(judge(input('LITELLM_MASTER_KEY', 'long-random-but-no-prefix'))).toEqual(['LITELLM_MASTER_KEY:no-sk-prefix:warn']);
    expect(judge(input('LITELLM_MASTER_KEY', 'sk-a1b2c3d4e5f6'), input('LITELLM_SALT_KEY', 'sk-f6e5d4c3b2a1'))).toEqual([]);
    expect(judge(input('LITELLM_SALT_KEY', undefined), input('LITELLM_MASTER_KEY', 'sk-1234'))).toEqual(['LITELLM_MASTER_KEY:docs-example:refused', 'LITELLM_SALT_KEY:no-salt:warn']);
  });

  it('only a template placeholder read from .env can be filled in on a first start', () => {
    const [fromFile] = judgeSecrets([input('LITELLM_SALT_KEY', template.LITELLM_SALT_KEY)], published);
    const [fromEnv] = judgeSecrets([input('LITELLM_SALT_KEY', template.LITELLM_SALT_KEY, false)], published);
    const [example] = judgeSecrets([input('LITELLM_MASTER_KEY', 'sk-1234')], published);
    expect([fillable(fromFile!), fillable(fromEnv!), fillable(example!)]).toEqual([true, false, false]);
  });
});

describe("the compose stack's database password (LLM_PROXY_DB_PASSWORD)", () => {
  const file = (values: Record<string, string>) => ({ path: '/e/.env', values, lineOf: (name: string) => Object.keys(values).indexOf(name) + 1 || undefined });
  const stack = (values: Record<string, string>, dbPassword = true) =>
    judgeSecrets(secretsToCheck({ masterKey: 'sk-a1b2c3d4e5f6', masterKeySource: '/e/.env line 1', file: file({ LITELLM_MASTER_KEY: 'sk-a1b2c3d4e5f6', LITELLM_SALT_KEY: 'sk-f6e5d4c3b2a1', ...values }), env: {}, dbPassword }), published);

  it("is judged only when the stack asks for it (DB_PASSWORD_FILE_PATH): outside compose a .env without it is fine", () => {
    expect(stack({}, false)).toEqual([]);
    expect(stack({ LLM_PROXY_DB_PASSWORD: 'sk-0123456789abcdef' })).toEqual([]);
  });

  it("a database anyone can log into is refused: unset, compose's former default `litellm`, the template's placeholder, or a value that would break the URL", () => {
    const problems = (v: string | undefined) => stack(v === undefined ? {} : { LLM_PROXY_DB_PASSWORD: v }).map((f) => `${f.problem}:${f.refused}`);
    expect(problems(undefined)).toEqual(['empty:true']);
    expect(problems('')).toEqual(['empty:true']);
    expect(problems('litellm')).toEqual(['former-default:true']);
    expect(problems(template.LLM_PROXY_DB_PASSWORD)).toEqual(['published:true']);
    expect(problems('p@ss/word')).toEqual(['not-url-safe:true']);
  });

  it('on a first start a missing value or the placeholder is filled in; `litellm` is not (a database may already have it): its refusal says how to change it inside the database', () => {
    const [missing] = stack({});
    const [placeholder] = stack({ LLM_PROXY_DB_PASSWORD: template.LLM_PROXY_DB_PASSWORD! });
    const [former] = stack({ LLM_PROXY_DB_PASSWORD: 'litellm' });
    expect([fillable(missing!), fillable(placeholder!), fillable(former!)]).toEqual([true, true, false]);
    const err = refusal([former!]);
    const line = `${err.message}. ${err.hint}`;
    expect(line).toContain('LLM_PROXY_DB_PASSWORD (/e/.env line 3) is the password docker-compose.yml used to default to');
    expect(line).toContain('ALTER USER litellm PASSWORD');
    expect(err.exitCode).toBe(2);
  });
});

describe('what is judged', () => {
  const file = (values: Record<string, string>) => ({ path: '/e/.env', values, lineOf: (name: string) => Object.keys(values).indexOf(name) + 1 || undefined });

  it("file mode: the resolved master key, .env's own master key when the environment overrides it (the proxy gets .env's), and .env's salt key", () => {
    const inputs = secretsToCheck({ masterKey: 'sk-from-env-000', masterKeySource: 'the process environment', file: file({ LITELLM_MASTER_KEY: 'sk-1234', LITELLM_SALT_KEY: 'sk-s' }), env: {} });
    expect(inputs).toEqual([
      { name: 'LITELLM_MASTER_KEY', value: 'sk-from-env-000', where: 'the process environment', inEnvFile: false },
      { name: 'LITELLM_MASTER_KEY', value: 'sk-1234', where: '/e/.env line 1', inEnvFile: true },
      { name: 'LITELLM_SALT_KEY', value: 'sk-s', where: '/e/.env line 2', inEnvFile: true },
    ]);
  });

  it("Secret mode: the master key, and the salt key only when the environment has one", () => {
    expect(secretsToCheck({ masterKey: 'sk-m', masterKeySource: 'the process environment', file: undefined, env: {} })).toHaveLength(1);
    expect(secretsToCheck({ masterKey: 'sk-m', masterKeySource: 'the process environment', file: undefined, env: { LITELLM_SALT_KEY: 'sk-1234' } })[1]).toEqual({ name: 'LITELLM_SALT_KEY', value: 'sk-1234', where: 'the process environment', inEnvFile: false });
  });
});

describe('messages', () => {
  it('a refusal names each setting and where it was read, gives the command, never a value; exit 2', () => {
    const err = refusal(judgeSecrets([input('LITELLM_MASTER_KEY', template.LITELLM_MASTER_KEY), { ...input('LITELLM_SALT_KEY', template.LITELLM_SALT_KEY), where: '/e/.env line 3' }], published), 'a note');
    const line = `${err.message}. ${err.hint}`;
    expect(err.exitCode).toBe(2);
    expect(line).toContain('LITELLM_MASTER_KEY (/e/.env line 2) is the placeholder published in .env.template');
    expect(line).toContain('LITELLM_SALT_KEY (/e/.env line 3)');
    expect(line).toContain('echo "sk-$(openssl rand -hex 24)"');
    expect(line).toContain('a note');
    expect(line).not.toContain(template.LITELLM_MASTER_KEY);
    expect(line).not.toContain(template.LITELLM_SALT_KEY);
    expect(line).not.toMatch(/\n/);
  });

  it('a warning says why and what to do', () => {
    const [f] = judgeSecrets([input('LITELLM_SALT_KEY', undefined)], published);
    expect(warningText(f!)).toMatch(/LITELLM_SALT_KEY \(\/e\/\.env line 2\) is not set: LiteLLM then encrypts .* with LITELLM_MASTER_KEY.*openssl rand/);
  });
});

describe('alias rules every current LiteLLM enforces', () => {
  it('refuses "..", control characters and line breaks (PR #32092), "-" and blank (PR #22384)', () => {
    for (const bad of ['..', 'a..b', 'release-1.0..2', '../x', 'a\tb', 'a\nb', 'a\u0000b', 'a\u007fb', 'a\u0085b', 'a\u2028b', 'a\u2029b', '-', '', '   ']) expect(aliasProblem(bad), JSON.stringify(bad)).toBeDefined();
  });

  it('accepts what LiteLLM accepts without a pattern: spaces, "/", "@", ".", a leading "-"', () => {
    for (const ok of ['task-agent default', 'prod/my-service-key', 'team/user@example.com', 'v1.2', '-lead', 'é#?']) expect(aliasProblem(ok), ok).toBeUndefined();
  });
});
