// Primes the CLI's code cache (see src/cli/entry.ts) for an image, at build time:
// one real first run and one warm run of <cli> against the LiteLLM stand-in
// (a test double, build/test/stand-in.mjs; used here only so the runs take the
// real code paths), with NODE_COMPILE_CACHE=<dir>. Exits non-zero if a run fails
// or no cache was written.
//
//   node scripts/prime-cache.mjs /app/cli.cjs /app/.compile-cache
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [cli, cacheDir] = process.argv.slice(2);
if (!cli || !cacheDir) throw new Error('usage: node scripts/prime-cache.mjs <cli.cjs> <cache dir>');
const MASTER = 'sk-prime-master-key';

const standIn = spawn(process.execPath, [new URL('../build/test/stand-in.mjs', import.meta.url).pathname], {
  env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LITELLM_MASTER_KEY: MASTER, STAND_IN_MODELS: 'gpt-4o-mini' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  let out = '';
  standIn.stdout.on('data', (d) => {
    out += d;
    const m = /listening on (\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  standIn.once('exit', (code) => reject(new Error(`stand-in exited (${code})`)));
});

const dir = mkdtempSync(join(tmpdir(), 'prime-'));
try {
  writeFileSync(join(dir, '.env'), `LITELLM_MASTER_KEY=${MASTER}\nLITELLM_MODEL=gpt-4o-mini\nLITELLM_OPENAI_API_KEY=sk-prime-upstream\nOPENAI_API_KEY=sk-proxy-default\n`);
  for (const run of ['first', 'warm']) {
    const r = spawnSync(process.execPath, [cli], {
      env: { PATH: process.env.PATH, NODE_COMPILE_CACHE: cacheDir, ENV_FILE_PATH: join(dir, '.env'), LITELLM_ENV_FILE_PATH: join(dir, '.env.litellm'), PROXY_BASE_URL: url },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${run} run exited ${r.status}: ${r.stderr}`);
  }
} finally {
  standIn.kill();
  rmSync(dir, { recursive: true, force: true });
}
const files = readdirSync(join(cacheDir, 'llm-proxy-bootstrap'));
if (!files.some((f) => f.endsWith('.bin') && !f.endsWith('.partial.bin'))) throw new Error(`no code cache written in ${cacheDir}`);
console.log(`code cache primed: ${files.join(', ')}`);
