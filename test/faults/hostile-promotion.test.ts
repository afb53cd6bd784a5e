/**
 * A value in the agent's key variable that the proxy never issued (issue 24 item 12): only one
 * shaped like the provider's keys (src/resources/keys/provider-key-shapes.ts) becomes the proxy's
 * upstream credential; anything else (another provider's key, a password, a token planted there)
 * is backed up (0600) and reported, and never reaches the proxy's env file, so never a provider.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'dotenv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { envDir, runCli, watchSecrets, type EnvDir } from '../support/cli.ts';
import { messages } from '../support/scenario-lab.ts';

const MASTER = 'sk-Lk2Vx7Qz4Rb9Nm1Wc6Tj3Hp8Gs5Df0Ya';
const ANTHROPIC = 'sk-ant-api03-Zr5Xq8Wm1Lt4Vn7Kc2Bj9Hd6Ps3Gf0Ya';
const PASSWORD = 'correct-horse-Tz8Qw3Rx';
const OPENAI = 'sk-proj-Hq3Zx8Rt1Wm6Lv4Nc9Kb2Jp7Gd5Sf0Ya';
watchSecrets(MASTER, ANTHROPIC, PASSWORD, OPENAI);

let litellm: LiteLLMStandIn;
let dir: EnvDir;

beforeEach(async () => {
  litellm = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini'] });
});
afterEach(async () => {
  await litellm.close();
  await dir.cleanup();
});

const run = () => runCli([], { env: { ENV_FILE_PATH: dir.env, LITELLM_ENV_FILE_PATH: dir.litellm, PROXY_BASE_URL: litellm.url, LITELLM_PROXY_WAIT_SECONDS: '5' } });
const withAgentValue = (value: string) => envDir(`LITELLM_MASTER_KEY=${MASTER}\nLITELLM_DEFAULT_MODELS=gpt-4o-mini\nLITELLM_OPENAI_API_KEY=\nOPENAI_API_KEY=${value}\n`);

describe('attack: a value that is not an OpenAI key, planted in OPENAI_API_KEY', () => {
  it.each([
    ['an Anthropic key', ANTHROPIC],
    ['a password', PASSWORD],
  ])('%s is backed up and reported, not moved to LITELLM_OPENAI_API_KEY nor given to the proxy', async (_what, value) => {
    dir = await withAgentValue(value);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const env = parse(await dir.read());
    expect(env.LITELLM_OPENAI_API_KEY).toBe('');
    expect(env.OPENAI_API_KEY).toMatch(/^sk-[A-Za-z0-9_-]{22}$/);
    expect(Object.values(parse(await dir.readLitellm()))).not.toContain(value);
    const backup = path.join(dir.dir, '.env.bootstrap-backup');
    expect(parse(await readFile(backup, 'utf8')).OPENAI_API_KEY).toBe(value);
    expect((await stat(backup)).mode & 0o777).toBe(0o600);
    expect(messages(r)).toContain('the previous value of OPENAI_API_KEY was not a key of this proxy; it was saved to');
    expect(messages(r)).toContain('(it is not shaped like an API key of OPENAI, so the proxy is not given it as one)');
  });

  it('an OpenAI project key (sk-proj-) is still moved to LITELLM_OPENAI_API_KEY and reaches the proxy', async () => {
    dir = await withAgentValue(OPENAI);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(parse(await dir.read()).LITELLM_OPENAI_API_KEY).toBe(OPENAI);
    expect(parse(await dir.readLitellm()).OPENAI_API_KEY).toBe(OPENAI);
  });
});
