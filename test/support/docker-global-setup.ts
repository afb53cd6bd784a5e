/**
 * vitest globalSetup for the container tests (test/container/): checks for a Docker
 * engine and builds the images once per run, shared by every container test file:
 *   - the bootstrap image from ./Dockerfile (build args BUILD_IMAGE, RUNTIME_IMAGE,
 *     NPM_CACHE_IMAGE, VERSION, REVISION are passed when set: CI sets the first three
 *     from .ci/docker-setup.sh),
 *   - the LiteLLM stand-in image (test/support/stand-in.Dockerfile on build/test/stand-in.mjs,
 *     base STAND_IN_BASE_IMAGE).
 * List it after build-global-setup.ts (which bundles build/test/stand-in.mjs).
 *
 * No engine: the container tests are skipped with the reason, unless REQUIRE_DOCKER=1,
 * which makes a missing engine (or compose CLI) a failure. When the run's file filters
 * select no container test, nothing is checked or built.
 * LITELLM_IMAGE (+ POSTGRES_IMAGE) switches the suite to real LiteLLM + postgres.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  REPO_ROOT,
  TEST_LABEL,
  docker,
  dockerCliPath,
  engineProblem,
  findCompose,
  type DockerContext,
} from './docker.ts';

const CONTAINER_TESTS_DIR = path.join(REPO_ROOT, 'test/container');

function log(message: string): void {
  process.stderr.write(`[container tests] ${message}\n`);
}

/** Does this run include a container test? (vitest matches file filters as substrings.) */
async function containerTestsSelected(project: TestProject): Promise<boolean> {
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
  const { testFiles } = await project.globTestFiles(filters && filters.length > 0 ? filters : undefined);
  return testFiles.some((f) => path.resolve(f).startsWith(CONTAINER_TESTS_DIR + path.sep));
}

function buildArgs(names: string[]): string[] {
  return names.flatMap((name) => (process.env[name] ? ['--build-arg', `${name}=${process.env[name]}`] : []));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const required = process.env['REQUIRE_DOCKER'] === '1';
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const litellmImage = process.env['LITELLM_IMAGE'] ?? '';
  const ctx: DockerContext = {
    skip: undefined,
    runId,
    docker: dockerCliPath(),
    bootstrapImage: `llm-proxy-bootstrap:${'test-' + runId}`,
    standInImage: litellmImage ? '' : `llm-proxy-bootstrap/stand-in:test-${runId}`,
    agentImage: process.env['AGENT_IMAGE'] ?? process.env['BUILD_IMAGE'] ?? 'node:24-bookworm-slim',
    mode: litellmImage ? 'real' : 'stand-in',
    litellmImage,
    postgresImage: process.env['POSTGRES_IMAGE'] ?? 'postgres:16.13-bookworm',
    compose: undefined,
    composeSkip: undefined,
  };
  const done = async (): Promise<void> => undefined;

  if (!(await containerTestsSelected(project))) {
    ctx.skip = 'no container test selected';
    project.provide('docker', ctx);
    return done;
  }
  const problem = await engineProblem(ctx.docker);
  if (problem) {
    if (required) throw new Error(`REQUIRE_DOCKER=1 but ${problem}. Run .ci/docker-setup.sh first.`);
    ctx.skip = `${problem}; set REQUIRE_DOCKER=1 to make this a failure`;
    log(`skipped: ${ctx.skip}`);
    project.provide('docker', ctx);
    return done;
  }
  const compose = await findCompose(ctx.docker);
  if (typeof compose === 'string') {
    if (required) throw new Error(`REQUIRE_DOCKER=1 but ${compose}`);
    ctx.composeSkip = compose;
  } else ctx.compose = compose;

  // The stand-in bundle comes from build-global-setup.ts; build it if this setup runs alone.
  const standInBundle = path.join(REPO_ROOT, 'build/test/stand-in.mjs');
  if (ctx.mode === 'stand-in' && !existsSync(standInBundle)) {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }

  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const started = performance.now();
  const builds = [
    docker(
      ctx,
      [
        'build',
        '--tag', ctx.bootstrapImage,
        '--build-arg', `VERSION=${process.env['VERSION'] ?? pkg.version}`,
        ...buildArgs(['BUILD_IMAGE', 'RUNTIME_IMAGE', 'NPM_CACHE_IMAGE', 'REVISION', 'CREATED']),
        REPO_ROOT,
      ],
      900_000,
    ).then((r) => ({ what: `bootstrap image ${ctx.bootstrapImage}`, r })),
  ];
  if (ctx.mode === 'stand-in') {
    builds.push(
      docker(
        ctx,
        [
          'build',
          '--tag', ctx.standInImage,
          '--file', path.join(REPO_ROOT, 'test/support/stand-in.Dockerfile'),
          ...buildArgs(['STAND_IN_BASE_IMAGE']),
          path.dirname(standInBundle),
        ],
        300_000,
      ).then((r) => ({ what: `stand-in image ${ctx.standInImage}`, r })),
    );
  }
  for (const { what, r } of await Promise.all(builds)) {
    if (r.code !== 0) {
      throw new Error(`building the ${what} failed (exit ${r.code}):\n${(r.stderr || r.stdout).split('\n').slice(-40).join('\n')}`);
    }
  }
  log(`images built in ${((performance.now() - started) / 1000).toFixed(1)} s (mode: ${ctx.mode}; compose: ${ctx.compose ? `${ctx.compose.argv.join(' ')} ${ctx.compose.version}` : 'none'})`);
  project.provide('docker', ctx);

  return async () => {
    // Containers the tests started (they stop their own; this catches leftovers), then the run's tags.
    const leftovers = (await docker(ctx, ['ps', '-aq', '--filter', `label=${TEST_LABEL}=${runId}`])).stdout.trim();
    if (leftovers) await docker(ctx, ['rm', '-f', '-v', ...leftovers.split('\n')]);
    await docker(ctx, ['image', 'rm', ctx.bootstrapImage, ...(ctx.standInImage ? [ctx.standInImage] : [])]);
  };
}
