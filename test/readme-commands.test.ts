/**
 * The README's commands work on a fresh clone as written: every `npm run X` exists, every script
 * it names is in the repository, every `docker compose run` names a service of docker-compose.yml,
 * every flag it shows is one the CLI's --help lists, and the host one-liner (`--env-path`) runs
 * against a real .env and the LiteLLM stand-in. No Docker: compose commands are checked, not run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { startLiteLLMStandIn, type LiteLLMStandIn } from './support/litellm-stand-in.ts';
import { envDir, runCli, valueOf, type EnvDir } from './support/cli.ts';

const README = readFileSync('README.md', 'utf8');
const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
const services = Object.keys((parseYaml(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, unknown> }).services);

/** Every shell command the README shows: lines of ```sh blocks and inline code that starts like a command. */
function commands(markdown: string): string[] {
  const found: string[] = [];
  for (const block of markdown.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
    found.push(...block[1]!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
  }
  for (const span of markdown.matchAll(/`([^`\n]+)`/g)) {
    const text = span[1]!.trim();
    if (/^(bash |npm |npx |node |docker compose |env [A-Z]+=)/.test(text)) found.push(text);
  }
  return [...new Set(found)];
}

/** The bootstrap's own arguments in a command line: after `npm run bootstrap --`, `dist/cli.cjs`, or the compose service. */
function bootstrapArgs(command: string): string[] | undefined {
  const m = /(?:npm run bootstrap --|node dist\/cli\.cjs|docker compose run --rm(?: -T)? llm-proxy-bootstrap)\s*(.*)$/.exec(command);
  return m ? m[1]!.split(/\s+/).filter(Boolean) : undefined;
}

const ALL = commands(README);
let help = '';

beforeAll(async () => {
  help = (await runCli(['--help'])).stdout;
});

describe("the README's commands, as written", () => {
  it('shows the commands a newcomer needs (so the checks below check something)', () => {
    expect(ALL).toContain('bash scripts/node24.sh npm run demo');
    expect(ALL).toContain('bash scripts/test.sh');
    expect(ALL.some((c) => c.includes('--env-path'))).toBe(true);
  });

  it('every `npm run X` and `npm test` is a script of package.json', () => {
    const named = ALL.flatMap((c) => [...c.matchAll(/npm (?:run ([\w:-]+)|(test)\b)/g)].map((m) => m[1] ?? m[2]!));
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect(Object.keys(scripts), `npm run ${name}`).toContain(name);
  });

  it('every script it runs is in the repository, and node24.sh installs the dependencies a fresh clone lacks', () => {
    const paths = ALL.flatMap((c) => [...c.matchAll(/\bbash (\S+\.sh)\b/g)].map((m) => m[1]!));
    expect(paths.length).toBeGreaterThan(0);
    for (const p of paths) expect(existsSync(p), p).toBe(true);
    // `bash scripts/node24.sh npm run demo` on a clone without node_modules: npm ci first.
    expect(readFileSync('scripts/node24.sh', 'utf8')).toMatch(/node_modules[\s\S]*npm ci/);
  });

  it('every `docker compose run` names a service of docker-compose.yml', () => {
    const named = ALL.flatMap((c) => [...c.matchAll(/docker compose (?:run --rm(?: -T)?|up -d --force-recreate|logs) ([a-z][\w-]*(?: [a-z][\w-]*)*)/g)].flatMap((m) => m[1]!.split(' ')));
    expect(named.length).toBeGreaterThan(0);
    for (const s of named) expect(services, s).toContain(s);
  });

  it('every flag it passes to the bootstrap is one --help lists', () => {
    const flags = ALL.flatMap((c) => bootstrapArgs(c) ?? []).filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
    expect(flags).toContain('--env-path');
    for (const flag of flags) expect(help, flag).toContain(flag);
  });
});

describe('the host one-liner', () => {
  const MASTER = 'sk-master-readme-host-run-31';
  let proxy: LiteLLMStandIn;
  let dir: EnvDir;
  beforeAll(async () => {
    proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: ['openai/gpt-4o-mini'] });
    dir = await envDir(`LITELLM_MASTER_KEY=${MASTER}\nLITELLM_SALT_KEY=sk-salt-readme-host-run-31\nLITELLM_DEFAULT_MODELS=openai/gpt-4o-mini\nLITELLM_OPENAI_API_KEY=sk-proj-readme-upstream-0123\nOPENAI_API_KEY=sk-proxy-default\n`);
  });
  afterAll(async () => {
    await proxy.close();
    await dir.cleanup();
  });

  it('with its --env-path and --proxy-url pointed at a local .env and proxy, issues the key into that .env and writes .env.litellm beside it', async () => {
    const line = ALL.find((c) => c.includes('--env-path') && bootstrapArgs(c) !== undefined)!;
    // The README's arguments, with its clone's paths and published port replaced by this test's own.
    const args = bootstrapArgs(line)!.map((a) => a.replace('volumes/env/.env', dir.env).replace(/^http:\/\/127\.0\.0\.1:\d+$/, proxy.url));
    const r = await runCli(args, { env: {} });
    expect(r.code, r.stderr).toBe(0);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toMatch(/^sk-/);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).not.toBe('sk-proxy-default');
    expect(await dir.readLitellm()).toContain('OPENAI_API_KEY=');
  });

  it('without --env-path, a missing .env names the setting and the flag that point at it', async () => {
    const r = await runCli(['--proxy-url', proxy.url], { env: {}, cwd: dir.dir });
    expect(r.code).toBe(2);
    expect(r.last).toContain('/bootstrap/env/.env does not exist');
    expect(r.last).toContain('the file ENV_FILE_PATH / --env-path names');
    expect(r.last).toContain('--env-path volumes/env/.env');
  });
});
