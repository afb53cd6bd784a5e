/**
 * Provider settings beyond the key reach the proxy (issue 18): a user who follows the docs for
 * Ollama, Azure OpenAI or Bedrock sets LITELLM_<PROVIDER>_API_BASE / _API_VERSION and
 * LITELLM_PROXY_ENV_<NAME> in .env, and the proxy's env file holds them under the names LiteLLM
 * reads. A pass-through aimed at a name of ours is refused before anything is written. The built
 * CLI as a process, real files, the stand-in on loopback.
 */
import { describe, expect, it } from 'vitest';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'dotenv';
import { watchSecrets } from '../support/cli.ts';
import { scenarioLab } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-Jx7Rb2Kq9Wm4Tz1Nv6Lc';
const AZURE_KEY = 'azure-key-PROVIDERSETTINGS0123456789abcdef';
const OLLAMA_BASE = 'http://host.docker.internal:11434';
const AZURE_BASE = 'https://my-resource.openai.azure.com';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYPROVIDERSETTINGS';
const AWS_KEY_ID = 'AKIAPROVIDERSETTINGS7';
/** Every run of this file fails if it prints any 8-character piece of one of these (support/cli.ts). */
watchSecrets(MASTER, AZURE_KEY, OLLAMA_BASE, AZURE_BASE, AWS_SECRET, AWS_KEY_ID);

const ENV = `# LLM proxy settings
LITELLM_MASTER_KEY=${MASTER}
LITELLM_DEFAULT_MODELS=ollama/llama3.2,azure/my-gpt-4o,bedrock/anthropic.claude-3-haiku-20240307-v1:0

# Ollama on the host, Azure OpenAI, Bedrock
LITELLM_OLLAMA_API_BASE=${OLLAMA_BASE}
LITELLM_AZURE_API_KEY=${AZURE_KEY}
LITELLM_AZURE_API_BASE=${AZURE_BASE}
LITELLM_AZURE_API_VERSION=2024-10-21
LITELLM_PROXY_ENV_AWS_REGION_NAME=eu-central-1
LITELLM_PROXY_ENV_AWS_ACCESS_KEY_ID=${AWS_KEY_ID}
LITELLM_PROXY_ENV_AWS_SECRET_ACCESS_KEY=${AWS_SECRET}

# The agent's key, written by the bootstrap
OPENAI_API_KEY=sk-proxy-default
`;

const lab = scenarioLab({ template: ENV, proxy: { masterKey: MASTER, models: ['ollama/*', 'azure/*', 'bedrock/*'] } });
const { proxy, dir, run } = lab;
const litellm = async () => parse(await dir.readLitellm());
const files = async () => (await readdir(dir.dir)).sort();

describe("provider settings reach the proxy's env file under LiteLLM's names", () => {
  it('a run writes OLLAMA_API_BASE, AZURE_API_BASE, AZURE_API_VERSION and the passed-through AWS_* (0600); the summary names them, no value; the models need nothing more', async () => {
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(await litellm()).toEqual({
      LITELLM_MASTER_KEY: MASTER,
      OLLAMA_API_BASE: OLLAMA_BASE,
      AZURE_API_KEY: AZURE_KEY,
      AZURE_API_BASE: AZURE_BASE,
      AZURE_API_VERSION: '2024-10-21',
      AWS_REGION_NAME: 'eu-central-1',
      AWS_ACCESS_KEY_ID: AWS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: AWS_SECRET,
    });
    expect((await stat(dir.litellm)).mode & 0o777).toBe(0o600);
    expect(r.last).toContain('1 provider secret(s) mirrored; provider settings mirrored: AWS_ACCESS_KEY_ID, AWS_REGION_NAME, AWS_SECRET_ACCESS_KEY, AZURE_API_BASE, AZURE_API_VERSION, OLLAMA_API_BASE');
    expect(r.last).not.toMatch(/still to set/);
    // The key the agent got may use those models.
    expect(proxy.keys()).toHaveLength(1);
    expect(proxy.keys()[0]!.models).toEqual(['ollama/llama3.2', 'azure/my-gpt-4o', 'bedrock/anthropic.claude-3-haiku-20240307-v1:0']);
  });

  it('--mirror-only (compose llm-proxy-init, before the proxy starts) writes the same file and asks the proxy nothing', async () => {
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(0);
    expect(await litellm()).toMatchObject({ OLLAMA_API_BASE: OLLAMA_BASE, AZURE_API_BASE: AZURE_BASE, AZURE_API_VERSION: '2024-10-21', AWS_REGION_NAME: 'eu-central-1' });
    expect((await stat(dir.litellm)).mode & 0o777).toBe(0o600);
    expect(r.last).toContain('provider settings mirrored: AWS_ACCESS_KEY_ID, AWS_REGION_NAME, AWS_SECRET_ACCESS_KEY, AZURE_API_BASE, AZURE_API_VERSION, OLLAMA_API_BASE');
    expect(proxy.requests).toHaveLength(0);
  });

  it('Ollama without its API base: the summary says LITELLM_OLLAMA_API_BASE is still to set (not an API key it has no use for)', async () => {
    await dir.write(ENV.replace(`LITELLM_OLLAMA_API_BASE=${OLLAMA_BASE}`, 'LITELLM_OLLAMA_API_BASE='));
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.last).toMatch(/still to set in \S+: LITELLM_OLLAMA_API_BASE \(/);
    expect((await litellm())['OLLAMA_API_BASE']).toBeUndefined();
  });
});

describe("the template's commented examples", () => {
  it('uncommented (and filled in), the Ollama, Azure and Bedrock lines of volumes/env/.env.template reach the proxy under the names its docs give', async () => {
    let text = await readFile('volumes/env/.env.template', 'utf8');
    const examples = [...text.matchAll(/^# ((LITELLM_(?:OLLAMA|AZURE)_API_[A-Z]+|LITELLM_PROXY_ENV_AWS_[A-Z_]+)=.*)$/gm)];
    expect(examples.map((m) => m[2])).toEqual(['LITELLM_OLLAMA_API_BASE', 'LITELLM_AZURE_API_KEY', 'LITELLM_AZURE_API_BASE', 'LITELLM_AZURE_API_VERSION', 'LITELLM_PROXY_ENV_AWS_ACCESS_KEY_ID', 'LITELLM_PROXY_ENV_AWS_SECRET_ACCESS_KEY', 'LITELLM_PROXY_ENV_AWS_REGION_NAME']);
    for (const [line, assignment] of examples) text = text.replace(line, assignment!.endsWith('=') ? `${assignment}filled-in-value` : assignment!);
    text = text.replace('LITELLM_MASTER_KEY=sk-change-me-to-a-long-random-value', `LITELLM_MASTER_KEY=${MASTER}`).replace('LITELLM_SALT_KEY=sk-change-me-too-and-never-rotate', 'LITELLM_SALT_KEY=sk-salt-providers-9d8c7b6a5f4e');
    await dir.write(text);
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(await litellm())).toEqual(expect.arrayContaining(['OLLAMA_API_BASE', 'AZURE_API_KEY', 'AZURE_API_BASE', 'AZURE_API_VERSION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION_NAME']));
  });
});

describe('a changed provider setting: --dry-run, --check, and the command that applies it', () => {
  it('--check exits 5 naming the variable that changed (never its value), --dry-run changes nothing, a run applies it and says how the proxy reads it', async () => {
    expect((await run()).code).toBe(0);
    const before = await dir.readLitellm();
    expect((await run(['--check'])).code).toBe(0);

    await dir.write((await dir.read()).replace('LITELLM_AZURE_API_VERSION=2024-10-21', 'LITELLM_AZURE_API_VERSION=2025-01-01-preview'));
    const check = await run(['--check']);
    expect(check.code, check.stderr).toBe(5);
    expect(check.stdout).toContain(`- write ${dir.litellm}, the proxy's env file (1 provider secret(s): AZURE_API_KEY; provider settings: AWS_ACCESS_KEY_ID, AWS_REGION_NAME, AWS_SECRET_ACCESS_KEY, AZURE_API_BASE, AZURE_API_VERSION, OLLAMA_API_BASE; changed in it: AZURE_API_VERSION)`);
    expect(check.stdout + check.stderr).not.toContain('2025-01-01-preview');
    const dry = await run(['--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('changed in it: AZURE_API_VERSION)');
    expect(await dir.readLitellm()).toBe(before);
    // --mirror-only sees it too (compose's llm-proxy-init).
    expect((await run(['--mirror-only', '--check'])).code).toBe(5);

    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect((await litellm())['AZURE_API_VERSION']).toBe('2025-01-01-preview');
    expect(r.last).toContain("the proxy's env file changed (AZURE_API_VERSION): a running llm-proxy keeps the old values until `docker compose up -d --force-recreate llm-proxy`");
    expect((await run(['--check'])).code).toBe(0);

    // A pass-through removed from .env is gone from the proxy's env file, and named.
    await dir.write((await dir.read()).replace('LITELLM_PROXY_ENV_AWS_REGION_NAME=eu-central-1\n', ''));
    const removed = await run(['--mirror-only']);
    expect(removed.code, removed.stderr).toBe(0);
    expect((await litellm())['AWS_REGION_NAME']).toBeUndefined();
    expect(removed.last).toContain("the proxy's env file changed (AWS_REGION_NAME): llm-proxy reads it when it starts");
  });
});

describe('a pass-through aimed at a name of ours is refused: exit 2 naming the line, nothing written', () => {
  const lineOf = (text: string, name: string) => text.split('\n').findIndex((l) => l.startsWith(`${name}=`)) + 1;

  for (const [target, why] of [
    ['OPENAI_API_KEY', "the agent's key variable (LITELLM_DEFAULT_KEY_ENV_NAME)"],
    ['DATABASE_URL', "the proxy's database connection"],
  ] as const) {
    for (const args of [[], ['--mirror-only'], ['--check']]) {
      it(`LITELLM_PROXY_ENV_${target} (${args.join(' ') || 'a run'})`, async () => {
        const text = `${ENV}LITELLM_PROXY_ENV_${target}=some-value-of-the-user\n`;
        await dir.write(text);
        const r = await run(args);
        expect(r.code, r.stderr).toBe(2);
        expect(r.last).toContain(`${dir.env} line ${lineOf(text, `LITELLM_PROXY_ENV_${target}`)}: LITELLM_PROXY_ENV_${target} refused, ${target} is ${why}`);
        expect(r.stdout + r.stderr).not.toContain('some-value-of-the-user');
        expect(await dir.read()).toBe(text);
        expect(await files()).toEqual(['.env']);
        expect(proxy.keys()).toHaveLength(0);
      });
    }
  }

  it("with a keys file: a pass-through onto a key's env: is refused by --mirror-only too; an unreadable keys file with a pass-through is exit 2 as well", async () => {
    await writeFile(path.join(dir.dir, 'keys.yaml'), 'keys:\n  - alias: team\n    env: TEAM_LLM_KEY\n    models: [ollama/llama3.2]\n');
    const text = `${ENV}LITELLM_BOOTSTRAP_CONFIG=keys.yaml\nLITELLM_PROXY_ENV_TEAM_LLM_KEY=x-value-42\n`;
    await dir.write(text);
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/line \d+: LITELLM_PROXY_ENV_TEAM_LLM_KEY refused, TEAM_LLM_KEY is the variable the key of \S+keys\.yaml line 2 is written to/);
    expect(await files()).toEqual(['.env', 'keys.yaml']);

    await writeFile(path.join(dir.dir, 'keys.yaml'), 'keys: [ {alias: ');
    const broken = await run(['--mirror-only']);
    expect(broken.code, broken.stderr).toBe(2);
    expect(broken.last).toContain('keys.yaml');
    expect(await files()).toEqual(['.env', 'keys.yaml']);
  });

  it('a name the convention writes (LITELLM_PROXY_ENV_AZURE_API_BASE) or an invalid name: refused, with the variable to use instead', async () => {
    const text = `${ENV}LITELLM_PROXY_ENV_AZURE_API_BASE=https://other\n`;
    await dir.write(text);
    const r = await run(['--mirror-only']);
    expect(r.code).toBe(2);
    expect(r.last).toContain('LITELLM_PROXY_ENV_AZURE_API_BASE refused, AZURE_API_BASE comes from LITELLM_AZURE_API_BASE (the provider convention): set that instead');
    await dir.write(`${ENV}LITELLM_PROXY_ENV_AWS.REGION=x\n`);
    const invalid = await run(['--mirror-only']);
    expect(invalid.code).toBe(2);
    expect(invalid.last).toContain('"AWS.REGION" is not a variable name');
    expect(await files()).toEqual(['.env']);
  });

  it("the agent's key is never written to a variable the mirror copies (LITELLM_DEFAULT_KEY_ENV_NAME=LITELLM_PROXY_ENV_X)", async () => {
    const r = await run([], { LITELLM_DEFAULT_KEY_ENV_NAME: 'LITELLM_PROXY_ENV_AGENT_KEY' });
    expect(r.code).toBe(2);
    expect(r.last).toContain('the key cannot be written to LITELLM_PROXY_ENV_AGENT_KEY, which the bootstrap copies to the proxy (as AGENT_KEY)');
    expect(proxy.keys()).toHaveLength(0);
  });
});
