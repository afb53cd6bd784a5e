/**
 * The real docker-compose.yml, brought up with test/container/docker-compose.stand-in.yml,
 * which swaps only LiteLLM for the stand-in image (and postgres for an idle placeholder).
 * With LITELLM_IMAGE (+ POSTGRES_IMAGE) set, no override is used: real LiteLLM + postgres.
 * Checks the ordering contract: proxy healthy → bootstrap exits 0 → the agent starts with
 * the issued key from .env and succeeds; then the documented rotation command.
 *
 * The env dir is a temp dir (LLM_PROXY_ENV_DIR) made from volumes/env/.env.template, so the
 * template itself is tested. Compose v1 (docker-compose 1.x) cannot parse the long
 * `env_file` syntax: for it the base file is rewritten by composeFileForV1 (nothing else).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  MASTER_KEY,
  NAME_PREFIX,
  REPO_ROOT,
  TEST_MODEL,
  compose,
  composeContainer,
  composeFileForV1,
  containerState,
  describeRun,
  dockerContext,
  docker,
  envValue,
  makeEnvDir,
  modelsWithKey,
  removeDir,
  testUser,
} from '../support/docker.ts';

const ctx = dockerContext(inject('docker'));
const skip = ctx.skip ?? ctx.composeSkip;
const PROVIDER_KEY = 'sk-test-openai-provider-key-not-real';

/** The shipped template with the values a user sets on first run. */
async function envFromTemplate(): Promise<string> {
  const template = await readFile(path.join(REPO_ROOT, 'volumes/env/.env.template'), 'utf8');
  return template
    .replace(/^LITELLM_MASTER_KEY=.*$/m, `LITELLM_MASTER_KEY=${MASTER_KEY}`)
    .replace(/^LITELLM_OPENAI_API_KEY=.*$/m, `LITELLM_OPENAI_API_KEY=${PROVIDER_KEY}`)
    .replace(/^LITELLM_DEFAULT_MODELS=.*$/m, `LITELLM_DEFAULT_MODELS=${TEST_MODEL}`);
}

describe.skipIf(skip !== undefined)(`docker-compose.yml stack (${skip ? `skipped: ${skip}` : `${ctx.mode}, compose ${ctx.compose?.version}`})`, () => {
  const project = `${NAME_PREFIX}-${ctx.runId}-stack`;
  let envDir: string | undefined;
  let workDir: string | undefined;
  let files: string[] = [];
  let env: Record<string, string> = {};
  let stack: StartedDockerComposeEnvironment | undefined;
  let proxyUrl = '';

  beforeAll(async () => {
    const cli = ctx.compose!;
    envDir = await makeEnvDir(await envFromTemplate());
    workDir = await mkdtemp(path.join(tmpdir(), `${NAME_PREFIX}-compose-`));
    const { uid, gid } = testUser();
    env = {
      LLM_PROXY_ENV_DIR: envDir,
      UID: String(uid),
      GID: String(gid),
      LLM_PROXY_PORT: '', // a random host port
      LLM_PROXY_BOOTSTRAP_IMAGE: ctx.bootstrapImage,
      AGENT_IMAGE: ctx.agentImage,
      ...(ctx.mode === 'stand-in'
        ? { STAND_IN_IMAGE: ctx.standInImage }
        : { LITELLM_IMAGE: ctx.litellmImage, POSTGRES_IMAGE: ctx.postgresImage }),
    };
    const base = path.join(REPO_ROOT, 'docker-compose.yml');
    files = [
      cli.v1 ? await composeFileForV1(base, REPO_ROOT, { ...process.env, ...env }, workDir) : base,
      ...(ctx.mode === 'stand-in' ? [path.join(REPO_ROOT, 'test/container/docker-compose.stand-in.yml')] : []),
    ];
    stack = await new DockerComposeEnvironment(REPO_ROOT, files)
      .withProjectName(project)
      .withEnvironment(env)
      .withClientOptions({
        executable: cli.argv[0] === 'docker-compose' ? { standalone: true, executablePath: 'docker-compose' } : { executablePath: cli.argv[0]! },
        composeOptions: ['--project-directory', REPO_ROOT],
      })
      .withStartupTimeout(ctx.mode === 'real' ? 300_000 : 60_000)
      .up();
    const proxyId = await composeContainer(ctx, project, 'llm-proxy');
    const port = (await docker(ctx, ['port', proxyId, '4000'])).stdout.trim().split('\n')[0]?.split(':').pop();
    proxyUrl = `http://127.0.0.1:${port}`;
  }, 600_000);

  afterAll(async () => {
    // Also removes the named volume; `run --rm` containers are gone already.
    await stack?.down({ removeVolumes: true, timeout: 0 });
    await removeDir(envDir);
    await removeDir(workDir);
  }, 120_000);

  it('starts the agent only after the bootstrap succeeded, and the agent works with the issued key', async () => {
    const agent = await composeContainer(ctx, project, 'example-agent');
    const waited = await docker(ctx, ['wait', agent], 120_000);
    const logs = await docker(ctx, ['logs', agent]);
    expect(waited.stdout.trim(), describeRun(logs)).toBe('0');
    expect(logs.stdout).toMatch(/key works/);
    expect(logs.stdout).toContain(TEST_MODEL);

    const bootstrap = await containerState(ctx, await composeContainer(ctx, project, 'llm-proxy-bootstrap'));
    const agentState = await containerState(ctx, agent);
    expect(bootstrap.status).toBe('exited');
    expect(bootstrap.exitCode).toBe(0);
    expect(agentState.startedAt).toBeGreaterThanOrEqual(bootstrap.finishedAt);

    const envText = await readFile(path.join(envDir!, '.env'), 'utf8');
    const key = envValue(envText, 'OPENAI_API_KEY') ?? '';
    expect(key).toMatch(/^sk-/);
    expect(key).not.toBe('sk-proxy-default');
    expect((await modelsWithKey(proxyUrl, key)).status).toBe(200);
    expect(envValue(await readFile(path.join(envDir!, '.env.litellm'), 'utf8'), 'OPENAI_API_KEY')).toBe(PROVIDER_KEY);
  }, 180_000);

  it('`docker compose run --rm llm-proxy-bootstrap --rotate` issues a new key and revokes the old one', async () => {
    const envPath = path.join(envDir!, '.env');
    const oldKey = envValue(await readFile(envPath, 'utf8'), 'OPENAI_API_KEY') ?? '';
    expect(oldKey).toMatch(/^sk-/);

    const run = await compose(ctx.compose!, { name: project, files, env, projectDir: REPO_ROOT }, ['run', '--rm', '-T', 'llm-proxy-bootstrap', '--rotate']);
    expect(run.code, describeRun(run)).toBe(0);

    const newKey = envValue(await readFile(envPath, 'utf8'), 'OPENAI_API_KEY') ?? '';
    expect(newKey).toMatch(/^sk-/);
    expect(newKey).not.toBe(oldKey);
    expect((await modelsWithKey(proxyUrl, newKey)).status).toBe(200);
    expect((await modelsWithKey(proxyUrl, oldKey)).status).toBe(401);
  }, 180_000);
});
