/**
 * Deployments that step off the template: a .env copied by hand that keeps the template's published
 * secrets (or the docs' sk-1234), aliases every current LiteLLM refuses, and a bootstrap pointed at a
 * split deployment's gateway. The built CLI as a process, real files, the stand-in on loopback
 * (it records every request, so "no request" is what the proxy saw).
 */
import { describe, expect, it } from 'vitest';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli, valueOf, WatchedSecrets } from '../support/cli.ts';
import { scenarioLab, warnings } from '../support/scenario-lab.ts';

const MASTER = 'sk-master-TAZyIFKHA2z1ostxsjvV';
const SALT = 'sk-salt-6eZLPZb6q7IaSPAzOz5s';
const UPSTREAM = 'sk-proj-DEPLOYMENTSupstreamSECRET0123456789abcd';
const TEMPLATE_FILE = path.resolve('volumes/env/.env.template');
/** Every run of this file fails if it prints any 8-character piece of one of these (support/cli.ts). */
const secretsSeen = new WatchedSecrets([MASTER, SALT, UPSTREAM]);

/** The template's published values, read from the template itself. */
async function placeholders(): Promise<{ master: string; salt: string }> {
  const text = await readFile(TEMPLATE_FILE, 'utf8');
  return { master: valueOf(text, 'LITELLM_MASTER_KEY') ?? '', salt: valueOf(text, 'LITELLM_SALT_KEY') ?? '' };
}

const envText = (o: { master?: string; salt?: string; extra?: string } = {}) => `# LLM proxy settings
LITELLM_MASTER_KEY=${o.master ?? MASTER}
LITELLM_SALT_KEY=${o.salt ?? SALT}
LITELLM_DEFAULT_MODELS=openai/gpt-4o-mini
LITELLM_OPENAI_API_KEY=${UPSTREAM}
${o.extra ?? ''}
# The agent's key, written by the bootstrap
OPENAI_API_KEY=sk-proxy-default
`;

const lab = scenarioLab({ template: envText(), proxy: { masterKey: MASTER, models: ['openai/*'] }, secrets: secretsSeen });
const { proxy, dir, startProxy, run } = lab;
const exists = (p: string) => stat(p).then(() => true, () => false);

describe('published and empty secrets are refused before any request', () => {
  const cases = [
    { name: 'LITELLM_MASTER_KEY, the template placeholder', line: 2, setting: 'LITELLM_MASTER_KEY', text: async () => envText({ master: (await placeholders()).master }), says: 'placeholder published in .env.template' },
    { name: 'LITELLM_MASTER_KEY=sk-1234, the docs\' example', line: 2, setting: 'LITELLM_MASTER_KEY', text: async () => envText({ master: 'sk-1234' }), says: "example key of LiteLLM's docs" },
    { name: 'LITELLM_MASTER_KEY empty', line: 2, setting: 'LITELLM_MASTER_KEY', text: async () => envText({ master: '' }), says: 'is required (empty or not set)' },
    { name: 'LITELLM_SALT_KEY, the template placeholder', line: 3, setting: 'LITELLM_SALT_KEY', text: async () => envText({ salt: (await placeholders()).salt }), says: 'placeholder published in .env.template' },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2 naming the setting, the file and line, and the command that makes a good value; no request, .env byte for byte`, async () => {
      const text = await c.text();
      await dir.write(text);
      const r = await run();
      expect(r.code, r.stderr).toBe(2);
      expect(r.last).toContain(c.setting);
      expect(r.last).toContain(`${dir.env} line ${c.line}`);
      expect(r.last).toContain(c.says);
      expect(r.last).toContain('echo "sk-$(openssl rand -hex 24)"');
      expect(proxy.requests).toHaveLength(0);
      expect(await dir.read()).toBe(text);
      expect(await exists(dir.litellm)).toBe(false);
      const p = await placeholders();
      for (const value of [p.master, p.salt, 'sk-1234']) expect(r.stderr).not.toContain(value);
    });
  }

  it('--mirror-only refuses them too once the proxy has started from this directory (.env.litellm exists): exit 2, neither file touched, so compose never starts the proxy', async () => {
    const p = await placeholders();
    const text = envText({ salt: p.salt });
    await dir.write(text);
    await writeFile(dir.litellm, '# written by an earlier run\nLITELLM_SALT_KEY=whatever\n', { mode: 0o600 });
    const before = await dir.readLitellm();
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain(`LITELLM_SALT_KEY (${dir.env} line 3)`);
    expect(r.last).toContain('this is not a first start');
    expect(await dir.read()).toBe(text);
    expect(await dir.readLitellm()).toBe(before);
    expect(proxy.requests).toHaveLength(0);
  });

  it('--mirror-only with a ledger (keys were issued from here) refuses, and writes no .env.litellm', async () => {
    const text = envText({ master: (await placeholders()).master });
    await dir.write(text);
    await writeFile(path.join(dir.dir, '.llm-proxy-bootstrap.json'), '{"version":1,"tokens":[]}\n');
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain('.llm-proxy-bootstrap.json exists');
    expect(await dir.read()).toBe(text);
    expect(await exists(dir.litellm)).toBe(false);
  });

  it('--mirror-only on a provable first start replaces the placeholders with fresh random values, keeps every other byte, and names what it generated', async () => {
    const p = await placeholders();
    const text = envText({ master: p.master, salt: p.salt });
    await dir.write(text);
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(0);
    const after = await dir.read();
    const master = valueOf(after, 'LITELLM_MASTER_KEY') ?? '';
    const salt = valueOf(after, 'LITELLM_SALT_KEY') ?? '';
    secretsSeen.add(master);
    secretsSeen.add(salt);
    expect(master).toMatch(/^sk-[0-9a-f]{48}$/);
    expect(salt).toMatch(/^sk-[0-9a-f]{48}$/);
    expect(master).not.toBe(salt);
    expect(after).toBe(text.replace(p.master, master).replace(p.salt, salt));
    expect(valueOf(await dir.readLitellm(), 'LITELLM_MASTER_KEY')).toBe(master);
    expect(valueOf(await dir.readLitellm(), 'LITELLM_SALT_KEY')).toBe(salt);
    expect(r.last).toContain("first start: a fresh random LITELLM_MASTER_KEY and LITELLM_SALT_KEY replaced the template's published placeholder");
    expect(proxy.requests).toHaveLength(0);
    // Run again: nothing to fill, nothing refused.
    const again = await run(['--mirror-only']);
    expect(again.code, again.stderr).toBe(0);
    expect(await dir.read()).toBe(after);
  });

  describe("the compose stack's database password (llm-proxy-init runs with DB_PASSWORD_FILE_PATH)", () => {
    const dbFile = () => path.join(dir.dir, 'db', 'password');
    const init = () => run(['--mirror-only'], { DB_PASSWORD_FILE_PATH: dbFile() });

    it('first start, none in .env: a fresh random one is added to .env, written alone to db/password (0600 in 0700) and to .env.litellm as DATABASE_PASSWORD; never printed', async () => {
      const text = envText();
      await dir.write(text);
      const r = await init();
      expect(r.code, r.stderr).toBe(0);
      const after = await dir.read();
      const password = valueOf(after, 'LLM_PROXY_DB_PASSWORD') ?? '';
      secretsSeen.add(password);
      expect(password).toMatch(/^sk-[0-9a-f]{48}$/);
      expect(after).toBe(`${text}LLM_PROXY_DB_PASSWORD=${password}\n`);
      expect(await readFile(dbFile(), 'utf8')).toBe(password);
      expect((await stat(dbFile())).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(dbFile()))).mode & 0o777).toBe(0o700);
      expect(valueOf(await dir.readLitellm(), 'DATABASE_PASSWORD')).toBe(password);
      expect(r.last).toContain('first start: a fresh random LLM_PROXY_DB_PASSWORD replaced');
      expect(r.stdout + r.stderr).not.toContain(password);
      // The next start keeps it: postgres created its database with it.
      const again = await init();
      expect(again.code, again.stderr).toBe(0);
      expect(await dir.read()).toBe(after);
      expect(await readFile(dbFile(), 'utf8')).toBe(password);
    });

    it('a password file that went missing or was loosened is a step of the plan: --check exits 5 naming it (no value shown), the run writes it back from .env, then --check exits 0', async () => {
      const password = 'sk-9f8e7d6c5b4a39281706f5e4d3c2b1a0dbpass';
      secretsSeen.add(password);
      await dir.write(envText({ extra: `LLM_PROXY_DB_PASSWORD=${password}` }));
      expect((await init()).code).toBe(0);
      const check = () => run(['--mirror-only', '--check'], { DB_PASSWORD_FILE_PATH: dbFile() });
      expect((await check()).code).toBe(0);
      for (const damage of [() => rm(dbFile()), () => chmod(dbFile(), 0o644)]) {
        await damage();
        const drift = await check();
        expect(drift.code, drift.stderr).toBe(5);
        expect(drift.stdout).toContain(`write ${dbFile()} (the database password alone`);
        expect(drift.stdout + drift.stderr).not.toContain(password);
        const r = await init();
        expect(r.code, r.stderr).toBe(0);
        expect(r.last).toContain(`wrote the database password file ${dbFile()}`);
        expect(await readFile(dbFile(), 'utf8')).toBe(password);
        expect((await stat(dbFile())).mode & 0o777).toBe(0o600);
        expect((await check()).code).toBe(0);
      }
    });

    it("an existing stack still on compose's former default (`litellm`, or no value at all): exit 2 saying how to change it inside the database; nothing written, so the proxy never starts with it", async () => {
      for (const extra of ['LLM_PROXY_DB_PASSWORD=litellm', '']) {
        const text = envText({ extra });
        await dir.write(text);
        await writeFile(dir.litellm, '# written by an earlier run\n', { mode: 0o600 });
        const before = await dir.readLitellm();
        const r = await init();
        expect(r.code, r.stderr).toBe(2);
        expect(r.last).toContain(`LLM_PROXY_DB_PASSWORD (${dir.env}`);
        expect(r.last).toMatch(/docker compose exec llm-proxy-db psql .* "ALTER USER \S+ PASSWORD '<new>'"/);
        expect(await dir.read()).toBe(text);
        expect(await dir.readLitellm()).toBe(before);
        expect(await exists(dbFile())).toBe(false);
      }
    });
  });

  it('--mirror-only never replaces a value the user chose (sk-1234), even on a first start', async () => {
    const text = envText({ master: 'sk-1234' });
    await dir.write(text);
    const r = await run(['--mirror-only']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain("example key of LiteLLM's docs");
    expect(await dir.read()).toBe(text);
    expect(await exists(dir.litellm)).toBe(false);
  });

  it('a placeholder from the process environment (not .env) is refused as well, even by --mirror-only on a first start', async () => {
    const r = await run(['--mirror-only'], { LITELLM_MASTER_KEY: 'sk-1234' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain('LITELLM_MASTER_KEY (the process environment)');
    expect(await exists(dir.litellm)).toBe(false);
  });

  it('Secret mode (Kubernetes): a weak master key from the environment is exit 2 before the proxy or the Kubernetes API is asked', async () => {
    const r = await runCli([], { env: { PROXY_BASE_URL: proxy.url, LITELLM_KEY_SECRET: 'agent-key', LITELLM_MASTER_KEY: 'sk-1234', LITELLM_DEFAULT_MODELS: 'openai/gpt-4o-mini', KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain('LITELLM_MASTER_KEY (the process environment)');
    expect(proxy.requests).toHaveLength(0);
  });

  it('warns, and goes on, for what the proxy accepts: no salt key (LiteLLM then encrypts with the master key), a master key without sk-', async () => {
    await startProxy({ masterKey: 'master-without-prefix-0123456789' });
    secretsSeen.add('master-without-prefix-0123456789');
    const text = envText({ master: 'master-without-prefix-0123456789', salt: '' });
    await dir.write(text);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const w = warnings(r).join('\n');
    expect(w).toContain(`LITELLM_SALT_KEY (${dir.env} line 3) is not set: LiteLLM then encrypts the credentials it stores with LITELLM_MASTER_KEY`);
    expect(w).toContain(`LITELLM_MASTER_KEY (${dir.env} line 2) does not start with sk-`);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toMatch(/^sk-/);
  });
});

describe("aliases every current LiteLLM refuses: exit 2 before any request", () => {
  it('LITELLM_DEFAULT_KEY_ALIAS with ".." names the setting and its .env line', async () => {
    const text = envText({ extra: 'LITELLM_DEFAULT_KEY_ALIAS=team/../agent' });
    await dir.write(text);
    const r = await run();
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain(`LITELLM_DEFAULT_KEY_ALIAS (${dir.env} line 6) must not contain ".."`);
    expect(proxy.requests).toHaveLength(0);
    expect(await dir.read()).toBe(text);
  });

  it('LITELLM_DEFAULT_KEY_ALIAS "-" from the environment', async () => {
    const r = await run([], { LITELLM_DEFAULT_KEY_ALIAS: '-' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toContain('LITELLM_DEFAULT_KEY_ALIAS must not be "-"');
    expect(proxy.requests).toHaveLength(0);
  });

  it('a keys-file alias with a control character or "-" names its line', async () => {
    await writeFile(path.join(dir.dir, 'keys.yaml'), 'keys:\n  - alias: "tab\\there"\n    env: OPENAI_API_KEY\n  - alias: "-"\n    env: MEMORY_API_KEY\n');
    const r = await run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.last).toMatch(/line 2: keys\.0\.alias must not contain control characters/);
    expect(r.last).toMatch(/line 4: keys\.1\.alias must not be "-"/);
    expect(proxy.requests).toHaveLength(0);
  });

  it('the default alias "task-agent default" (a space) is fine on a current proxy', async () => {
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.keys()[0]!.key_alias).toBe('task-agent default');
  });
});

describe('split deployments: the bootstrap belongs at the backend', () => {
  const backendLine = (r: { last: string }) => {
    expect(r.last).toContain('PROXY_BASE_URL must point at the backend component');
    expect(r.last).toContain('port 4001');
  };

  it('pointed at the gateway on a first run: exit 4 at once naming the backend, no waiting, nothing written', async () => {
    await startProxy({ component: 'gateway' });
    const before = await dir.read();
    const r = await run([], { LITELLM_PROXY_WAIT_SECONDS: '60' });
    expect(r.code, r.stderr).toBe(4);
    backendLine(r);
    expect(r.last).toMatch(/FastAPI's 404 "Not Found"/);
    // One readiness answer, then the first management request: no retries.
    expect(proxy.requests.filter((q) => q.path.startsWith('/key/') || q.path.startsWith('/model/')).length).toBeLessThanOrEqual(2);
    expect(await dir.read()).toBe(before);
  });

  it('pointed at the gateway with a key already in .env (the warm path) or a keys file: exit 4 naming the backend too', async () => {
    await startProxy({ component: 'gateway' });
    await dir.write(envText().replace('OPENAI_API_KEY=sk-proxy-default', 'OPENAI_API_KEY=sk-some-key-issued-earlier-0123'));
    secretsSeen.add('sk-some-key-issued-earlier-0123');
    const warm = await run();
    expect(warm.code, warm.stderr).toBe(4);
    backendLine(warm);
    await writeFile(path.join(dir.dir, 'keys.yaml'), 'keys:\n  - alias: one\n    env: OPENAI_API_KEY\n  - alias: two\n    env: TWO_API_KEY\n');
    const many = await run([], { LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml' });
    expect(many.code, many.stderr).toBe(4);
    backendLine(many);
  });

  it('pointed at the backend: the key is issued as on the monolithic proxy', async () => {
    await startProxy({ component: 'backend' });
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.keys()).toHaveLength(1);
    expect(valueOf(await dir.read(), 'OPENAI_API_KEY')).toMatch(/^sk-/);
  });
});
