/** Zero-config start: a missing .env is created from the template, atomically, never over an existing one. */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'dotenv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEnvFileIfMissing, envFromTemplate, GENERATED } from '../../src/store/env-init.ts';
import { EnvFileError } from '../../src/errors.ts';
import { runCli } from '../support/cli.ts';

const TEMPLATE = path.resolve('volumes/env/.env.template');
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'env-init-'));
});
afterEach(async () => {
  await chmod(dir, 0o700).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('creating .env from the template', () => {
  it('writes the template with fresh random LITELLM_MASTER_KEY and LITELLM_SALT_KEY, mode 0600, owned by this user', async () => {
    const file = path.join(dir, '.env');
    const result = createEnvFileIfMissing(file);
    expect(result).toEqual({ created: true, from: expect.any(String) });
    const text = await readFile(file, 'utf8');
    const values = parse(text);
    const template = parse(await readFile(TEMPLATE, 'utf8'));
    for (const name of GENERATED) {
      expect(values[name]).toMatch(/^sk-[0-9a-f]{48}$/);
      expect(values[name]).not.toBe(template[name]);
    }
    expect(values['LITELLM_MASTER_KEY']).not.toBe(values['LITELLM_SALT_KEY']);
    // Everything else is the template's, comments included.
    for (const [name, value] of Object.entries(template)) if (!(GENERATED as readonly string[]).includes(name)) expect(values[name]).toBe(value);
    expect(text).toContain('# --- Provider keys');
    const st = await stat(file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid?.());
    expect(await readdir(dir)).toEqual(['.env']); // no temp file left
  });

  it('prefers the .env.template beside .env (the clone\'s own copy)', async () => {
    await writeFile(path.join(dir, '.env.template'), 'LITELLM_MASTER_KEY=\nMY_SETTING=kept\n');
    const result = createEnvFileIfMissing(path.join(dir, '.env'));
    expect(result).toEqual({ created: true, from: path.join(dir, '.env.template') });
    const values = parse(await readFile(path.join(dir, '.env'), 'utf8'));
    expect(values['MY_SETTING']).toBe('kept');
    expect(values['LITELLM_SALT_KEY']).toMatch(/^sk-[0-9a-f]{48}$/); // added when the template lacks it
  });

  it('never touches an existing .env, whatever it holds', async () => {
    const file = path.join(dir, '.env');
    await writeFile(file, 'LITELLM_MASTER_KEY=\n# mine\n', { mode: 0o640 });
    expect(createEnvFileIfMissing(file)).toEqual({ created: false });
    expect(await readFile(file, 'utf8')).toBe('LITELLM_MASTER_KEY=\n# mine\n');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  });

  it('a second run keeps the first one\'s keys (the salt key is never regenerated)', async () => {
    const file = path.join(dir, '.env');
    createEnvFileIfMissing(file);
    const first = await readFile(file, 'utf8');
    expect(createEnvFileIfMissing(file)).toEqual({ created: false });
    expect(await readFile(file, 'utf8')).toBe(first);
  });

  it('runs racing to create it: exactly one creates it, all see the same complete file', async () => {
    const file = path.join(dir, '.env');
    const script = `import { createEnvFileIfMissing } from ${JSON.stringify(path.resolve('src/store/env-init.ts'))};
      process.stdout.write(JSON.stringify(createEnvFileIfMissing(process.argv[1])));`;
    const runs = await Promise.all(
      Array.from({ length: 4 }, () =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.on('error', reject);
          child.on('exit', () => resolve(out));
        }),
      ),
    );
    expect(runs.filter((r) => r.includes('"created":true'))).toHaveLength(1);
    expect(parse(await readFile(file, 'utf8'))['LITELLM_MASTER_KEY']).toMatch(/^sk-[0-9a-f]{48}$/);
    expect(await readdir(dir)).toEqual(['.env']);
  });

  it('an unwritable directory: exit 2 naming the file and what to do, nothing left behind', async () => {
    const file = path.join(dir, '.env');
    if (process.getuid?.() === 0) {
      // Root writes anywhere: the user the compose stack runs as (uid 1000) meets a directory it does not own.
      await chmod(dir, 0o755);
      const r = await runCli(['--mirror-only'], { uid: 1000, gid: 1000, env: { ENV_FILE_PATH: file, LITELLM_ENV_FILE_PATH: path.join(dir, '.env.litellm') } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.last).toMatch(/does not exist and cannot be created from the template \(EACCES\)/);
      expect(r.last).toMatch(/What to do: /);
    } else {
      await chmod(dir, 0o500);
      expect(() => createEnvFileIfMissing(file)).toThrow(EnvFileError);
      expect(() => createEnvFileIfMissing(file)).toThrow(/does not exist and cannot be created from the template \(EACCES\)/);
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('envFromTemplate keeps the template byte for byte but for the generated values and a first line saying so', () => {
    let n = 0;
    const out = envFromTemplate('# t\nLITELLM_MASTER_KEY=x\nA=1\nLITELLM_SALT_KEY=y\nLLM_PROXY_DB_PASSWORD=z\n', '/x/.env', () => `sk-${++n}`).toString();
    expect(out).toBe('# Created by llm-proxy-bootstrap from .env.template with a fresh random LITELLM_MASTER_KEY, LITELLM_SALT_KEY and LLM_PROXY_DB_PASSWORD.\n# t\nLITELLM_MASTER_KEY=sk-1\nA=1\nLITELLM_SALT_KEY=sk-2\nLLM_PROXY_DB_PASSWORD=sk-3\n');
  });
});
