/**
 * Hostile input: whatever bytes `.env` holds, a run either edits it correctly
 * (only the bytes of the key's value change, or one line is appended, and
 * dotenv reads every other variable exactly as before) or refuses with exit 2
 * leaving the file byte-identical. Also: a symlinked, directory, unreadable,
 * read-only or full-disk `.env`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readdir, readFile, readlink, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as dotenvParse } from 'dotenv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALIAS, changedLines, journal, Lab, MASTER, MODELS_A, PLACEHOLDER, recordFiles, TEMP_FILE, TEMPLATE } from './support.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
/**
 * Who the CLI runs as when file permissions must bite: root passes every permission check, so as root
 * the child is switched to uid/gid 65534 (nobody); any other user is subject to them already.
 */
const OUTSIDER = isRoot ? { uid: NOBODY, gid: NOBODY } : {};
const NEEDS_MOUNT = 'needs root: mount(8) a tmpfs or a read-only bind mount';

/** The text of the lab's `.env` even when its mode denies its owner reading (the mode is put back). */
async function textDespiteMode(lab: Lab): Promise<string> {
  if (isRoot) return lab.text();
  await chmod(lab.envPath, 0o600);
  try {
    return await lab.text();
  } finally {
    await chmod(lab.envPath, lab.envMode);
  }
}

export const hostileStats = {
  cases: 0,
  edited: 0,
  appended: 0,
  refused: 0,
  /** Refusals that came after a key was issued (the key stays on the proxy until the next run replaces it). */
  refusedAfterIssuing: 0,
  refusals: {} as Record<string, number>,
  examples: 0,
};

// Settings come from the environment, so the file under test may hold anything.
const SETTINGS = { LITELLM_MASTER_KEY: MASTER, LITELLM_DEFAULT_MODELS: MODELS_A };

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

const enc = (s: string) => Buffer.from(s, 'utf8');
const name = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,12}$/).filter((n) => !n.startsWith('LITELLM_') && !n.startsWith('OPENAI_') && !['PROXY_BASE_URL', 'ENV_FILE_PATH', 'LOG_LEVEL', 'LOG_FORMAT'].includes(n));
const text = fc.string({ unit: 'grapheme', maxLength: 30 });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
const invalidUtf8 = fc.constantFrom(
  [0xff],
  [0xfe, 0xfe],
  [0xc3],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0x80, 0x80, 0x80],
).map((b) => Buffer.from(b));

const value = fc.oneof(
  text,
  fc.string({ unit: 'binary', maxLength: 20 }),
  text.map((t) => `'${t}'`),
  text.map((t) => `"${t}"`),
  text.map((t) => `\`${t}\``),
  text.map((t) => `"${t}\\n${t}"`),
  fc.tuple(text, text).map(([a, b]) => `${a} # ${b}`),
  fc.constantFrom('"unterminated', "'", '`x', '"a\nb"', "'multi\nline'", '"\\"', '#', '  spaced  ', '$HOME', '${VAR}', 'a=b=c'),
);

const eol = fc.constantFrom('\n', '\n', '\n', '\r\n', '\r');

const line: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom('', 'export ', '  '), name, fc.constantFrom('=', ' = ', '= ', ': '), value).map(([e, n, s, v]) => enc(`${e}${n}${s}${v}`)) },
  { weight: 2, arbitrary: text.map((t) => enc(`# ${t}`)) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '\t') .map(enc) },
  { weight: 1, arbitrary: fc.constantFrom('=value', 'JUSTANAME', 'export', '   =', 'K="abc', "K='", 'K=`x', '==', 'export =x', '1BAD=x', 'sp ace=x').map(enc) },
  { weight: 2, arbitrary: bytes(40) },
  { weight: 2, arbitrary: fc.tuple(name, invalidUtf8, text).map(([n, bad, t]) => Buffer.concat([enc(`${n}=`), bad, enc(t)])) },
  { weight: 1, arbitrary: fc.tuple(name, text).map(([n, t]) => enc(`${n}=a\u0000b${t}`)) },
  { weight: 1, arbitrary: fc.tuple(name, fc.integer({ min: 20_000, max: 120_000 })).map(([n, len]) => enc(`${n}=${'x'.repeat(len)}`)) },
  { weight: 1, arbitrary: fc.constantFrom(`OPENAI_API_KEY=${PLACEHOLDER}`, 'OPENAI_API_KEY=', `export OPENAI_API_KEY='${PLACEHOLDER}'`).map(enc) },
);

/** The agent's line, in many styles; absent sometimes (then the run appends it). */
const keyLine = fc.constantFrom(
  `OPENAI_API_KEY=${PLACEHOLDER}`,
  'OPENAI_API_KEY=',
  `OPENAI_API_KEY="${PLACEHOLDER}"`,
  `OPENAI_API_KEY='${PLACEHOLDER}' # the agent key`,
  `export OPENAI_API_KEY=${PLACEHOLDER}`,
  `  OPENAI_API_KEY = ${PLACEHOLDER}   `,
  `OPENAI_API_KEY=\`${PLACEHOLDER}\``,
  'OPENAI_API_KEY= # filled in by the bootstrap',
  `OPENAI_API_KEY: ${PLACEHOLDER}`,
  `OPENAI_API_KEY=${PLACEHOLDER}#no space`,
  // dotenv takes the value from the next line: the run must refuse to edit it
  `OPENAI_API_KEY=\n'${PLACEHOLDER}'`,
  `OPENAI_API_KEY:\n${PLACEHOLDER}`,
  null,
);

const envFile = fc
  .tuple(fc.boolean(), fc.array(fc.tuple(line, eol), { maxLength: 12 }), keyLine, fc.nat(), fc.array(fc.tuple(line, eol), { maxLength: 6 }), fc.boolean())
  .map(([bom, head, key, at, tail, finalEol]) => {
    const lines = [...head];
    if (key !== null) lines.splice(at % (lines.length + 1), 0, [enc(key), '\n']);
    lines.push(...tail);
    const parts: Buffer[] = bom ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
    lines.forEach(([l, e], i) => parts.push(l, i < lines.length - 1 || finalEol ? enc(e) : Buffer.alloc(0)));
    return Buffer.concat(parts);
  });

// ---------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------

/**
 * `after` is `before` with only the key's value replaced (quotes may be added
 * or changed around it) or with one `OPENAI_API_KEY=<key>` line appended.
 * Returns what is wrong, or undefined.
 */
export function onlyTheKeyChanged(before: Buffer, after: Buffer, key: string): string | undefined {
  const k = enc(key);
  const at = after.indexOf(k);
  if (at === -1 || after.indexOf(k, at + 1) !== -1) return 'the new key does not appear exactly once';
  const a = after.subarray(0, at);
  const b = after.subarray(at + k.length);
  // Appended at the end?
  if (a.length >= before.length && a.subarray(0, before.length).equals(before)) {
    const added = a.subarray(before.length).toString('latin1');
    if (/^(\r\n|\n|\r)?(export )?OPENAI_API_KEY=(['"`]?)$/.test(added) && /^['"`]?(\r\n|\n)?$/.test(b.toString('latin1'))) return undefined;
  }
  // Replaced in place: before = a' + old + b', with a'/b' equal to a/b up to one quote each side.
  const quote = (c: number | undefined) => c === 0x27 || c === 0x22 || c === 0x60;
  for (const trimA of [0, 1]) {
    for (const trimB of [0, 1]) {
      if ((trimA && !quote(a[a.length - 1])) || (trimB && !quote(b[0]))) continue;
      const pa = a.subarray(0, a.length - trimA);
      const pb = b.subarray(trimB);
      if (pa.length + pb.length > before.length) continue;
      if (!before.subarray(0, pa.length).equals(pa) || !before.subarray(before.length - pb.length).equals(pb)) continue;
      const old = before.subarray(pa.length, before.length - pb.length).toString('utf8');
      if (/[\r\n]/.test(old)) continue;
      if (['', PLACEHOLDER].includes(old.replace(/^['"`]|['"`]$/g, '').trim())) return undefined;
    }
  }
  return 'bytes other than the key\'s value changed';
}

function dotenvValuesBesideKey(buf: Buffer): Record<string, string> {
  const v = { ...dotenvParse(buf) };
  delete v.OPENAI_API_KEY;
  return v;
}

/** Runs the CLI on `content` in `lab`; checks the outcome. Returns a problem or undefined. */
async function throughTheCli(lab: Lab, content: Buffer): Promise<string | undefined> {
  await lab.reset(content);
  hostileStats.cases++;
  const res = await lab.run('hostile', [], SETTINGS, { timeoutMs: 60_000 });
  const after = await lab.read();
  if (res.code === 2) {
    hostileStats.refused++;
    if (lab.proxy.keys().length > 0) hostileStats.refusedAfterIssuing++;
    const why = res.last.replace(/\/tmp\/\S+/g, '<path>').replace(/line \d+/g, 'line N').replace(/\(exit 2\): /, '').slice(0, 90);
    hostileStats.refusals[why] = (hostileStats.refusals[why] ?? 0) + 1;
    return after.equals(content) ? undefined : 'exit 2 but the file changed';
  }
  if (res.code !== 0) return `exit ${res.code ?? res.signal}: ${res.last}`;
  const key = dotenvParse(after).OPENAI_API_KEY;
  if (!key) return 'exit 0 but dotenv reads no OPENAI_API_KEY';
  journal.secrets.add(key);
  const wrong = onlyTheKeyChanged(content, after, key);
  if (wrong) return `exit 0 but ${wrong}`;
  if (JSON.stringify(dotenvValuesBesideKey(after)) !== JSON.stringify(dotenvValuesBesideKey(content))) return 'exit 0 but dotenv reads other variables differently';
  if (!(await lab.works(key))) return 'exit 0 but the key does not work';
  const holders = lab.keysWithAlias(ALIAS);
  if (holders.length !== 1 || holders[0]!.token !== sha256(key)) return `exit 0 but ${holders.length} keys carry the alias`;
  if (after.subarray(0, content.length).equals(content)) hostileStats.appended++;
  else hostileStats.edited++;
  return undefined;
}

/** Fills the filesystem at `dir` to the last byte, then frees `room` bytes. Returns the filler's path. */
export async function fillUp(dir: string, room: number): Promise<string> {
  const filler = path.join(dir, 'filler');
  await writeFile(filler, '');
  for (let chunk = 4096; chunk >= 1; ) {
    try {
      await writeFile(filler, Buffer.alloc(chunk, 1), { flag: 'a' });
    } catch {
      chunk = Math.floor(chunk / 2);
    }
  }
  if (room > 0) await truncate(filler, Math.max(0, (await stat(filler)).size - room));
  return filler;
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

export function hostileInput(): void {
  describe('hostile .env files', () => {
    it('arbitrary bytes, NUL, invalid UTF-8, long lines, duplicates, malformed lines: edited exactly or refused with exit 2, byte-identical', { timeout: 120_000 }, async () => {
      const lab = await Lab.open({ name: 'hostile-property' });
      try {
        await fc.assert(
          fc.asyncProperty(envFile, async (content) => {
            const problem = await throughTheCli(lab, content);
            if (problem) throw new Error(problem);
          }),
          { numRuns: 60, seed: 424242, endOnFailure: true },
        );
        console.log(JSON.stringify(hostileStats, null, 2));
      } finally {
        await lab.close();
      }
    });

    it('a 10 MB .env: only the key bytes change', { timeout: 60_000 }, async () => {
      const lab = await Lab.open({ name: 'hostile-10mb' });
      try {
        const filler = Array.from({ length: 90_000 }, (_, i) => (i % 3 ? `VAR_${i}=value-${i}-${'z'.repeat(100)}` : `# comment ${i} ${'é'.repeat(50)}`)).join('\n');
        const content = enc(`${filler.slice(0, 5_000_000)}\nOPENAI_API_KEY=${PLACEHOLDER}\n${filler.slice(5_000_000)}\n`);
        expect(content.length).toBeGreaterThan(10_000_000);
        expect(await throughTheCli(lab, content)).toBeUndefined();
        hostileStats.examples++;
      } finally {
        await lab.close();
      }
    });

    it('a symlinked .env: the target is edited, the link stays a link', async () => {
      const lab = await Lab.open({ name: 'hostile-symlink' });
      try {
        const real = path.join(lab.dir, 'real');
        await mkdir(real);
        await writeFile(path.join(real, '.env'), TEMPLATE, { mode: 0o640 });
        await rm(lab.envPath);
        await symlink('real/.env', lab.envPath);
        const res = await lab.run('hostile');
        expect(res.code, res.last).toBe(0);
        expect((await lstat(lab.envPath)).isSymbolicLink()).toBe(true);
        expect(await readlink(lab.envPath)).toBe('real/.env');
        const key = await lab.agentKey();
        expect(await readFile(path.join(real, '.env'), 'utf8')).toBe(TEMPLATE.replace(`OPENAI_API_KEY=${PLACEHOLDER}`, `OPENAI_API_KEY=${key}`));
        expect((await stat(path.join(real, '.env'))).mode & 0o777).toBe(0o640);
        expect(await lab.works(key)).toBe(true);
        hostileStats.examples++;
      } finally {
        await lab.close();
      }
    });

    it('.env is a directory: exit 2, nothing issued', async () => {
      const lab = await Lab.open({ name: 'hostile-directory' });
      try {
        await rm(lab.envPath);
        await mkdir(lab.envPath);
        await writeFile(path.join(lab.envPath, 'keep'), 'x');
        const res = await lab.run('hostile');
        expect(res.code, res.last).toBe(2);
        expect(res.last).toMatch(/is a directory/);
        expect(await readFile(path.join(lab.envPath, 'keep'), 'utf8')).toBe('x');
        expect(lab.proxy.keys()).toHaveLength(0);
        hostileStats.examples++;
      } finally {
        await lab.close();
      }
    });

    it(`an unreadable .env (${isRoot ? 'root\'s 0600 file, run as uid 65534' : 'mode 0000'}): exit 2, byte-identical, nothing issued`, async () => {
      const lab = await Lab.open({ name: 'hostile-unreadable', envMode: isRoot ? 0o600 : 0o000 });
      try {
        const res = await lab.run('hostile', [], {}, OUTSIDER);
        expect(res.code, res.last).toBe(2);
        expect(res.last).toMatch(/not readable/);
        expect(await textDespiteMode(lab)).toBe(TEMPLATE);
        expect(lab.proxy.keys()).toHaveLength(0);
        hostileStats.examples++;
      } finally {
        await lab.close();
      }
    });

    it(`a writable .env in a read-only directory${isRoot ? ' (run as uid 65534, who owns the .env)' : ''}: exit 2 before any key is issued`, async () => {
      const lab = await Lab.open({ name: 'hostile-rodir' });
      try {
        if (isRoot) await chown(lab.envPath, NOBODY, NOBODY);
        await chmod(lab.dir, 0o555);
        const res = await lab.run('hostile', [], {}, OUTSIDER);
        await chmod(lab.dir, 0o755);
        expect(res.code, res.last).toBe(2);
        expect(res.last).toMatch(/not writable/);
        expect(await lab.text()).toBe(TEMPLATE);
        expect(lab.proxy.keys()).toHaveLength(0);
        hostileStats.examples++;
      } finally {
        await chmod(lab.dir, 0o755);
        await lab.close();
      }
    });

    it('a read-only filesystem (ro bind mount): exit 2, byte-identical, nothing issued', async (ctx) => {
      ctx.skip(!isRoot, NEEDS_MOUNT);
      const lab = await Lab.open({ name: 'hostile-rofs' });
      let mounted = false;
      try {
        execFileSync('mount', ['--bind', lab.dir, lab.dir]);
        mounted = true;
        execFileSync('mount', ['-o', 'remount,ro,bind', lab.dir]);
        const res = await lab.run('hostile');
        expect(res.code, res.last).toBe(2);
        expect(await lab.text()).toBe(TEMPLATE);
        expect(lab.proxy.keys()).toHaveLength(0);
        hostileStats.examples++;
      } finally {
        if (mounted) execFileSync('umount', [lab.dir]);
        await lab.close();
      }
    });

    it.for([
      ['full to the last byte', 0],
      ['one page free: the lock fits, the key does not', 4096],
    ] as const)('a full filesystem (64 KiB tmpfs, %s): exit 2 and .env intact; with room again, the next run converges', { timeout: 60_000 }, async ([, room], ctx) => {
      ctx.skip(!isRoot, NEEDS_MOUNT);
      const lab = await Lab.open({ name: `hostile-full-${room}` });
      const mnt = path.join(lab.dir, 'tiny');
      await mkdir(mnt);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', mnt]);
      try {
        const envPath = path.join(mnt, '.env');
        await writeFile(envPath, TEMPLATE, { mode: 0o644 });
        const filler = await fillUp(mnt, room);
        const env = { ENV_FILE_PATH: envPath, LITELLM_ENV_FILE_PATH: path.join(mnt, '.env.litellm') };
        const res = await lab.run('hostile', [], env);
        expect(res.code, res.last).toBe(2);
        expect(res.last).toMatch(/ENOSPC|disk is full/);
        expect(await readFile(envPath, 'utf8')).toBe(TEMPLATE);
        expect((await readdir(mnt)).filter((n) => TEMP_FILE.test(n))).toEqual([]);
        // Room again: the next run converges (and removes any key the failed run issued).
        await rm(filler);
        const again = await lab.run('hostile', [], env);
        expect(again.code, again.last).toBe(0);
        const key = dotenvParse(await readFile(envPath)).OPENAI_API_KEY;
        journal.secrets.add(key!);
        expect(changedLines(TEMPLATE, await readFile(envPath, 'utf8'))).toEqual(['OPENAI_API_KEY']);
        expect(await lab.works(key)).toBe(true);
        expect(lab.keysWithAlias(ALIAS)).toHaveLength(1);
        hostileStats.examples++;
      } finally {
        await recordFiles(`hostile-full-${room}-tmpfs`, mnt, (n) => (n === '.env' ? 0o644 : ['.env.litellm', '.llm-proxy-bootstrap.json'].includes(n) ? 0o600 : undefined));
        execFileSync('umount', [mnt]);
        await lab.close();
      }
    });

    // Was a bug (fixed: the empty lock is removed): src/store/lock.ts acquireLock creates `.env.lock` (O_EXCL), then fails
    // to write the holder into it (ENOSPC) and throws without removing it; the message also says "its directory
    // is not writable (ENOSPC)". The empty lock outlives the run: the next run (with room again) logs "another
    // run holds the lock" and waits until it is 10 s old (see the 10 s of the full-disk test above).
    it('a run that fails on a full disk leaves no lock file behind (else the next run waits 10 s for it)', async (ctx) => {
      ctx.skip(!isRoot, NEEDS_MOUNT);
      const lab = await Lab.open({ name: 'hostile-full-lock' });
      const mnt = path.join(lab.dir, 'tiny');
      await mkdir(mnt);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', mnt]);
      try {
        const envPath = path.join(mnt, '.env');
        await writeFile(envPath, TEMPLATE, { mode: 0o644 });
        await fillUp(mnt, 0);
        const res = await lab.run('hostile', [], { ENV_FILE_PATH: envPath, LITELLM_ENV_FILE_PATH: path.join(mnt, '.env.litellm') });
        expect(res.code, res.last).toBe(2);
        expect(await readFile(envPath, 'utf8')).toBe(TEMPLATE);
        expect(await readdir(mnt)).not.toContain('.env.lock');
      } finally {
        execFileSync('umount', [mnt]);
        await lab.close();
      }
    });
  });
}
