/**
 * The proxy's entrypoint wrapper (volumes/litellm/with-env-file.sh, the llm-proxy service's
 * entrypoint in docker-compose.yml) runs what LiteLLM's image runs. A small image laid out like
 * LiteLLM's (WORKDIR /app, ENTRYPOINT ["docker/prod_entrypoint.sh"], CMD ["--port", "4000"] as at
 * 1.77.2 and later; /app/docker-entrypoint.sh, the component dispatcher of the newest images;
 * `litellm` on PATH) whose three programs only record how they were called, run by a real engine.
 */
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, TEST_LABEL, docker, dockerContext, dockerOk } from '../support/docker.ts';

const ctx = dockerContext(inject('docker'));
const WRAPPER = path.join(REPO_ROOT, 'volumes/litellm/with-env-file.sh');

/** Each program prints one line: who ran, from where, with which arguments, and a variable of the env file. */
const recorder = (name: string) => `#!/bin/sh\necho "${name} cwd=$(pwd) OPENAI_API_KEY=\${OPENAI_API_KEY-unset} args=$*"\n`;

const DOCKERFILE = (base: string) => `FROM ${base}
COPY prod_entrypoint.sh /app/docker/prod_entrypoint.sh
COPY docker-entrypoint.sh /app/docker-entrypoint.sh
COPY litellm /usr/local/bin/litellm
WORKDIR /app
ENTRYPOINT ["docker/prod_entrypoint.sh"]
CMD ["--port", "4000"]
`;

describe.skipIf(ctx.skip !== undefined)(`the proxy's entrypoint wrapper in a LiteLLM-shaped image (${ctx.skip ? `skipped: ${ctx.skip}` : 'docker'})`, () => {
  const image = `lpb-test/litellm-entrypoints:${ctx.runId}`;
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lpb-test-entrypoints-'));
    for (const [file, who] of [['prod_entrypoint.sh', 'prod_entrypoint.sh'], ['docker-entrypoint.sh', 'docker-entrypoint.sh'], ['litellm', 'litellm']] as const) {
      await writeFile(path.join(dir, file), recorder(who));
      await chmod(path.join(dir, file), 0o755);
    }
    await writeFile(path.join(dir, '.env.litellm'), 'OPENAI_API_KEY=sk-from-the-env-file\n', { mode: 0o644 });
    const wanted = process.env['WRAPPER_TEST_BASE_IMAGE'] ?? 'llm-proxy-bootstrap/debian:bookworm';
    const base = (await docker(ctx, ['image', 'inspect', wanted], 20_000)).code === 0 ? wanted : 'debian:bookworm-slim';
    await writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE(base));
    await dockerOk(ctx, ['build', '-q', '--label', `${TEST_LABEL}=${ctx.runId}`, '-t', image, dir], 300_000);
  }, 360_000);

  afterAll(async () => {
    await docker(ctx, ['image', 'rm', '-f', image], 60_000).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** `docker run` of the test image; `pre` runs first in the container (e.g. removing a program). */
  async function run(opts: { wrapped: boolean; args: string[]; pre?: string }): Promise<{ code: number; out: string; err: string }> {
    const mounts = ['-v', `${WRAPPER}:/etc/litellm/with-env-file.sh:ro`, '-v', `${path.join(dir, '.env.litellm')}:/run/llm-proxy/.env.litellm:ro`];
    const wrapper = ['/bin/sh', '/etc/litellm/with-env-file.sh', '/run/llm-proxy/.env.litellm', ...opts.args];
    const argv = !opts.wrapped
      ? ['run', '--rm', image, ...opts.args]
      : opts.pre
        ? ['run', '--rm', ...mounts, '--entrypoint', '/bin/sh', image, '-c', `${opts.pre} && exec "$@"`, 'sh', ...wrapper]
        : ['run', '--rm', ...mounts, '--entrypoint', wrapper[0]!, image, ...wrapper.slice(1)];
    const r = await docker(ctx, argv, 120_000);
    return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
  }

  const COMPOSE_ARGS = ['--config', '/etc/litellm/proxy_config.yaml', '--port', '4000'];

  it("runs the image's ENTRYPOINT (docker/prod_entrypoint.sh under /app) with compose's arguments, as the image itself would, with the env file loaded", async () => {
    const image_ = await run({ wrapped: false, args: COMPOSE_ARGS });
    expect(image_.code, image_.err).toBe(0);
    expect(image_.out).toBe('prod_entrypoint.sh cwd=/app OPENAI_API_KEY=unset args=--config /etc/litellm/proxy_config.yaml --port 4000');
    const wrapped = await run({ wrapped: true, args: COMPOSE_ARGS });
    expect(wrapped.code, wrapped.err).toBe(0);
    expect(wrapped.out).toBe(image_.out.replace('OPENAI_API_KEY=unset', 'OPENAI_API_KEY=sk-from-the-env-file'));
    expect(wrapped.err).toContain('with-env-file: 1 variable(s) from /run/llm-proxy/.env.litellm');
    // No arguments at all: the entrypoint without any (LiteLLM's own default port).
    expect((await run({ wrapped: true, args: [] })).out).toBe('prod_entrypoint.sh cwd=/app OPENAI_API_KEY=sk-from-the-env-file args=');
  });

  it('a component name (gateway, backend, migrations) goes to the dispatcher /app/docker-entrypoint.sh with every argument', async () => {
    for (const component of ['gateway', 'backend', 'migrations']) {
      const r = await run({ wrapped: true, args: [component, '--port', '4001'] });
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(`docker-entrypoint.sh cwd=/app OPENAI_API_KEY=sk-from-the-env-file args=${component} --port 4001`);
    }
  });

  it('an image without docker/prod_entrypoint.sh: the dispatcher; without either: litellm', async () => {
    const dispatcher = await run({ wrapped: true, args: ['--port', '4000'], pre: 'rm /app/docker/prod_entrypoint.sh' });
    expect(dispatcher.out).toBe('docker-entrypoint.sh cwd=/app OPENAI_API_KEY=sk-from-the-env-file args=--port 4000');
    const plain = await run({ wrapped: true, args: ['--port', '4000'], pre: 'rm /app/docker/prod_entrypoint.sh /app/docker-entrypoint.sh' });
    expect(plain.out).toBe('litellm cwd=/app OPENAI_API_KEY=sk-from-the-env-file args=--port 4000');
  });

  it('a component on an image without the dispatcher (LiteLLM 1.77): exit 78 naming what is missing, nothing run', async () => {
    const r = await run({ wrapped: true, args: ['backend', '--port', '4001'], pre: 'rm /app/docker-entrypoint.sh' });
    expect(r.code).toBe(78);
    expect(r.out).toBe('');
    expect(r.err).toContain("with-env-file: component 'backend' needs LiteLLM's component dispatcher /app/docker-entrypoint.sh, which this image does not have");
  });

  it('a command of your own runs as given', async () => {
    const r = await run({ wrapped: true, args: ['sh', '-c', 'echo "own OPENAI_API_KEY=$OPENAI_API_KEY"'] });
    expect(r.out).toBe('own OPENAI_API_KEY=sk-from-the-env-file');
  });
});
