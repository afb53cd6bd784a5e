/**
 * Attacks through the env directory, as a neighbour who can write to it would make them
 * (docs/reliability.md, "Attacks"): links planted where the bootstrap writes its own files, a
 * `.env` that is no regular file, a killed run's temp file in a container (every run is PID 1),
 * another program's files beside `.env`, modes that expose the secrets. Real CLI runs, real files
 * in the test's own directory, a LiteLLM stand-in on loopback.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, watch } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.ts';
import { Lab, PLACEHOLDER, TEMPLATE } from './support.ts';


/** Whether this machine lets the suite start a process as PID 1 of its own PID namespace (root, unshare). */
function canUnshare(): boolean {
  try {
    return execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', 'echo $$'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === '1';
  } catch {
    return false;
  }
}
const unshareWorks = canUnshare();

let lab: Lab;
let outside: string;
beforeEach(async () => {
  lab = await Lab.open({ name: 'hostile-files' });
  // A file of someone else's, outside the env directory (in the test's own temp dir).
  outside = await mkdtemp(path.join(tmpdir(), 'llm-proxy-bootstrap-hostile-outside-'));
});
afterEach(async () => {
  await lab.close();
  await rm(outside, { recursive: true, force: true });
});

const agentFile = () => path.join(lab.dir, 'agent', '.env.agent');
const withAgent = () => ({ AGENT_ENV_FILE_PATH: agentFile() });

describe('a link planted where the bootstrap writes its own files', () => {
  const generated: [string, () => string][] = [
    ['.env.litellm', () => lab.litellmPath],
    ['the ledger', () => lab.ledgerPath],
    ['.env.bootstrap-backup', () => lab.backupPath],
    ['agent/.env.agent', agentFile],
  ];
  const targets: [string, () => Promise<string>][] = [
    ['.env', async () => lab.envPath],
    ['a file outside the env directory', async () => {
      const victim = path.join(outside, 'victim.conf');
      await writeFile(victim, 'root-owned-config=1\n', { mode: 0o644 });
      return victim;
    }],
    ['nothing (a dangling link)', async () => path.join(outside, 'created-by-the-bootstrap')],
  ];
  for (const [what, file] of generated) {
    for (const [toWhat, target] of targets) {
      it(`${what} → ${toWhat}: refused with exit 2 naming the link, .env and the link's target untouched`, async () => {
        const link = file();
        await mkdir(path.dirname(link), { recursive: true });
        const victim = await target();
        await symlink(victim, link);
        const envBefore = await lab.read();
        const victimBefore = await readFile(victim).catch(() => undefined);
        const victimMode = await stat(victim).then((s) => s.mode, () => undefined);

        const r = await lab.run('hostile-files', [], withAgent());

        expect(r.code, r.last).toBe(2);
        expect(r.last).toContain(link);
        expect(r.last).toMatch(/symbolic link/);
        expect(await lab.read()).toEqual(envBefore);
        expect(await readFile(victim).catch(() => undefined)).toEqual(victimBefore);
        expect(await stat(victim).then((s) => s.mode, () => undefined)).toBe(victimMode);
        expect((await lstat(link)).isSymbolicLink()).toBe(true);
        expect(await readlink(link)).toBe(victim);
        // Nothing issued: the refusal comes before the proxy is asked to change anything.
        expect(lab.proxy.requestCount({ path: '/key/generate' })).toBe(0);
      });
    }
  }

  it('after the link is removed, the next run writes every file as a regular 0600 file', async () => {
    await symlink(lab.envPath, lab.ledgerPath);
    expect((await lab.run('hostile-files', [], withAgent())).code).toBe(2);
    await rm(lab.ledgerPath);
    const r = await lab.run('hostile-files', [], withAgent());
    expect(r.code, r.last).toBe(0);
    for (const f of [lab.ledgerPath, lab.litellmPath, agentFile()]) {
      const st = await lstat(f);
      expect(st.isFile()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
    }
    expect(await lab.works(await lab.agentKey())).toBe(true);
  });
});

describe('a .env that is not a regular file', () => {
  it('a FIFO: refused at once with exit 2 naming it, never opened (no hang)', async () => {
    await rm(lab.envPath);
    execFileSync('mkfifo', [lab.envPath]);
    const r = await lab.run('hostile-files', [], {}, { timeoutMs: 20_000 });
    expect(r.signal, 'the run hung on the FIFO and was killed').toBeNull();
    expect(r.code, r.last).toBe(2);
    expect(r.last).toContain(lab.envPath);
    expect(r.last).toMatch(/FIFO/);
    expect((await lstat(lab.envPath)).isFIFO()).toBe(true);
  });

  it('a link to a character device (/dev/null): refused with exit 2, the device untouched', async () => {
    const before = await stat('/dev/null');
    await rm(lab.envPath);
    await symlink('/dev/null', lab.envPath); // a link in the test's directory; /dev/null itself is only looked at
    const r = await lab.run('hostile-files');
    expect(r.code, r.last).toBe(2);
    expect(r.last).toContain(lab.envPath);
    expect(r.last).toMatch(/character device/);
    const after = await stat('/dev/null');
    expect(after.isCharacterDevice()).toBe(true);
    expect([after.ino, after.rdev, after.mode]).toEqual([before.ino, before.rdev, before.mode]);
    expect(await readlink(lab.envPath)).toBe('/dev/null');
  });

  it('a socket: refused with exit 2 naming it', async () => {
    await rm(lab.envPath);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(lab.envPath, resolve));
    try {
      const r = await lab.run('hostile-files');
      expect(r.code, r.last).toBe(2);
      expect(r.last).toContain(lab.envPath);
      expect(r.last).toMatch(/socket/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await rm(lab.envPath, { force: true });
    }
  });
});

describe('temp files', () => {
  it.skipIf(!unshareWorks)('a run killed mid-write as PID 1 of its own PID namespace (a container): the next run, PID 1 too, removes its temp copy of .env', async () => {
    // A .env big enough that its write takes a moment, so the kill lands while the temp file exists.
    const filler = Array.from({ length: 40_000 }, (_, i) => `# filler line ${i} ${'x'.repeat(40)}`).join('\n');
    let left: string[] = [];
    for (let attempt = 1; attempt <= 10 && left.length === 0; attempt++) {
      await lab.reset(`${TEMPLATE}${filler}\n`);
      left = await killedMidWriteAsPid1();
    }
    expect(left.length, 'no kill landed mid-write in 10 attempts').toBeGreaterThan(0);
    // (The temp file is the first part of a copy of .env: the master key and the upstream keys come first.)

    const next = await asPid1(lab.env());
    expect(next.code, next.out).toBe(0);
    expect((await readdir(lab.dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it("another program's files beside .env and beside a symlinked .env's target are kept, whatever their names", async () => {
    const real = path.join(outside, 'real');
    await mkdir(real);
    await writeFile(path.join(real, '.env'), TEMPLATE, { mode: 0o600 });
    await rm(lab.envPath);
    await symlink(path.join(real, '.env'), lab.envPath);
    // Names the old cleanup pattern (`.<anything>.<digits>.<suffix>.tmp`) took for its own.
    const theirs = ['.env.4242.0123abcd.tmp', '..env.1.swapfile.tmp', '.editor.12345.backup.tmp', '.cache.7.ab.tmp'];
    for (const dir of [lab.dir, real]) for (const name of theirs) await writeFile(path.join(dir, name), 'not yours\n');
    const r = await lab.run('hostile-files');
    expect(r.code, r.last).toBe(0);
    for (const dir of [lab.dir, real]) {
      const names = await readdir(dir);
      for (const name of theirs) expect(names, `${dir}/${name}`).toContain(name);
    }
    expect(await readFile(path.join(real, '.env'), 'utf8')).not.toContain(`OPENAI_API_KEY=${PLACEHOLDER}`);
  });
});

describe('exposed modes', () => {
  it('a world-readable .env and a world-writable env or agent directory are warned about, naming each', async () => {
    await chmod(lab.envPath, 0o644);
    await chmod(lab.dir, 0o777);
    await mkdir(path.dirname(agentFile()), { mode: 0o777 });
    await chmod(path.dirname(agentFile()), 0o777);
    const r = await lab.run('hostile-files', [], withAgent());
    expect(r.code, r.last).toBe(0);
    const warnings = r.logs.filter((l) => l.level === 40 || l.level === 'warn').map((l) => String(l.msg));
    expect(warnings).toContainEqual(expect.stringContaining(`${lab.envPath} is readable by every user`));
    expect(warnings).toContainEqual(expect.stringContaining(`${lab.dir} is writable by every user`));
    expect(warnings).toContainEqual(expect.stringContaining(`${path.dirname(agentFile())} is writable by every user`));
  });

  it('a 0600 .env in a 0755 directory gets no such warning', async () => {
    await chmod(lab.envPath, 0o600);
    const r = await lab.run('hostile-files');
    expect(r.code, r.last).toBe(0);
    const warnings = r.logs.filter((l) => l.level === 40 || l.level === 'warn').map((l) => String(l.msg));
    expect(warnings.filter((w) => /readable by every user|writable by every user/.test(w))).toEqual([]);
  });
});

/** Runs the CLI as PID 1 of a new PID namespace (unshare), to its end. */
function asPid1(env: Record<string, string | undefined>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, CLI], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

const cleanEnv = (env: Record<string, string | undefined>) => {
  const e: Record<string, string> = { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json' };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) e[k] = v;
  return e;
};

/**
 * Starts a first run as PID 1 of its own PID namespace, SIGKILLs it the moment a temp file of .env
 * appears, and returns the temp files left (none when the kill came too late).
 */
async function killedMidWriteAsPid1(): Promise<string[]> {
  // A temp file of .env itself, as this code names it or as the code before issue 24 did (`..env.<pid>.<suffix>.tmp`).
  const isEnvTemp = (n: string) => /^\.\.env\.(\d+\.[0-9a-z]+|llm-proxy-bootstrap\.[0-9a-z]+)\.tmp$/.test(n);
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, CLI], { env: cleanEnv(lab.env()), stdio: 'ignore' });
  const closed = new Promise((r) => child.on('close', r));
  let fired = false;
  const watcher = watch(lab.dir, (_e, name) => {
    if (fired || !name || !isEnvTemp(String(name))) return;
    fired = true;
    // The namespace's PID 1 is unshare's child: SIGKILL it (its whole namespace dies with it).
    try {
      const pid1 = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
      process.kill(pid1, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  await closed;
  watcher.close();
  return (await readdir(lab.dir)).filter(isEnvTemp);
}
