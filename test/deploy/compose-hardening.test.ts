/**
 * docker-compose.yml as compose itself reads it (`docker compose config`): what a compromised
 * container of the stack can and cannot do. test/container/compose-stack.test.ts brings the same file
 * up and checks the running containers (the agent unable to reach llm-proxy-db:5432, SIGTERM honoured).
 */
import { describe, expect, it } from 'vitest';
import { dockerCliPath, exec, REPO_ROOT } from '../support/process.ts';

interface Service {
  cap_drop?: string[];
  cap_add?: string[];
  init?: boolean;
  security_opt?: string[];
  networks?: Record<string, unknown>;
  network_mode?: string;
  environment?: Record<string, string | null>;
  volumes?: { source?: string; target: string; read_only?: boolean }[];
}
interface Config {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
}

/** The file as compose reads it, every profile on; undefined when this machine has no Compose v2. */
async function config(env: Record<string, string> = {}): Promise<Config | undefined> {
  const r = await exec(dockerCliPath(), ['compose', '-f', 'docker-compose.yml', '--profile', 'otel', 'config', '--format', 'json'], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
  if (r.code !== 0 && /is not a docker command|unknown command|ENOENT/.test(r.stderr)) return undefined;
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Config;
}

const probe = await config();

describe.skipIf(!probe)('docker-compose.yml, hardened (docker compose config)', () => {
  const c = probe!;

  it('every service drops every capability, cannot gain new ones, and runs an init as PID 1 (SIGTERM reaches the program)', () => {
    expect(Object.keys(c.services).sort()).toEqual(['example-agent', 'llm-proxy', 'llm-proxy-bootstrap', 'llm-proxy-db', 'llm-proxy-init', 'otel-collector']);
    for (const [name, s] of Object.entries(c.services)) {
      expect(s.cap_drop, name).toEqual(['ALL']);
      expect(s.security_opt, name).toContain('no-new-privileges:true');
      expect(s.init, name).toBe(true);
    }
  });

  it("adds back only what an image's root needs: LiteLLM reads the 0600 env file of UID:GID; postgres's entrypoint reads its password file and drops to its user", () => {
    const added = Object.fromEntries(Object.entries(c.services).map(([n, s]) => [n, [...(s.cap_add ?? [])].sort()]));
    expect(added).toEqual({
      'example-agent': [],
      'llm-proxy': ['DAC_READ_SEARCH'],
      'llm-proxy-bootstrap': [],
      'llm-proxy-db': ['DAC_READ_SEARCH', 'SETGID', 'SETUID'],
      'llm-proxy-init': [],
      'otel-collector': [],
    });
    // Never the ones that would undo the rest: any file's write access, any uid's files, the kernel.
    for (const s of Object.values(c.services)) for (const cap of ['DAC_OVERRIDE', 'SYS_ADMIN', 'NET_ADMIN', 'NET_RAW', 'SYS_PTRACE', 'ALL']) expect(s.cap_add ?? []).not.toContain(cap);
  });

  it('the database is on a network of its own with the proxy only: no way out, and the agent (and the bootstrap) cannot reach it', () => {
    const on = (net: string) => Object.entries(c.services).filter(([, s]) => Object.keys(s.networks ?? {}).includes(net)).map(([n]) => n).sort();
    expect(Object.keys(c.services['llm-proxy-db']!.networks ?? {})).toEqual(['llm-proxy-db']);
    expect(on('llm-proxy-db')).toEqual(['llm-proxy', 'llm-proxy-db']);
    expect(c.networks['llm-proxy-db']?.internal).toBe(true);
    expect(on('default')).toEqual(['example-agent', 'llm-proxy', 'llm-proxy-bootstrap', 'otel-collector']);
    // The step that only writes files has no network at all.
    expect(c.services['llm-proxy-init']!.network_mode).toBe('none');
  });

  it('no database password in the compose file: postgres reads a file, the proxy builds its URL from .env.litellm; the former default `litellm` and LLM_PROXY_DB_PASSWORD from the shell are gone', async () => {
    const db = c.services['llm-proxy-db']!;
    expect(db.environment?.['POSTGRES_PASSWORD']).toBeUndefined();
    expect(db.environment?.['POSTGRES_PASSWORD_FILE']).toBe('/run/llm-proxy-db/password');
    expect(db.volumes?.find((v) => v.target === '/run/llm-proxy-db')).toMatchObject({ read_only: true });
    const proxy = c.services['llm-proxy']!;
    expect(proxy.environment?.['DATABASE_URL']).toBeUndefined();
    expect(proxy.environment).toMatchObject({ DATABASE_HOST: 'llm-proxy-db:5432', DATABASE_USERNAME: 'litellm', DATABASE_NAME: 'litellm' });
    expect(c.services['llm-proxy-init']!.environment?.['DB_PASSWORD_FILE_PATH']).toBe('/bootstrap/env/db/password');
    // A password exported in the shell (the old way) reaches no container.
    const withShell = await config({ LLM_PROXY_DB_PASSWORD: 'from-the-shell-0123' });
    expect(JSON.stringify(withShell)).not.toContain('from-the-shell-0123');
  });
});
