/**
 * The entry point (dist/cli.cjs, the package's bin and the image's entrypoint):
 * turns on Node's own compile cache, then loads the bundle (dist/bootstrap.cjs,
 * built from src/cli/main.ts), so V8's compiled code of the bundle is reused
 * from the second start on.
 *
 * Where: `$NODE_COMPILE_CACHE` when set (the image bakes one), else Node's
 * default (`<tmpdir>/node-compile-cache`); NODE_DISABLE_COMPILE_CACHE=1 turns it
 * off. Node checks the cache against the file's content and its own version, and
 * runs without it on any problem. NODE_DEBUG_NATIVE=COMPILE_CACHE shows what it does.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache();
require('./bootstrap.cjs');
