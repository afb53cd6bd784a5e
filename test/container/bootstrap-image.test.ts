/**
 * The image built from ./Dockerfile, run the way compose runs it (non-root uid, read-only
 * root filesystem, no capabilities, the env dir bind-mounted) against the LiteLLM stand-in
 * as a container on a user-defined network — or real LiteLLM + postgres when LITELLM_IMAGE
 * is set. Images come from test/support/docker-global-setup.ts.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { StartedNetwork } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  MASTER_KEY,
  TEST_LABEL,
  TEST_MODEL,
  describeRun,
  dockerContext,
  docker,
  dockerOk,
  envValue,
  keysWithAlias,
  makeEnvDir,
  modelsWithKey,
  removeDir,
  runBootstrap,
  startNetwork,
  startProxy,
  testUser,
  type ProxyUnderTest,
} from '../support/docker.ts';

const ctx = dockerContext(inject('docker'));
const ALIAS = 'task-agent default';
const PROVIDER_KEY = 'sk-test-openai-provider-key-not-real';

const ENV_TEXT = [
  '# written by the container test',
  `LITELLM_MASTER_KEY=${MASTER_KEY}`,
  `LITELLM_DEFAULT_MODELS=${TEST_MODEL}`,
  `LITELLM_OPENAI_API_KEY=${PROVIDER_KEY}`,
  'KEEP_ME="an unrelated value"',
  'OPENAI_API_KEY=sk-proxy-default',
  'LOG_FORMAT=json',
  '',
].join('\n');

describe.skipIf(ctx.skip !== undefined)(`bootstrap image (${ctx.skip ? `skipped: ${ctx.skip}` : ctx.mode})`, () => {
  let network: StartedNetwork;
  let proxy: ProxyUnderTest;
  let envDir: string | undefined;
  let issuedKey = '';
  let envAfterFirst = '';
  let litellmAfterFirst = '';

  beforeAll(async () => {
    network = await startNetwork(ctx, 'image');
    proxy = await startProxy(ctx, network, 'image');
    envDir = await makeEnvDir(ENV_TEXT);
  }, 360_000);

  afterAll(async () => {
    await proxy?.stop();
    await network?.stop().catch(() => undefined);
    await removeDir(envDir);
  });

  it('first run: exits 0, writes a working key into .env and the provider keys into .env.litellm (0600)', async () => {
    const run = await runBootstrap(ctx, { network, envDir: envDir! });
    expect(run.code, describeRun(run)).toBe(0);

    envAfterFirst = await readFile(path.join(envDir!, '.env'), 'utf8');
    issuedKey = envValue(envAfterFirst, 'OPENAI_API_KEY') ?? '';
    expect(issuedKey).toMatch(/^sk-/);
    expect(issuedKey).not.toBe('sk-proxy-default');
    // The rest of .env is kept.
    expect(envAfterFirst).toContain('# written by the container test');
    expect(envValue(envAfterFirst, 'KEEP_ME')).toBe('an unrelated value');
    expect(envValue(envAfterFirst, 'LITELLM_MASTER_KEY')).toBe(MASTER_KEY);

    // The key is a working credential on the proxy, for the model it was issued for.
    const models = await modelsWithKey(proxy.url, issuedKey);
    expect(models.status).toBe(200);
    expect(models.ids).toContain(TEST_MODEL);

    // .env.litellm: the provider key under the proxy's name and the proxy's own master key,
    // never the agent's key or another line of .env; private to the bootstrap's uid.
    const litellmPath = path.join(envDir!, '.env.litellm');
    litellmAfterFirst = await readFile(litellmPath, 'utf8');
    expect(envValue(litellmAfterFirst, 'OPENAI_API_KEY')).toBe(PROVIDER_KEY);
    expect(envValue(litellmAfterFirst, 'LITELLM_MASTER_KEY')).toBe(MASTER_KEY);
    expect(litellmAfterFirst).not.toContain(issuedKey);
    expect(litellmAfterFirst).not.toContain('KEEP_ME');
    const st = await stat(litellmPath);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(testUser().uid);

    // Secrets never reach the logs.
    expect(run.stdout + run.stderr).not.toContain(issuedKey);
    expect(run.stdout + run.stderr).not.toContain(PROVIDER_KEY);
    expect(run.stdout + run.stderr).not.toContain(MASTER_KEY);
  }, 240_000);

  it('second run is idempotent: same key, same files, no new key on the proxy', async () => {
    expect(issuedKey, 'needs the first run').not.toBe('');
    const before = Date.now();
    const run = await runBootstrap(ctx, { network, envDir: envDir!, env: { NODE_DEBUG_NATIVE: 'COMPILE_CACHE' } });
    expect(run.code, describeRun(run)).toBe(0);
    // Node keeps one compile cache per uid: the image bakes the image user's (65532). Run as
    // another uid (as compose runs it) there is none, and the read-only image cannot get one;
    // the run goes on without it.
    if (testUser().uid !== 65532) expect(run.stderr).toMatch(/\[compile cache\] Cannot create cache directory/);

    expect(await readFile(path.join(envDir!, '.env'), 'utf8')).toBe(envAfterFirst);
    expect(await readFile(path.join(envDir!, '.env.litellm'), 'utf8')).toBe(litellmAfterFirst);
    expect(await keysWithAlias(proxy.url, ALIAS)).toBe(1);
    const state = await proxy.state();
    if (state) {
      const generated = state.requests.filter((r) => r.at >= before && r.method === 'POST' && r.path === '/key/generate');
      expect(generated).toEqual([]);
    }
    process.stderr.write(
      `[container tests] warm bootstrap run: ${run.containerMs.toFixed(0)} ms container start→exit, ${run.ms.toFixed(0)} ms \`docker run\` wall time\n`,
    );
  }, 240_000);

  it('a .env without the master key exits 2 and is left untouched', async () => {
    const text = ENV_TEXT.replace(/^LITELLM_MASTER_KEY=.*\n/m, '');
    const dir = await makeEnvDir(text);
    try {
      const run = await runBootstrap(ctx, { network, envDir: dir });
      expect(run.code, describeRun(run)).toBe(2);
      expect(run.stdout + run.stderr).toMatch(/LITELLM_MASTER_KEY/);
      expect(await readFile(path.join(dir, '.env'), 'utf8')).toBe(text);
    } finally {
      await removeDir(dir);
    }
  }, 120_000);

  it("as the image's own user, Node's compile cache baked into the image is used", async () => {
    const run = await docker(ctx, ['run', '--rm', '--label', `${TEST_LABEL}=${ctx.runId}`, '--read-only', '-e', 'NODE_DEBUG_NATIVE=COMPILE_CACHE', ctx.bootstrapImage, '--version']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.stderr).toMatch(/V8 code cache for CommonJS \/app\/bootstrap\.cjs was accepted/);
  }, 120_000);

  it.each([['--env-path'], ['--env-file']])('%s naming a missing file: exit 2 with the hint, from the entrypoint as it is', async (flag) => {
    const dir = await makeEnvDir(ENV_TEXT);
    try {
      const run = await runBootstrap(ctx, { network, envDir: dir, args: [flag, '/bootstrap/env/missing/.env'] });
      expect(run.code, describeRun(run)).toBe(2);
      expect(run.stderr).toContain('/bootstrap/env/missing/.env does not exist');
      expect(run.stderr).toContain('.env.template');
      expect(await readFile(path.join(dir, '.env'), 'utf8')).toBe(ENV_TEXT);
    } finally {
      await removeDir(dir);
    }
  }, 120_000);

  it('an unreachable proxy exits 3 once LITELLM_PROXY_WAIT_SECONDS is over', async () => {
    const dir = await makeEnvDir(ENV_TEXT);
    try {
      const run = await runBootstrap(ctx, {
        network,
        envDir: dir,
        env: { PROXY_BASE_URL: 'http://no-such-proxy:4000', LITELLM_PROXY_WAIT_SECONDS: '2' },
      });
      expect(run.code, describeRun(run)).toBe(3);
      expect(await readFile(path.join(dir, '.env'), 'utf8')).toBe(ENV_TEXT);
    } finally {
      await removeDir(dir);
    }
  }, 120_000);

  it('the image runs as non-root with an exec-form entrypoint, carries OCI labels and has no shell', async () => {
    const [config] = JSON.parse(await dockerOk(ctx, ['image', 'inspect', ctx.bootstrapImage])) as {
      Config: { User: string; Entrypoint: string[]; Labels: Record<string, string> | null };
    }[];
    expect(config!.Config.User).toBe('65532:65532');
    // `--`: Node's own options end there, so it cannot claim --env-file (nodejs/node#54232).
    expect(config!.Config.Entrypoint).toEqual(['/nodejs/bin/node', '--', '/app/cli.cjs']);
    expect(config!.Config.Labels?.['org.opencontainers.image.title']).toBe('llm-proxy-bootstrap');
    expect(config!.Config.Labels?.['org.opencontainers.image.version']).toMatch(/\S/);

    // distroless (and CI's stand-in for it) has no shell; other RUNTIME_IMAGEs may.
    const runtime = process.env['RUNTIME_IMAGE'];
    if (runtime === undefined || /distroless/.test(runtime)) {
      const sh = await docker(ctx, ['run', '--rm', '--label', `${TEST_LABEL}=${ctx.runId}`, '--entrypoint', '/bin/sh', ctx.bootstrapImage, '-c', 'true']);
      expect(sh.code, 'the runtime image should have no /bin/sh').not.toBe(0);
    }
  }, 120_000);

  it('the image carries the licence of every third-party package its bundle holds (/app/THIRD_PARTY_NOTICES), and the bundle keeps their legal comments', async () => {
    const read = (file: string) =>
      dockerOk(ctx, ['run', '--rm', '--label', `${TEST_LABEL}=${ctx.runId}`, '--entrypoint', '/nodejs/bin/node', ctx.bootstrapImage, '-e', `process.stdout.write(require('fs').readFileSync(${JSON.stringify(file)}, 'utf8'))`]);
    const notices = await read('/app/THIRD_PARTY_NOTICES');
    const lock = JSON.parse(await readFile(path.join(process.cwd(), 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
    // Every runtime dependency of package.json, at the version the lock file installs, with its licence text.
    const pkg = JSON.parse(await readFile(path.join(process.cwd(), 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of Object.keys(pkg.dependencies)) {
      expect(notices, name).toContain(`${name}@${lock.packages[`node_modules/${name}`]!.version} (`);
    }
    expect(notices).toMatch(/Permission is hereby granted, free of charge/); // MIT's text, not only its name
    const bundle = await read('/app/bootstrap.cjs');
    expect(bundle).toMatch(/\/\*![\s\S]*?\*\/|@license|@preserve/);
  }, 120_000);
});
