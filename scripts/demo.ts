/**
 * npm run demo: the bootstrap against the LiteLLM stand-in (a test double) on a
 * scratch copy of volumes/env/, twice, showing what changed in .env with
 * secrets masked. No Docker needed.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLiteLLMStandIn } from '../test/support/litellm-stand-in.ts';

const MASTER = 'sk-demo-master-key-0123456789';
const mask = (text: string) => text.replace(/(sk-[A-Za-z0-9_-]{3})[A-Za-z0-9_-]+/g, (m, head: string) => (m === 'sk-proxy-default' ? m : `${head}…`));

const dir = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-demo-'));
const env = path.join(dir, '.env');
await copyFile('volumes/env/.env.template', env);
const template = await readFile(env, 'utf8');
await writeFile(
  env,
  template
    .replace(/^LITELLM_MASTER_KEY=.*$/m, `LITELLM_MASTER_KEY=${MASTER}`)
    .replace(/^LITELLM_SALT_KEY=.*$/m, 'LITELLM_SALT_KEY=sk-demo-salt-key-0123456789') // the template's placeholder is refused
    .replace(/^LITELLM_OPENAI_API_KEY=.*$/m, 'LITELLM_OPENAI_API_KEY=sk-proj-demo-upstream-secret-abcdef'),
);
const before = await readFile(env, 'utf8');
const proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['openai/gpt-4o-mini', 'openai/gpt-4o'] });

function run(label: string): Promise<number> {
  console.log(`\n$ llm-proxy-bootstrap   # ${label}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/cli.cjs'], {
      env: { PATH: process.env.PATH, ENV_FILE_PATH: env, LITELLM_ENV_FILE_PATH: path.join(dir, '.env.litellm'), PROXY_BASE_URL: proxy.url, LOG_FORMAT: 'pretty' },
      stdio: 'inherit',
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

try {
  const started = Date.now();
  let code = await run('first run: waits, mirrors secrets, issues the key');
  console.log(`exit ${code} after ${Date.now() - started} ms, ${proxy.requestCount()} request(s) to the proxy`);
  const after = await readFile(env, 'utf8');
  const a = before.split('\n');
  const b = after.split('\n');
  // Every variable named with its file: OPENAI_API_KEY is the agent's key in .env, the upstream key in .env.litellm.
  console.log(`\n${env} (the agent's .env), lines that changed (secrets masked):`);
  a.forEach((line, i) => line !== b[i] && console.log(`  ${env} line ${i + 1}${/^OPENAI_API_KEY=/.test(b[i] ?? '') ? ": OPENAI_API_KEY, the agent's virtual key" : ''}\n  - ${mask(line)}\n  + ${mask(b[i] ?? '')}`));
  const litellm = path.join(dir, '.env.litellm');
  console.log(`\n${litellm} (the proxy's env file; its OPENAI_API_KEY is the upstream key, LITELLM_OPENAI_API_KEY of ${env}; secrets masked):`);
  console.log(mask(await readFile(litellm, 'utf8')).replace(/^/gm, '  '));
  proxy.resetRequests();
  const warm = Date.now();
  code = await run('second run: everything is in place');
  console.log(`exit ${code} after ${Date.now() - warm} ms, ${proxy.requestCount()} request(s); .env ${(await readFile(env, 'utf8')) === after ? 'unchanged' : 'CHANGED'}`);
  process.exitCode = code;
  console.log('\nThe same against your own proxy and .env, from this clone (README "On the host"):');
  console.log('  bash scripts/node24.sh npm run bootstrap -- --env-path volumes/env/.env --proxy-url http://127.0.0.1:10999');
} finally {
  await proxy.close();
  await rm(dir, { recursive: true, force: true });
}
