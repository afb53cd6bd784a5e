/** What the proxy's env file holds (and never holds), and which provider keys a user still has to set. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'dotenv';
import { mirrorContent, missingProviderKeys } from '../../src/store/mirror.ts';

describe("the proxy's env file", () => {
  const env = {
    LITELLM_MASTER_KEY: 'sk-master',
    LITELLM_SALT_KEY: 'sk-salt',
    OTEL_EXPORTER: 'otlp_http',
    OTEL_ENDPOINT: 'http://otel-collector:4318/v1/traces',
    LITELLM_OPENAI_API_KEY: 'sk-openai-real',
    LITELLM_ANTHROPIC_API_KEY: '',
    OPENAI_API_KEY: 'sk-agent-virtual-key-xxxxx',
    LITELLM_DEFAULT_MODELS: 'openai/gpt-4o-mini',
    KEEP_ME: 'user value',
  };

  it('holds the provider keys under the proxy\'s names and the proxy\'s own settings, nothing else of .env', () => {
    const m = mirrorContent(env);
    expect(parse(m.content)).toEqual({
      LITELLM_MASTER_KEY: 'sk-master',
      LITELLM_SALT_KEY: 'sk-salt',
      OTEL_EXPORTER: 'otlp_http',
      OTEL_ENDPOINT: 'http://otel-collector:4318/v1/traces',
      OPENAI_API_KEY: 'sk-openai-real',
    });
    expect(m.names).toEqual(['OPENAI_API_KEY']);
    expect(m.passed).toEqual(['LITELLM_MASTER_KEY', 'LITELLM_SALT_KEY', 'OTEL_ENDPOINT', 'OTEL_EXPORTER']);
  });

  it("with the provider key empty, the agent's OPENAI_API_KEY does not stand in for it", () => {
    const m = mirrorContent({ ...env, LITELLM_OPENAI_API_KEY: '' });
    expect(parse(m.content)['OPENAI_API_KEY']).toBeUndefined();
    expect(m.content).not.toContain('sk-agent-virtual-key');
  });

  it("the proxy's entrypoint wrapper (volumes/litellm/with-env-file.sh) reads every value back exactly, executing none", async () => {
    const values = {
      OTEL_RESOURCE_ATTRIBUTES: 'a=b c',
      LITELLM_X_API_KEY: `it's "x" $(touch pwned) \`id\` $HOME \\n`,
      LITELLM_Y_API_KEY: 'two\nlines\r',
      LITELLM_Z_API_KEY: 'sk-plain_0123-./:+=@~,%',
    };
    const dir = await mkdtemp(path.join(tmpdir(), 'mirror-'));
    try {
      const file = path.join(dir, '.env.litellm');
      await writeFile(file, mirrorContent(values).content);
      const printEnv = 'process.stdout.write(JSON.stringify(Object.fromEntries(["OTEL_RESOURCE_ATTRIBUTES","X_API_KEY","Y_API_KEY","Z_API_KEY"].map((n) => [n, process.env[n]]))))';
      const out = execFileSync('sh', ['volumes/litellm/with-env-file.sh', file, process.execPath, '-e', printEnv], { cwd: process.cwd(), env: { PATH: process.env['PATH'] ?? '' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(JSON.parse(out)).toEqual({
        OTEL_RESOURCE_ATTRIBUTES: values.OTEL_RESOURCE_ATTRIBUTES,
        X_API_KEY: values.LITELLM_X_API_KEY,
        Y_API_KEY: values.LITELLM_Y_API_KEY,
        Z_API_KEY: values.LITELLM_Z_API_KEY,
      });
      expect(existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the wrapper refuses a line it cannot read, naming its number but not its value, and runs nothing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mirror-'));
    try {
      const file = path.join(dir, '.env.litellm');
      await writeFile(file, '# ok\nA_API_KEY=fine\nB_API_KEY=sk-secret value\n');
      const r = spawnSync('sh', ['volumes/litellm/with-env-file.sh', file, 'echo', 'RAN'], { encoding: 'utf8' });
      expect(r.status).toBe(78);
      expect(r.stdout).not.toContain('RAN');
      expect(r.stderr).toContain(`line 3 of ${file}`);
      expect(r.stderr).not.toContain('sk-secret');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('provider keys still to set', () => {
  it('names the key of each provider a model needs when it is empty', () => {
    expect(missingProviderKeys({ LITELLM_OPENAI_API_KEY: '' }, ['openai/gpt-4o-mini', 'anthropic/claude-3-5-sonnet'])).toEqual([
      'LITELLM_ANTHROPIC_API_KEY',
      'LITELLM_OPENAI_API_KEY',
    ]);
    expect(missingProviderKeys({ LITELLM_OPENAI_API_KEY: 'sk-x' }, ['openai/gpt-4o-mini', 'openai/gpt-4o'])).toEqual([]);
  });

  it('models without a provider prefix: the generic name, unless some provider key is set', () => {
    expect(missingProviderKeys({}, ['gpt-4o-mini'])).toEqual(['LITELLM_<PROVIDER>_API_KEY']);
    expect(missingProviderKeys({ LITELLM_AZURE_API_KEY: 'k' }, ['gpt-4o-mini'])).toEqual([]);
  });
});
