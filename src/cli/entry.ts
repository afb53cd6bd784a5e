/**
 * The entry point (dist/cli.cjs): loads the bundle (dist/bootstrap.cjs, built
 * from src/main.ts) with a V8 code cache made AFTER a run.
 *
 * Why not only Node's compile cache: Node saves a script's code cache right
 * after compiling it, when V8 has compiled little more than the top level;
 * every function a run calls is compiled again on every start. A cache made at
 * the end of a run holds them all, which saves ~8 ms per warm run, a sixth of
 * `node -e 0` (docs/performance.md).
 *
 * Where: `$NODE_COMPILE_CACHE/llm-proxy-bootstrap/` when set (the image bakes one
 * in), else `<tmpdir>/llm-proxy-bootstrap-cache-<uid>/` (created 0700).
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off. The file name carries the bundle's
 * sha256 (fixed at build time), Node's version and the CPU architecture, and a
 * cache is used only from a directory and file that only their owner (this
 * user, or root) can write: code from a cache is code that runs. Any problem
 * with the cache means running without it, silently.
 *
 * Written once per bundle, at the exit of a run that got as far as the proxy:
 * exit 0 (`.bin`), or exit 3, proxy not ready (`.partial.bin`, replaced by the
 * next exit 0); caches of other builds in the directory are removed then. The
 * bytecode holds no runtime values, so no secrets.
 * NODE_DEBUG=llm-proxy-bootstrap says on stderr what happened to the cache.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Script } from 'node:vm';

declare const __BUNDLE_SHA256__: string;

const debug = /\bllm-proxy-bootstrap\b/.test(process.env['NODE_DEBUG'] ?? '');
const say = (what: string) => debug && writeSync(2, `llm-proxy-bootstrap: code cache ${what}\n`);

const bundlePath = join(__dirname, 'bootstrap.cjs');
const source = readFileSync(bundlePath, 'utf8');

/** A directory or file that nobody but its owner (us, or root) can have written. */
function trusted(path: string, kind: 'dir' | 'file'): boolean {
  try {
    const st = lstatSync(path);
    const ownerOk = st.uid === process.getuid?.() || st.uid === 0;
    return ownerOk && (kind === 'dir' ? st.isDirectory() : st.isFile()) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function cacheDir(): string | undefined {
  if (process.env['NODE_DISABLE_COMPILE_CACHE'] || typeof __BUNDLE_SHA256__ !== 'string') return undefined;
  const nodeCache = process.env['NODE_COMPILE_CACHE'];
  return nodeCache ? join(nodeCache, 'llm-proxy-bootstrap') : join(tmpdir(), `llm-proxy-bootstrap-cache-${process.getuid?.() ?? 'user'}`);
}

const dir = cacheDir();
const base = dir && join(dir, `${__BUNDLE_SHA256__.slice(0, 16)}-${process.version}-${process.arch}`);
const full = base && `${base}.bin`;
const partial = base && `${base}.partial.bin`;

let loaded: 'full' | 'partial' | undefined;
let cachedData: Buffer | undefined;
if (!dir) say('off');
else if (!trusted(dir, 'dir')) say(`not used: ${dir} is missing, or others could write it`);
else {
  for (const [file, kind] of [[full, 'full'], [partial, 'partial']] as const) {
    if (file && trusted(file, 'file')) {
      try {
        cachedData = readFileSync(file);
        loaded = kind;
        break;
      } catch {
        /* unreadable: try the next, or run without */
      }
    }
  }
  if (!loaded) say(`none usable in ${dir}`);
}

// The bundle as CommonJS would wrap it, on its first line so line numbers stay right (the shebang becomes a blank).
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source.replace(/^#!.*/, '')}\n})`, {
  filename: bundlePath,
  ...(cachedData ? { cachedData } : {}),
});
if (script.cachedDataRejected) {
  say('rejected by V8 (another Node or bundle)');
  loaded = undefined;
} else if (loaded) say(`accepted (${loaded})`);

if (dir && loaded !== 'full') {
  process.once('exit', (code) => {
    const target = code === 0 ? full : code === 3 && loaded === undefined ? partial : undefined;
    if (!target) return;
    const temp = `${target}.${process.pid}.tmp`;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!trusted(dir, 'dir')) return;
      const data = script.createCachedData();
      const fd = openSync(temp, 'wx', 0o644);
      try {
        writeSync(fd, data);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, target);
      // One cache is kept: this one (earlier builds' caches, or the partial one it replaces, would pile up).
      for (const name of readdirSync(dir)) if (name.endsWith('.bin') && name !== basename(target)) rmSync(join(dir, name), { force: true });
      say(`written: ${target}`);
    } catch {
      try {
        rmSync(temp, { force: true });
      } catch {
        /* nothing to clean */
      }
    }
  });
}

script.runInThisContext()(module.exports, require, module, bundlePath, __dirname);
