/**
 * The CLI's code cache (src/cli/entry.ts): made after a successful run, used by the
 * next, never taken from a place others could write, and never in the way.
 * Real processes of the built CLI, a real stand-in, a private cache directory.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { envDir, runCli, type EnvDir } from '../support/cli.ts';

const MASTER = 'sk-master-cache-4b1d9e';
const TEMPLATE = `LITELLM_MASTER_KEY=${MASTER}\nLITELLM_MODEL=gpt-4o-mini\nOPENAI_API_KEY=sk-proxy-default\n`;

let proxy: LiteLLMStandIn;
let dir: EnvDir;
let cacheRoot: string;
const cacheDir = () => path.join(cacheRoot, 'llm-proxy-bootstrap');

function run(extra: Record<string, string | undefined> = {}) {
  return runCli([], {
    env: {
      ENV_FILE_PATH: dir.env,
      LITELLM_ENV_FILE_PATH: dir.litellm,
      PROXY_BASE_URL: proxy.url,
      LITELLM_PROXY_WAIT_SECONDS: '5',
      NODE_COMPILE_CACHE: cacheRoot,
      NODE_DEBUG: 'llm-proxy-bootstrap',
      ...extra,
    },
  });
}
const cacheLine = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('llm-proxy-bootstrap: code cache')) ?? '';
const cacheFiles = async () => (await readdir(cacheDir()).catch(() => [] as string[])).filter((f) => f.endsWith('.bin'));

beforeEach(async () => {
  proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['gpt-4o-mini'] });
  dir = await envDir(TEMPLATE);
  cacheRoot = await mkdtemp(path.join(tmpdir(), 'lpb-code-cache-'));
});
afterEach(async () => {
  await proxy.close();
  await dir.cleanup();
  await rm(cacheRoot, { recursive: true, force: true });
});

describe('the code cache', () => {
  it('is written by a successful run, only its owner can write it, and the next run uses it', async () => {
    // An earlier build's cache is replaced, not kept beside it.
    await mkdir(cacheDir(), { mode: 0o700 });
    await writeFile(path.join(cacheDir(), '0123456789abcdef-v24.0.0-x64.bin'), 'old', { mode: 0o644 });
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/code cache written: /);
    const [file, ...others] = await cacheFiles();
    expect(file).toMatch(/^[0-9a-f]{16}-v\d+\.\d+\.\d+-\w+\.bin$/);
    expect(file).not.toMatch(/^0123456789abcdef/);
    expect(others).toEqual([]);
    expect((await stat(cacheDir())).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(cacheDir(), file!))).mode & 0o022).toBe(0);

    const warm = await run();
    expect(warm.code, warm.stderr).toBe(0);
    expect(cacheLine(warm.stderr)).toBe('llm-proxy-bootstrap: code cache accepted (full)');
    expect(warm.last).toMatch(/reused key/);
  });

  it('is not used when others could have written it, and the run goes on without it', async () => {
    expect((await run()).code).toBe(0);
    const [file] = await cacheFiles();
    await chmod(path.join(cacheDir(), file!), 0o666);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(cacheLine(r.stderr)).toMatch(/none usable/);

    await chmod(cacheDir(), 0o777);
    const r2 = await run();
    expect(r2.code, r2.stderr).toBe(0);
    expect(cacheLine(r2.stderr)).toMatch(/not used: .* others could write it/);
  });

  it('a damaged cache is refused by V8, the run still works, and a good cache replaces it', async () => {
    expect((await run()).code).toBe(0);
    const [file] = await cacheFiles();
    await writeFile(path.join(cacheDir(), file!), Buffer.alloc(4096, 0x5a), { mode: 0o644 });
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/code cache rejected by V8/);
    expect(r.stderr).toMatch(/code cache written: /);
    expect(cacheLine((await run()).stderr)).toBe('llm-proxy-bootstrap: code cache accepted (full)');
  });

  it('is not written by a run that fails on its settings, nor when NODE_DISABLE_COMPILE_CACHE is set', async () => {
    await dir.write('LITELLM_MODEL=gpt-4o-mini\n'); // no master key: exit 2
    expect((await run()).code).toBe(2);
    expect(await cacheFiles()).toEqual([]);

    await dir.write(TEMPLATE);
    const off = await run({ NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(off.code, off.stderr).toBe(0);
    expect(cacheLine(off.stderr)).toBe('llm-proxy-bootstrap: code cache off');
    expect(await cacheFiles()).toEqual([]);
  });
});
