/** What the proxy's env file holds (and never holds), and which provider keys a user still has to set. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'dotenv';
import { configuredProviders, missingProviderKeys, proxyEnvSecrets } from '../../src/config/providers.ts';
import { assertPassThrough, changedVariables, mirrorContent, passThroughRefusals, reservedNames } from '../../src/resources/env-file/mirror.ts';
import { ConfigError } from '../../src/errors.ts';
import { EnvDocument } from '../../src/store/env-file.ts';

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
      LITELLM_X_API_KEY: `"x" $(touch pwned) \`id\` $HOME \\n`,
      LITELLM_W_API_KEY: `it's "x" \\n`,
      LITELLM_Y_API_KEY: 'two\nlines\r',
      LITELLM_Z_API_KEY: 'sk-plain_0123-./:+=@~,%',
    };
    const dir = await mkdtemp(path.join(tmpdir(), 'mirror-'));
    try {
      const file = path.join(dir, '.env.litellm');
      await writeFile(file, mirrorContent(values).content);
      const printEnv = 'process.stdout.write(JSON.stringify(Object.fromEntries(["OTEL_RESOURCE_ATTRIBUTES","W_API_KEY","X_API_KEY","Y_API_KEY","Z_API_KEY"].map((n) => [n, process.env[n]]))))';
      const out = execFileSync('sh', ['volumes/litellm/with-env-file.sh', file, process.execPath, '-e', printEnv], { cwd: process.cwd(), env: { PATH: process.env['PATH'] ?? '' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(JSON.parse(out)).toEqual({
        OTEL_RESOURCE_ATTRIBUTES: values.OTEL_RESOURCE_ATTRIBUTES,
        W_API_KEY: values.LITELLM_W_API_KEY,
        X_API_KEY: values.LITELLM_X_API_KEY,
        Y_API_KEY: values.LITELLM_Y_API_KEY,
        Z_API_KEY: values.LITELLM_Z_API_KEY,
      });
      expect(existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a POSIX shell sourcing the file runs nothing; a value no quoting makes safe for it is refused by name, never shown', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mirror-'));
    try {
      const file = path.join(dir, '.env.litellm');
      await writeFile(file, mirrorContent({ LITELLM_X_API_KEY: '"x" $(touch pwned) `touch pwned2` $HOME', LITELLM_Y_API_KEY: "it's" }).content);
      execFileSync('sh', ['-c', `. ${JSON.stringify(file)}`], { cwd: dir, stdio: 'ignore' });
      expect(existsSync(path.join(dir, 'pwned')) || existsSync(path.join(dir, 'pwned2'))).toBe(false);
      const hostile = `sk-x'$(touch pwned)'`;
      expect(() => mirrorContent({ LITELLM_X_API_KEY: hostile })).toThrow(/^LITELLM_X_API_KEY holds both a quote/);
      expect(() => mirrorContent({ LITELLM_PROXY_ENV_AWS_SECRET_ACCESS_KEY: hostile })).toThrow(/^LITELLM_PROXY_ENV_AWS_SECRET_ACCESS_KEY holds/);
      expect(() => mirrorContent({ LITELLM_X_API_KEY: hostile })).not.toThrow(/touch/);
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

describe("the compose stack's database password", () => {
  const wrapper = (file: string, env: Record<string, string>) =>
    spawnSync('sh', ['volumes/litellm/with-env-file.sh', file, process.execPath, '-e', 'process.stdout.write(process.env.DATABASE_URL ?? "unset")'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env } });
  const compose = { DATABASE_HOST: 'llm-proxy-db:5432', DATABASE_USERNAME: 'litellm', DATABASE_NAME: 'litellm' };

  it("reaches the proxy only through its env file, and the wrapper builds DATABASE_URL from it and compose's host, user and database", async () => {
    const m = mirrorContent({ LITELLM_MASTER_KEY: 'sk-master', LLM_PROXY_DB_PASSWORD: 'sk-0123abcd' });
    expect(parse(m.content)).toEqual({ LITELLM_MASTER_KEY: 'sk-master', DATABASE_PASSWORD: 'sk-0123abcd' });
    const dir = await mkdtemp(path.join(tmpdir(), 'mirror-'));
    try {
      const file = path.join(dir, '.env.litellm');
      await writeFile(file, m.content);
      const r = wrapper(file, compose);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('postgresql://litellm:sk-0123abcd@llm-proxy-db:5432/litellm');
      // Without the password the proxy does not start with a half URL: exit 78, the password's name, no value.
      await writeFile(file, mirrorContent({ LITELLM_MASTER_KEY: 'sk-master' }).content);
      const missing = wrapper(file, compose);
      expect(missing.status).toBe(78);
      expect(missing.stdout).toBe('');
      expect(missing.stderr).toContain('LLM_PROXY_DB_PASSWORD');
      expect(missing.stderr).not.toContain('sk-master');
      // A password that would change the URL's meaning (@, /, :) stops it too.
      await writeFile(file, "DATABASE_PASSWORD='p@ss/word'\n");
      const unsafe = wrapper(file, compose);
      expect(unsafe.status).toBe(78);
      expect(unsafe.stderr).not.toContain('p@ss');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a pass-through cannot set the password or the rest of the connection behind compose\'s back', () => {
    const reserved = reservedNames('OPENAI_API_KEY', []);
    const refused = passThroughRefusals({ LITELLM_PROXY_ENV_DATABASE_PASSWORD: 'x', LITELLM_PROXY_ENV_DATABASE_HOST: 'evil:5432' }, reserved).map((r) => r.name);
    expect(refused.sort()).toEqual(['LITELLM_PROXY_ENV_DATABASE_HOST', 'LITELLM_PROXY_ENV_DATABASE_PASSWORD']);
  });
});

describe('provider settings beyond the key', () => {
  const settings = {
    LITELLM_MASTER_KEY: 'sk-master',
    LITELLM_OLLAMA_API_BASE: 'http://host.docker.internal:11434',
    LITELLM_AZURE_API_KEY: 'azure-secret-key',
    LITELLM_AZURE_API_BASE: 'https://my-resource.openai.azure.com',
    LITELLM_AZURE_API_VERSION: '2024-10-21',
    LITELLM_OPENAI_API_BASE: '',
    LITELLM_PROXY_ENV_AWS_REGION_NAME: 'eu-central-1',
    LITELLM_PROXY_ENV_AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE0123',
    LITELLM_PROXY_ENV_AWS_SECRET_ACCESS_KEY: 'aws/secret+value=',
    LITELLM_PROXY_ENV_VERTEXAI_PROJECT: '',
    OPENAI_API_KEY: 'sk-agent-virtual-key-xxxxx',
    DATABASE_URL: 'postgresql://user:pw@db/x',
  };

  it("LITELLM_<PROVIDER>_API_BASE / _API_VERSION and LITELLM_PROXY_ENV_<NAME> reach the proxy under LiteLLM's names; empty ones and the rest of .env do not", () => {
    const m = mirrorContent(settings);
    expect(parse(m.content)).toEqual({
      LITELLM_MASTER_KEY: 'sk-master',
      OLLAMA_API_BASE: 'http://host.docker.internal:11434',
      AZURE_API_KEY: 'azure-secret-key',
      AZURE_API_BASE: 'https://my-resource.openai.azure.com',
      AZURE_API_VERSION: '2024-10-21',
      AWS_REGION_NAME: 'eu-central-1',
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE0123',
      AWS_SECRET_ACCESS_KEY: 'aws/secret+value=',
    });
    expect(m.names).toEqual(['AZURE_API_KEY']);
    expect(m.settings).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_REGION_NAME', 'AWS_SECRET_ACCESS_KEY', 'AZURE_API_BASE', 'AZURE_API_VERSION', 'OLLAMA_API_BASE']);
  });

  it('a LITELLM_PROXY_ENV_ line is never read as a provider key of a provider "PROXY_ENV_…"', () => {
    const m = mirrorContent({ LITELLM_PROXY_ENV_FOO_API_KEY: 'v-123456', LITELLM_PROXY_ENV_BAR_API_BASE: 'http://bar' });
    expect(m.names).toEqual([]);
    expect(parse(m.content)).toEqual({ FOO_API_KEY: 'v-123456', BAR_API_BASE: 'http://bar' });
  });

  it('one name, one source: a pass-through never replaces what the convention or the copied settings write', () => {
    const m = mirrorContent({ LITELLM_OPENAI_API_KEY: 'sk-real', LITELLM_PROXY_ENV_OPENAI_API_KEY: 'sk-other', LITELLM_MASTER_KEY: 'sk-m', LITELLM_PROXY_ENV_LITELLM_MASTER_KEY: 'sk-x', OTEL_ENDPOINT: 'a', LITELLM_PROXY_ENV_OTEL_ENDPOINT: 'b' });
    expect(parse(m.content)).toEqual({ OPENAI_API_KEY: 'sk-real', LITELLM_MASTER_KEY: 'sk-m', OTEL_ENDPOINT: 'a' });
  });

  it("refuses a pass-through aimed at the agent's key variable, a keys-file env:, DATABASE_URL, a name another source writes, or no variable name", () => {
    const reserved = reservedNames('OPENAI_API_KEY', [{ env: 'TEAM_KEY', source: 'keys.yaml line 4' }]);
    const refused = passThroughRefusals(
      {
        LITELLM_PROXY_ENV_OPENAI_API_KEY: 'x',
        LITELLM_PROXY_ENV_TEAM_KEY: 'x',
        LITELLM_PROXY_ENV_DATABASE_URL: 'postgresql://elsewhere',
        LITELLM_PROXY_ENV_AZURE_API_BASE: 'x',
        LITELLM_PROXY_ENV_LITELLM_MASTER_KEY: 'x',
        LITELLM_PROXY_ENV_OTEL_ENDPOINT: 'x',
        'LITELLM_PROXY_ENV_A.B': 'x',
        LITELLM_PROXY_ENV_9LIVES: 'x',
        LITELLM_PROXY_ENV_: 'x',
        LITELLM_PROXY_ENV_AWS_REGION_NAME: 'us-east-1',
        LITELLM_PROXY_ENV_HOME: '',
      },
      reserved,
    );
    const why = Object.fromEntries(refused.map((r) => [r.name, r.reason]));
    expect(Object.keys(why).sort()).toEqual(
      ['LITELLM_PROXY_ENV_', 'LITELLM_PROXY_ENV_9LIVES', 'LITELLM_PROXY_ENV_A.B', 'LITELLM_PROXY_ENV_AZURE_API_BASE', 'LITELLM_PROXY_ENV_DATABASE_URL', 'LITELLM_PROXY_ENV_LITELLM_MASTER_KEY', 'LITELLM_PROXY_ENV_OPENAI_API_KEY', 'LITELLM_PROXY_ENV_OTEL_ENDPOINT', 'LITELLM_PROXY_ENV_TEAM_KEY'].sort(),
    );
    expect(why['LITELLM_PROXY_ENV_OPENAI_API_KEY']).toContain("the agent's key variable (LITELLM_DEFAULT_KEY_ENV_NAME)");
    expect(why['LITELLM_PROXY_ENV_TEAM_KEY']).toContain('keys.yaml line 4');
    expect(why['LITELLM_PROXY_ENV_DATABASE_URL']).toContain("the proxy's database connection");
    expect(why['LITELLM_PROXY_ENV_AZURE_API_BASE']).toContain('set that instead');
    expect(why['LITELLM_PROXY_ENV_AZURE_API_BASE']).toContain('LITELLM_AZURE_API_BASE');
    expect(why['LITELLM_PROXY_ENV_OTEL_ENDPOINT']).toContain('set OTEL_ENDPOINT itself');
  });

  it('the refusal is exit 2 naming the file and line, never the value', () => {
    const doc = EnvDocument.parse('# proxy\nLITELLM_MASTER_KEY=sk-m\n\nLITELLM_PROXY_ENV_AWS_REGION_NAME=us-east-1\n\n\nLITELLM_PROXY_ENV_DATABASE_URL=postgresql://u:SECRETPW@db/x\n', '/env/.env');
    let err: unknown;
    try {
      assertPassThrough('/env/.env', doc, reservedNames('OPENAI_API_KEY', []));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as ConfigError).message).toMatch(/^\/env\/\.env line 7: LITELLM_PROXY_ENV_DATABASE_URL refused, DATABASE_URL is the proxy's database connection/);
    expect((err as ConfigError).message).not.toContain('SECRETPW');
    expect(() => assertPassThrough('/env/.env', EnvDocument.parse('LITELLM_PROXY_ENV_AWS_REGION_NAME=us-east-1\n', '/env/.env'), reservedNames('OPENAI_API_KEY', []))).not.toThrow();
  });

  it('a provider counts as configured when its key or its API base is set (Ollama has no key); AWS credentials make Bedrock', () => {
    expect([...configuredProviders(settings)].sort()).toEqual(['azure', 'bedrock', 'ollama', 'ollama_chat']);
    expect([...configuredProviders({ LITELLM_GEMINI_API_KEY: 'g', LITELLM_ANTHROPIC_API_KEY: ' ', LITELLM_MISTRAL_API_VERSION: 'v1', LITELLM_PROXY_ENV_OPENAI_API_KEY: 'x' })]).toEqual(['gemini']);
  });

  it('names which variable a model still needs: the API base of a local runtime, AWS credentials for Bedrock, else the key', () => {
    expect(missingProviderKeys({}, ['ollama/llama3.2', 'ollama_chat/qwen3', 'bedrock/anthropic.claude-3-haiku', 'azure/my-deployment'])).toEqual([
      'LITELLM_AZURE_API_KEY',
      'LITELLM_OLLAMA_API_BASE',
      'LITELLM_PROXY_ENV_AWS_ACCESS_KEY_ID',
    ]);
    expect(missingProviderKeys(settings, ['ollama/llama3.2', 'bedrock/anthropic.claude-3-haiku', 'azure/my-deployment'])).toEqual([]);
  });

  it('what changed between two versions of the file, by name only', () => {
    const before = mirrorContent({ LITELLM_AZURE_API_VERSION: '2024-06-01', LITELLM_AZURE_API_KEY: 'k', LITELLM_OLLAMA_API_BASE: 'http://a' }).content;
    const after = mirrorContent({ LITELLM_AZURE_API_VERSION: '2024-10-21', LITELLM_AZURE_API_KEY: 'k', LITELLM_PROXY_ENV_AWS_REGION_NAME: 'us-east-1' }).content;
    expect(changedVariables(before, after)).toEqual(['AWS_REGION_NAME', 'AZURE_API_VERSION', 'OLLAMA_API_BASE']);
    expect(changedVariables(null, after)).toEqual(['AWS_REGION_NAME', 'AZURE_API_KEY', 'AZURE_API_VERSION']);
    expect(changedVariables(after, after)).toEqual([]);
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

describe("the proxy's env file's values, for the secret registry", () => {
  it('every value the file gets is a secret of the logs (credentials in pieces too), but the names of things OTEL_* gives', () => {
    const found = proxyEnvSecrets({
      LITELLM_MASTER_KEY: 'sk-master',
      LITELLM_SALT_KEY: 'sk-salt',
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer tok',
      OTEL_ENDPOINT: 'https://otel.example/v1/traces',
      OTEL_SERVICE_NAME: 'llm-proxy',
      OTEL_EXPORTER: 'otlp_http',
      LITELLM_AZURE_API_KEY: 'azure-key',
      LITELLM_AZURE_API_BASE: 'https://r.openai.azure.com',
      LITELLM_PROXY_ENV_AWS_SECRET_ACCESS_KEY: 'aws-secret',
      LITELLM_PROXY_ENV_AWS_REGION_NAME: 'eu-central-1',
      OPENAI_API_KEY: 'sk-agent-virtual-key',
      LITELLM_DEFAULT_MODELS: 'gpt-4o-mini',
    });
    expect(Object.fromEntries(found.map((f) => [f.value, f.credential]))).toEqual({
      'sk-master': true,
      'sk-salt': true,
      'Authorization=Bearer tok': true,
      'https://otel.example/v1/traces': false,
      'azure-key': true,
      'https://r.openai.azure.com': false,
      'aws-secret': true,
      'eu-central-1': false,
    });
  });
});
