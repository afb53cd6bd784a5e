/**
 * The CLI as users start it: the package's bin (`llm-proxy-bootstrap`, a
 * `#!/usr/bin/env node` script that npm links into node_modules/.bin), and
 * `node -- cli.cjs` as the image's entrypoint runs it; with and without Node's
 * compile cache.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.ts';
import { SETTING_NAMES, settingMeta } from '../../src/config/settings.ts';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'llm-proxy-bootstrap-bin-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `command` with a minimal environment whose PATH has npm's .bin link to dist/cli.cjs, and Node. */
function sh(command: string, args: string[], env: Record<string, string> = {}) {
  const bin = path.join(tmp, 'node_modules', '.bin');
  mkdirSync(bin, { recursive: true });
  try {
    symlinkSync(CLI, path.join(bin, 'llm-proxy-bootstrap'));
  } catch {
    /* already linked */
  }
  const r = spawnSync(command, args, {
    env: { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`, LOG_FORMAT: 'json', ...env },
    encoding: 'utf8',
    cwd: tmp,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the installed bin', () => {
  it('--env-path to a missing .env: exit 2 with our hint (not Node claiming the flag)', () => {
    const r = sh('llm-proxy-bootstrap', ['--env-path', '/missing/.env']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/missing/.env does not exist');
    expect(r.stderr).toContain('.env.template');
  });

  it('ENV_FILE_PATH to a missing .env: the same', () => {
    const r = sh('llm-proxy-bootstrap', [], { ENV_FILE_PATH: '/missing/.env' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('.env.template');
  });

  it('the old spelling --env-file still reads an existing file', () => {
    const env = path.join(tmp, '.env');
    writeFileSync(env, 'LITELLM_DEFAULT_MODELS=gpt-4o-mini\n');
    const r = sh('llm-proxy-bootstrap', ['--env-file', env]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('LITELLM_MASTER_KEY is required');
  });

  it('--help lists every setting with its flag and meaning, from the settings schema', () => {
    const r = sh('llm-proxy-bootstrap', ['--help']);
    expect(r.code).toBe(0);
    for (const name of SETTING_NAMES) expect(r.stdout).toContain(`  ${name}${settingMeta(name).flag ? ` (${settingMeta(name).flag})` : ''}\n`);
    expect(r.stdout).toContain('ENV_FILE_PATH (--env-path)');
    expect(r.stdout).toContain('Timeout of each HTTP request to the proxy');
  });
});

describe('as the image runs it (node -- cli.cjs)', () => {
  it('the old spelling --env-file to a missing .env reaches our code: exit 2 with our hint', () => {
    const r = sh(process.execPath, ['--', CLI, '--env-file', '/missing/.env']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/missing/.env does not exist');
  });
});

describe("Node's compile cache", () => {
  it('is written where NODE_COMPILE_CACHE says, and the next start runs from it', () => {
    const cache = path.join(tmp, 'cache');
    const first = sh(process.execPath, [CLI, '--version'], { NODE_COMPILE_CACHE: cache });
    expect(first.code).toBe(0);
    expect(readdirSync(cache, { recursive: true }).length).toBeGreaterThan(0);
    const again = sh(process.execPath, [CLI, '--version'], { NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' });
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(first.stdout.trim());
    expect(again.stderr).toMatch(/code cache for CommonJS \S*bootstrap\.cjs was accepted/);
  });

  it('off (NODE_DISABLE_COMPILE_CACHE=1): the CLI runs the same and writes nothing', () => {
    const cache = path.join(tmp, 'cache');
    const r = sh(process.execPath, [CLI, '--version'], { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
    expect(() => readdirSync(cache)).toThrow();
  });
});
