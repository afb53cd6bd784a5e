import { describe, expect, it } from 'vitest';
import { parseArgs, resolveSettings, type SettingsInput } from '../../src/config/settings.ts';
import { parseKeysFile } from '../../src/resources/keys-file.ts';
import { ConfigError } from '../../src/errors.ts';

const input = (env: Record<string, string>, file: Record<string, string> = {}, lines: Record<string, number> = {}): SettingsInput => ({
  flags: {},
  env,
  file: { path: '/cfg/.env', values: file, lineOf: (n) => lines[n] },
  isTTY: false,
  cwd: '/work',
});

describe('settings', () => {
  it('reads the process environment first, then the .env file', () => {
    const s = resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-from-env-123' }, { LITELLM_MASTER_KEY: 'sk-from-file-123', LITELLM_DEFAULT_MODELS: 'gpt-4o-mini, gpt-4o,gpt-4o-mini' }));
    expect(s.masterKey).toBe('sk-from-env-123');
    expect(s.defaultKey?.models).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(s.defaultKey?.alias).toBe('task-agent default');
    expect(s.defaultKey?.env).toBe('OPENAI_API_KEY');
    expect(s.proxyBaseUrl).toBe('http://llm-proxy:4000');
    expect(s.waitSeconds).toBe(120);
    expect(s.logFormat).toBe('json');
  });

  it('treats an empty value as unset, so the next source or the default applies', () => {
    const s = resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-master-123', PROXY_BASE_URL: '', LITELLM_MODEL: 'gpt-4o' }, { PROXY_BASE_URL: 'http://proxy:4000/' }));
    expect(s.proxyBaseUrl).toBe('http://proxy:4000');
  });

  it('prefixes LITELLM_MODEL with LITELLM_PROVIDER when it has no provider', () => {
    expect(resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-m-12345', LITELLM_MODEL: 'gpt-4o', LITELLM_PROVIDER: 'openai' })).defaultKey?.models).toEqual(['openai/gpt-4o']);
    expect(resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-m-12345', LITELLM_MODEL: 'anthropic/claude', LITELLM_PROVIDER: 'openai' })).defaultKey?.models).toEqual(['anthropic/claude']);
    expect(resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-m-12345', LITELLM_DEFAULT_MODELS: 'a,b', LITELLM_MODEL: 'c' })).defaultKey?.models).toEqual(['a', 'b']);
  });

  it('lists every problem at once, naming the file and line, never the value', () => {
    let error: unknown;
    try {
      resolveSettings(input({ LITELLM_PROXY_WAIT_SECONDS: 'soon', PROXY_BASE_URL: 'ftp://x' }, { LOG_LEVEL: 'loud-secret-value' }, { LOG_LEVEL: 7 }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('LITELLM_MASTER_KEY is required');
    expect(message).toContain('LITELLM_PROXY_WAIT_SECONDS');
    expect(message).toContain('PROXY_BASE_URL');
    expect(message).toContain('LOG_LEVEL (/cfg/.env line 7)');
    expect(message).not.toContain('loud-secret-value');
    expect((error as ConfigError).exitCode).toBe(2);
  });

  it('has no default key, and says why, when no model is configured', () => {
    const s = resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-m-12345' }));
    expect(s.defaultKey).toBeUndefined();
    expect(s.defaultKeyProblem).toMatch(/LITELLM_DEFAULT_MODELS or LITELLM_MODEL/);
  });
});

describe('Secret mode setting', () => {
  it('takes a Secret name and makes it the default key\'s target; refuses what Kubernetes would', () => {
    const s = resolveSettings({ ...input({ LITELLM_MASTER_KEY: 'sk-m', LITELLM_DEFAULT_MODELS: 'm', LITELLM_KEY_SECRET: 'agent-litellm-key' }), file: undefined });
    expect(s.keySecret).toBe('agent-litellm-key');
    expect(s.defaultKey?.secret).toBe('agent-litellm-key');
    expect(() => resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-m', LITELLM_DEFAULT_MODELS: 'm', LITELLM_KEY_SECRET: 'Agent_Key' }))).toThrow('LITELLM_KEY_SECRET must be a Secret name');
    expect(parseArgs(['--key-secret', 'k']).settings.LITELLM_KEY_SECRET).toBe('k');
  });
});

describe('command line', () => {
  it('understands modes, rotation and setting flags', () => {
    expect(parseArgs(['--dry-run']).mode).toBe('dry-run');
    expect(parseArgs(['--check']).mode).toBe('check');
    expect(parseArgs(['--rotate']).rotate).toBe(true);
    expect(parseArgs(['--rotate=memory service']).rotate).toBe('memory service');
    expect(parseArgs(['--env-path', '/x/.env', '--wait-seconds=3']).settings).toEqual({ ENV_FILE_PATH: '/x/.env', LITELLM_PROXY_WAIT_SECONDS: '3' });
    // The old spelling, where Node lets it through (see test/cli/bin.test.ts).
    expect(parseArgs(['--env-file=/x/.env']).settings).toEqual({ ENV_FILE_PATH: '/x/.env' });
    expect(parseArgs(['--mirror-only', '--check'])).toMatchObject({ mirrorOnly: true, mode: 'check' });
    expect(parseArgs(['--agent-env-file', '/x/.env.agent']).settings).toEqual({ AGENT_ENV_FILE_PATH: '/x/.env.agent' });
  });
  it('refuses what it does not understand', () => {
    expect(() => parseArgs(['--frobnicate'])).toThrow(/unknown argument "--frobnicate"/);
    expect(() => parseArgs(['--check', '--dry-run'])).toThrow(ConfigError);
    expect(() => parseArgs(['--check', '--rotate'])).toThrow(ConfigError);
    expect(() => parseArgs(['--env-path'])).toThrow(/needs a value/);
    expect(() => parseArgs(['--mirror-only', '--rotate'])).toThrow(/--rotate and --mirror-only cannot be combined/);
  });
});

describe('keys file', () => {
  const settings = { envFilePath: '/env/.env', defaultModels: ['gpt-4o-mini'], defaultUser: 'task-agent' };
  it('declares several keys, each written to its own variable and file', async () => {
    const keys = await parseKeysFile(
      `keys:
  - alias: cli
    env: CLI_API_KEY
  - alias: task agent
    env: OPENAI_API_KEY
    models: [gpt-4o, gpt-4o-mini]
    max_budget: 5
    budget_duration: 30d
  - alias: memory
    env: MEMORY_KEY
    file: memory/.env
    metadata: { team: memory }
    user_id: mem
`,
      '/cfg/keys.yaml',
      settings,
    );
    expect(keys.map((k) => [k.alias, k.env, k.file, k.models, k.userId])).toEqual([
      ['cli', 'CLI_API_KEY', '/env/.env', ['gpt-4o-mini'], 'task-agent'],
      ['task agent', 'OPENAI_API_KEY', '/env/.env', ['gpt-4o', 'gpt-4o-mini'], 'task-agent'],
      ['memory', 'MEMORY_KEY', '/env/memory/.env', ['gpt-4o-mini'], 'mem'],
    ]);
    expect(keys[1]?.maxBudget).toBe(5);
    expect(keys[2]?.metadata).toEqual({ team: 'memory' });
    expect(keys[2]?.source).toBe('/cfg/keys.yaml line 9');
  });

  it('reports errors with their YAML line numbers', async () => {
    const text = `keys:
  - alias: ok
    env: OK_KEY
  - alias: bad
    env: not a name
    max_budget: -1
  - alias: ok
    env: OTHER
`;
    const err = await parseKeysFile(text, '/cfg/keys.yaml', settings).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('line 5: keys.1.env must be a variable name');
    expect(err.message).toContain('line 6: keys.1.max_budget');
  });

  it('on Kubernetes, sends keys to Secrets: secret:, else LITELLM_KEY_SECRET; never both file and secret', async () => {
    const k8s = { ...settings, keySecret: 'agent-litellm-key' };
    const keys = await parseKeysFile('- alias: a\n  env: A\n- alias: b\n  env: B\n  secret: memory-key\n', '/k.yaml', k8s);
    expect(keys.map((k) => [k.alias, k.secret])).toEqual([['a', 'agent-litellm-key'], ['b', 'memory-key']]);
    const both = await parseKeysFile('- alias: a\n  env: A\n  file: x/.env\n  secret: s\n', '/k.yaml', k8s).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(both.message).toContain('line 1: key "a" sets both file and secret; a key lives in one place');
    const twice = await parseKeysFile('- alias: a\n  env: A\n- alias: b\n  env: A\n', '/k.yaml', k8s).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(twice.message).toContain('line 3: A in Secret agent-litellm-key is already the target of the key at line 1');
    const badName = await parseKeysFile('- alias: a\n  env: A\n  secret: Not_A_Name\n', '/k.yaml', k8s).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(badName.message).toContain('line 3: 0.secret must be a Secret name');
  });

  it('finds duplicate aliases and broken YAML', async () => {
    const dup = await parseKeysFile('- alias: a\n  env: A\n- alias: a\n  env: B\n', '/k.yaml', settings).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(dup.message).toContain('line 3: alias "a" is already declared at line 1');
    const broken = await parseKeysFile('keys:\n  - alias: [unclosed\n', '/k.yaml', settings).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(broken.message).toMatch(/not valid YAML: line \d/);
  });
});

describe('key life settings', () => {
  it('the agent key is llm_api unless LITELLM_DEFAULT_KEY_TYPE says otherwise; renewal is off until a window is set; the grace is 1h', () => {
    const s = resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-master-123', LITELLM_MODEL: 'gpt-4o' }));
    expect(s.defaultKey).toMatchObject({ keyType: 'llm_api', renewBefore: undefined, teamId: undefined, tpmLimit: undefined });
    expect(s.gracePeriod).toBe('1h');
    const t = resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-master-123', LITELLM_MODEL: 'gpt-4o', LITELLM_DEFAULT_KEY_TYPE: 'default', LITELLM_DEFAULT_KEY_RENEW_BEFORE: '7d', LITELLM_DEFAULT_KEY_DURATION: '30d' }));
    expect(t.defaultKey).toMatchObject({ keyType: 'default', renewBefore: '7d', duration: '30d' });
  });

  it('refuses an unknown key type, a bad window or grace, and a window as long as the lifetime, naming the setting and its line', () => {
    const err = (env: Record<string, string>) => {
      try {
        resolveSettings(input({ LITELLM_MASTER_KEY: 'sk-master-123', LITELLM_MODEL: 'gpt-4o' }, env, { LITELLM_DEFAULT_KEY_RENEW_BEFORE: 4 }));
      } catch (e) {
        return (e as ConfigError).message;
      }
      return 'no error';
    };
    expect(err({ LITELLM_DEFAULT_KEY_TYPE: 'admin' })).toMatch(/LITELLM_DEFAULT_KEY_TYPE \(\/cfg\/.env\) must be one of default, llm_api, management, read_only/);
    expect(err({ LITELLM_KEY_GRACE_PERIOD: '1 hour' })).toMatch(/LITELLM_KEY_GRACE_PERIOD .*must be a number and a unit/);
    expect(err({ LITELLM_DEFAULT_KEY_RENEW_BEFORE: '31d', LITELLM_DEFAULT_KEY_DURATION: '30d' })).toMatch(/LITELLM_DEFAULT_KEY_RENEW_BEFORE \(\/cfg\/.env line 4\) must be shorter than the key's lifetime \(30d\)/);
  });

  it('--grace on the command line is what makes --rotate keep the old key; the setting alone does not', () => {
    expect(parseArgs(['--rotate', '--grace', '10m'])).toMatchObject({ rotate: true, rotateGrace: true, settings: { LITELLM_KEY_GRACE_PERIOD: '10m' } });
    expect(parseArgs(['--rotate'])).toMatchObject({ rotate: true, rotateGrace: false });
  });

  it('the keys file takes team_id, key_type, the rate limits, renew_before and rotation_interval; defaults come from the settings', async () => {
    const keys = await parseKeysFile(
      'keys:\n  - alias: a\n    env: A\n    team_id: t1\n    key_type: management\n    tpm_limit: 10\n    rpm_limit: 2\n    max_parallel_requests: 1\n    renew_before: 2d\n    duration: 30d\n    rotation_interval: 90d\n  - alias: b\n    env: B\n',
      '/cfg/keys.yaml',
      { envFilePath: '/env/.env', defaultModels: ['m'], defaultUser: 'u', defaultKeyType: 'read_only', defaultRenewBefore: '1d' },
    );
    expect(keys[0]).toMatchObject({ teamId: 't1', keyType: 'management', tpmLimit: 10, rpmLimit: 2, maxParallelRequests: 1, renewBefore: '2d', rotationInterval: '90d' });
    expect(keys[1]).toMatchObject({ keyType: 'read_only', renewBefore: '1d', teamId: undefined, tpmLimit: undefined });
    const bad = await parseKeysFile('- alias: a\n  env: A\n  duration: 1d\n  renew_before: 1d\n', '/k.yaml', { envFilePath: '/env/.env', defaultModels: ['m'], defaultUser: 'u' }).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(bad.message).toMatch(/line 1: renew_before of key "a" must be shorter than the key's lifetime \(1d\)/);
  });
});
