/**
 * Messages that point at the fault: a server at PROXY_BASE_URL that is not LiteLLM is named with
 * its URL and the setting; every problem of a keys file is reported in one run; a variable assigned
 * twice in .env with different values is warned about, naming both lines (never a value).
 * Real CLI processes, real files, a real HTTP server on loopback.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { envDir, runCli, type EnvDir } from '../support/cli.ts';
import { messages } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-pointing-7a7a7a';
const SALT = 'sk-salt-pointing-7a7a7a7a7a';
const ENV = (extra = '') => `LITELLM_MASTER_KEY=${MASTER}
LITELLM_SALT_KEY=${SALT}
LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini
OPENAI_API_KEY=sk-proxy-default
${extra}`;

let dir: EnvDir;
afterEach(async () => {
  await dir.cleanup();
});

describe('a web server at PROXY_BASE_URL that is not LiteLLM (answers 200 with a page)', () => {
  let server: Server;
  let url: string;
  beforeEach(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome to nginx!</body></html>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('exit 4 naming the URL it asked and PROXY_BASE_URL; .env untouched', async () => {
    dir = await envDir(ENV());
    const r = await runCli([], { env: { ENV_FILE_PATH: dir.env, PROXY_BASE_URL: url, LITELLM_PROXY_WAIT_SECONDS: '5' } });
    expect(r.code, r.stderr).toBe(4);
    expect(r.last).toContain(url);
    expect(r.last).toContain('PROXY_BASE_URL');
    expect(r.last).toContain('not what a LiteLLM proxy answers');
    expect(await dir.read()).toBe(ENV());
  });
});

describe('.env and the keys file', () => {
  let proxy: LiteLLMStandIn;
  beforeEach(async () => {
    proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['openai/*'] });
  });
  afterEach(async () => {
    await proxy.close();
  });

  it('a keys file with two problems: both reported in one run, each with its line', async () => {
    dir = await envDir(ENV());
    await writeFile(
      path.join(dir.dir, 'keys.yaml'),
      'keys:\n  - alias: team-a\n    env: TEAM_A_KEY\n    max_budget: -5\n  - alias: team-b\n    env: 9-not-a-name\n    models: [openai/gpt-4o-mini]\n',
    );
    const r = await runCli([], { env: { ENV_FILE_PATH: dir.env, PROXY_BASE_URL: proxy.url, LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/line 4: keys\.0\.max_budget must be 0 or more/);
    expect(r.last).toMatch(/line 6: keys\.1\.env must be a variable name/);
  });

  it('LITELLM_MASTER_KEY assigned twice with different values: a warning naming both lines, never a value', async () => {
    const wrong = 'sk-master-stale-first-line-0000';
    dir = await envDir(`LITELLM_MASTER_KEY=${wrong}\n${ENV()}`);
    const r = await runCli([], { env: { ENV_FILE_PATH: dir.env, PROXY_BASE_URL: proxy.url } });
    expect(r.code, r.stderr).toBe(0);
    expect(messages(r)).toContain(`LITELLM_MASTER_KEY is assigned 2 times in ${dir.env} with different values (lines 1, 2): the last, line 2, is in effect; delete the others`);
    expect(r.stderr).not.toContain(wrong);
    expect(r.stderr).not.toContain(MASTER);
  });
});
