/**
 * The entry point (dist/cli.cjs): turns on Node's compile cache, then loads
 * the bundle (dist/bootstrap.cjs, built from src/main.ts). Only code loaded
 * after enableCompileCache() is cached, so this file stays a stub.
 *
 * The cache is Node's own: $NODE_COMPILE_CACHE when set (the image bakes one
 * in at /app/.compile-cache), else <tmpdir>/node-compile-cache;
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off. A cache that cannot be written
 * (read-only filesystem) is skipped silently. CommonJS, not ESM: no ES module
 * loader to start. Both save start-up time on every run (docs/performance.md).
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
require('./bootstrap.cjs');
