/**
 * deploy/compose: scheduled runs of the compose stack's bootstrap, as a systemd service/timer pair
 * and a cron line. The unit files are checked by systemd's own parser (`systemd-analyze verify`,
 * `systemd-analyze calendar`); the command they run is the one docs/stack.md gives and names a
 * service of docker-compose.yml as compose itself reads it. test/container/compose-stack.test.ts
 * runs that command against a running stack.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dockerCliPath, exec, REPO_ROOT } from '../support/process.ts';

const DIR = path.join(REPO_ROOT, 'deploy/compose');
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
export const SCHEDULED_COMMAND = 'docker compose run --rm -T llm-proxy-bootstrap';

/** `key=value` settings of a unit file by section (systemd.syntax: `#`/`;` comments, no continuation lines here). */
async function unit(name: string): Promise<Record<string, Record<string, string[]>>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const line of (await readFile(path.join(DIR, name), 'utf8')).split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(t);
    if (s) {
      section = s[1]!;
      out[section] ??= {};
      continue;
    }
    const eq = t.indexOf('=');
    expect(eq, `${name}: ${t}`).toBeGreaterThan(0);
    (out[section]![t.slice(0, eq)] ??= []).push(t.slice(eq + 1));
  }
  return out;
}

describe('deploy/compose: the scheduled run', () => {
  it.skipIf(!SYSTEMD_ANALYZE)('systemd-analyze verify accepts the service and the timer without a single warning', async () => {
    // verify wants the unit files under their own names; copies keep the repo clean of its output
    const dir = await mkdtemp(path.join(tmpdir(), 'units-'));
    try {
      for (const f of ['llm-proxy-bootstrap.service', 'llm-proxy-bootstrap.timer']) await copyFile(path.join(DIR, f), path.join(dir, f));
      const r = await exec(SYSTEMD_ANALYZE!, ['verify', '--man=no', path.join(dir, 'llm-proxy-bootstrap.service'), path.join(dir, 'llm-proxy-bootstrap.timer')], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.trim()).toBe(''); // verify reports settings it ignores on stderr with exit 0
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the timer starts the service hourly (a calendar systemd parses), catches up after downtime, and is enabled by timers.target', async () => {
    const timer = await unit('llm-proxy-bootstrap.timer');
    expect(timer['Timer']).toMatchObject({ Unit: ['llm-proxy-bootstrap.service'], Persistent: ['true'] });
    expect(timer['Install']).toEqual({ WantedBy: ['timers.target'] });
    const [calendar] = timer['Timer']!['OnCalendar']!;
    if (SYSTEMD_ANALYZE) {
      const r = await exec(SYSTEMD_ANALYZE, ['calendar', '--iterations=2', calendar!]);
      expect(r.code, r.stderr).toBe(0);
      const elapses = [...r.stdout.matchAll(/(?:Next elapse|Iter\. #2): \w+ (\S+ \S+)/g)].map((m) => Date.parse(`${m[1]}Z`));
      expect(elapses).toHaveLength(2);
      expect(elapses[1]! - elapses[0]!).toBe(3600e3);
    } else {
      expect(calendar).toMatch(/^\*-\*-\* \*:\d{2}:00$/);
    }
  });

  it('the service is a oneshot that runs the documented command without a TTY, after Docker, with a bound', async () => {
    const service = await unit('llm-proxy-bootstrap.service');
    expect(service['Service']).toMatchObject({ Type: ['oneshot'], ExecStart: [`/usr/bin/env ${SCHEDULED_COMMAND}`] });
    expect(service['Service']!['WorkingDirectory']).toHaveLength(1);
    expect(service['Service']!['TimeoutStartSec']).toHaveLength(1);
    expect(service['Unit']).toMatchObject({ Requires: ['docker.service'], After: [expect.stringContaining('docker.service')] });
    expect(service['Install']).toBeUndefined(); // started by the timer, not at boot
  });

  it('the cron line runs the same command hourly, never twice at once, and is valid sh', async () => {
    const lines = (await readFile(path.join(DIR, 'crontab'), 'utf8')).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const jobs = lines.filter((l) => !/^[A-Z_]+=/.test(l));
    expect(jobs).toHaveLength(1);
    const m = /^(\S+) (\S+) (\S+) (\S+) (\S+) (.+)$/.exec(jobs[0]!);
    expect(m).not.toBeNull();
    expect(m!.slice(1, 6)).toEqual([expect.stringMatching(/^\d{1,2}$/), '*', '*', '*', '*']);
    const command = m![6]!;
    expect(command).toContain(`flock -n `);
    expect(command).toContain(SCHEDULED_COMMAND);
    const sh = await exec('/bin/sh', ['-n', '-c', command]);
    expect(sh.code, sh.stderr).toBe(0);
  });

  it.skipIf(!existsSync('/usr/bin/flock'))("the cron line keeps its lock and log in the checkout, private to its user, never in a shared /tmp where another user could hold the lock", async () => {
    const line = (await readFile(path.join(DIR, 'crontab'), 'utf8')).split('\n').find((l) => /^\d/.test(l))!;
    const command = line.split(' ').slice(5).join(' ');
    // The attack: another local user creates or flocks /tmp/<name>.lock first, and no scheduled run starts again.
    // Every path the line names, other than the checkout it cds into, is relative to that checkout.
    const [cd, ...rest] = command.split(' && ');
    expect(cd).toMatch(/^cd \/\S+$/);
    expect(rest.join(' && ')).not.toMatch(/(^|[\s>])\/(tmp|var\/tmp|dev\/shm|run\/lock)\b/);
    // Run it as cron would, in a checkout of our own, with a `docker` that records its arguments.
    const dir = await mkdtemp(path.join(tmpdir(), 'cron-'));
    try {
      const checkout = path.join(dir, 'checkout');
      const bin = path.join(dir, 'bin');
      await mkdir(checkout);
      await mkdir(bin);
      await writeFile(path.join(bin, 'docker'), `#!/bin/sh\necho "ran: docker $*" >>"${path.join(dir, 'calls')}"\necho "run output"\n`);
      await chmod(path.join(bin, 'docker'), 0o755);
      const ours = command.replace(/^cd \S+/, `cd '${checkout}'`);
      const env = { PATH: `${bin}:/usr/bin:/bin`, HOME: dir };
      const r = await exec('/bin/sh', ['-c', ours], { env, cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(await readFile(path.join(dir, 'calls'), 'utf8')).toBe(`ran: ${SCHEDULED_COMMAND}\n`);
      const state = path.join(checkout, 'deploy/compose/.cron');
      expect((await stat(state)).mode & 0o777).toBe(0o700);
      expect((await stat(path.join(state, 'run.lock'))).mode & 0o777).toBe(0o600);
      expect((await stat(path.join(state, 'run.log'))).mode & 0o777).toBe(0o600);
      expect(await readFile(path.join(state, 'run.log'), 'utf8')).toBe('run output\n');
      // While a run holds the lock, the next one skips (and runs nothing).
      const held = await exec('/usr/bin/flock', [path.join(state, 'run.lock'), '/bin/sh', '-c', ours], { env, cwd: dir });
      expect(held.code).toBe(1);
      expect(await readFile(path.join(dir, 'calls'), 'utf8')).toBe(`ran: ${SCHEDULED_COMMAND}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("docs/stack.md gives the same command, and it names a service of docker-compose.yml as compose reads it", async () => {
    expect(await readFile(path.join(REPO_ROOT, 'docs/stack.md'), 'utf8')).toContain(SCHEDULED_COMMAND);
    const r = await exec(dockerCliPath(), ['compose', '-f', 'docker-compose.yml', 'config', '--services'], { cwd: REPO_ROOT });
    if (r.code !== 0 && /is not a docker command|unknown command/.test(r.stderr)) return; // no Compose v2 here
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toContain(SCHEDULED_COMMAND.split(' ').at(-1));
  });
});
