/** Files are replaced whole or not at all, keeping mode, owner and links. Real files in a temp dir. */
import { execFileSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanupStaleTemps, interruptedWrite, recoverInterruptedWrite, staleTemps, writeFileAtomic } from '../../src/store/fs-atomic.ts';
import { EnvFileError } from '../../src/errors.ts';

const isRoot = process.getuid?.() === 0;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fs-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function mountTmpfs(target: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', target], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('writeFileAtomic', () => {
  it('replaces the content, keeps the mode and owner, and leaves no temp file', async () => {
    const file = path.join(dir, '.env');
    await writeFile(file, 'OLD=1\n');
    await chmod(file, 0o640);
    const before = await stat(file);
    await writeFileAtomic(file, 'NEW=2\n');
    expect(await readFile(file, 'utf8')).toBe('NEW=2\n');
    const after = await stat(file);
    expect(after.mode & 0o777).toBe(0o640);
    expect([after.uid, after.gid]).toEqual([before.uid, before.gid]);
    expect(await readdir(dir)).toEqual(['.env']);
  });

  it('creates a new file 0600 unless told otherwise', async () => {
    await writeFileAtomic(path.join(dir, 'secret'), 'x');
    expect((await stat(path.join(dir, 'secret'))).mode & 0o777).toBe(0o600);
    await writeFileAtomic(path.join(dir, 'shared'), 'y', { mode: 0o644 });
    expect((await stat(path.join(dir, 'shared'))).mode & 0o777).toBe(0o644);
  });

  it('follows a symlink: the target is replaced, the link stays a link', async () => {
    await mkdir(path.join(dir, 'real'));
    const target = path.join(dir, 'real', '.env');
    await writeFile(target, 'A=1\n');
    const link = path.join(dir, '.env');
    await symlink('real/.env', link);
    await writeFileAtomic(link, 'A=2\n');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe('real/.env');
    expect(await readFile(target, 'utf8')).toBe('A=2\n');
  });

  it('a file that cannot be renamed over (a single bind-mounted file: EBUSY) is written in place, without a leftover backup', async (ctx) => {
    ctx.skip(!isRoot, 'needs root: mount --bind of a single file, as compose mounts .env into a container');
    // The host's file, bind-mounted over a file in the directory the bootstrap writes in.
    const host = path.join(dir, 'host.env');
    await writeFile(host, 'OLD=1\nLONGER=line that is longer than the new content\n');
    const work = path.join(dir, 'work');
    await mkdir(work);
    const file = path.join(work, '.env');
    await writeFile(file, '');
    execFileSync('mount', ['--bind', host, file]);
    try {
      const inode = (await stat(file)).ino;
      await writeFileAtomic(file, 'NEW=2\n');
      expect(await readFile(file, 'utf8')).toBe('NEW=2\n');
      expect((await stat(file)).ino).toBe(inode);
      expect(await readdir(work)).toEqual(['.env']);
    } finally {
      execFileSync('umount', [file]);
    }
    // The host's file itself holds the new content: it was written through the mount, not replaced.
    expect(await readFile(host, 'utf8')).toBe('NEW=2\n');
  });

  it.runIf(isRoot)('a read-only filesystem: a clear error, the file untouched', async (ctx) => {
    const mnt = path.join(dir, 'ro');
    await mkdir(mnt);
    if (!mountTmpfs(mnt, '1m')) ctx.skip('cannot mount a tmpfs here');
    try {
      await writeFile(path.join(mnt, '.env'), 'KEEP=1\n');
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      const err = await writeFileAtomic(path.join(mnt, '.env'), 'NEW=1\n').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(EnvFileError);
      expect((err as Error).message).toMatch(/EROFS/);
      expect(await readFile(path.join(mnt, '.env'), 'utf8')).toBe('KEEP=1\n');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it.runIf(isRoot)('a full filesystem: a clear error, the old content intact, no temp left', async (ctx) => {
    const mnt = path.join(dir, 'full');
    await mkdir(mnt);
    if (!mountTmpfs(mnt, '64k')) ctx.skip('cannot mount a tmpfs here');
    try {
      await writeFile(path.join(mnt, '.env'), 'KEEP=1\n');
      const err = await writeFileAtomic(path.join(mnt, '.env'), Buffer.alloc(256 * 1024, 65)).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(EnvFileError);
      expect((err as Error).message).toMatch(/ENOSPC/);
      expect(await readFile(path.join(mnt, '.env'), 'utf8')).toBe('KEEP=1\n');
      expect(await readdir(mnt)).toEqual(['.env']);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('an in-place write killed in the middle', () => {
  async function tornState(file: string, original: string, torn: string) {
    // What a SIGKILL inside writeInPlace leaves: the journal written, the file half overwritten.
    await writeFile(file, original);
    await writeFile(path.join(dir, '..env.bootstrap-inplace-backup'), original, { mode: 0o600 });
    await writeFile(path.join(dir, '..env.bootstrap-inplace-sha256'), 'f'.repeat(64), { mode: 0o600 });
    await writeFile(file, torn);
  }

  it('is undone: the old content comes back, no journal file is left', async () => {
    const file = path.join(dir, '.env');
    await tornState(file, 'A=1\nB=2\nOPENAI_API_KEY=old\n', 'A=1\nB=OPENAI_API_KEY=new\n');
    expect(await interruptedWrite(file)).toBe(true);
    expect(await recoverInterruptedWrite(file)).toBe('restored');
    expect(await readFile(file, 'utf8')).toBe('A=1\nB=2\nOPENAI_API_KEY=old\n');
    expect(await readdir(dir)).toEqual(['.env']);
    expect(await interruptedWrite(file)).toBe(false);
  });

  it('that had in fact completed is left as it is', async () => {
    const file = path.join(dir, '.env');
    // What a SIGKILL after the in-place write of A=2 but before its journal was removed leaves.
    await writeFile(file, 'A=2\n');
    await writeFile(path.join(dir, '..env.bootstrap-inplace-backup'), 'A=1\n');
    const { createHash } = await import('node:crypto');
    await writeFile(path.join(dir, '..env.bootstrap-inplace-sha256'), createHash('sha256').update('A=2\n').digest('hex'));
    expect(await recoverInterruptedWrite(file)).toBe('completed');
    expect(await readFile(file, 'utf8')).toBe('A=2\n');
    expect(await readdir(dir)).toEqual(['.env']);
  });
});

describe('temp files of killed runs', () => {
  it('are found and removed; other files are not', async () => {
    const file = path.join(dir, '.env');
    await writeFile(file, 'A=1\n');
    await writeFile(path.join(dir, '.env.4242.0123abcd.tmp'), 'A=secret\n');
    await writeFile(path.join(dir, '.env.litellm.4243.89abcdef.tmp'), 'B=secret\n');
    await writeFile(path.join(dir, 'notes.tmp'), 'mine');
    expect((await staleTemps(file)).sort()).toEqual(['.env.4242.0123abcd.tmp', '.env.litellm.4243.89abcdef.tmp']);
    await cleanupStaleTemps(file);
    expect((await readdir(dir)).sort()).toEqual(['.env', 'notes.tmp']);
  });
});
