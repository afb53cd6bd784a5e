/**
 * deploy/compose: scheduled runs of the compose stack's bootstrap, as a systemd service/timer pair
 * and a cron line. The unit files are checked by systemd's own parser (`systemd-analyze verify`,
 * `systemd-analyze calendar`); the command they run is the one docs/stack.md gives and names a
 * service of docker-compose.yml as compose itself reads it. test/container/compose-stack.test.ts
 * runs that command against a running stack.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
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

  it("docs/stack.md gives the same command, and it names a service of docker-compose.yml as compose reads it", async () => {
    expect(await readFile(path.join(REPO_ROOT, 'docs/stack.md'), 'utf8')).toContain(SCHEDULED_COMMAND);
    const r = await exec(dockerCliPath(), ['compose', '-f', 'docker-compose.yml', 'config', '--services'], { cwd: REPO_ROOT });
    if (r.code !== 0 && /is not a docker command|unknown command/.test(r.stderr)) return; // no Compose v2 here
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toContain(SCHEDULED_COMMAND.split(' ').at(-1));
  });
});
