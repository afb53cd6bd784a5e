// Bundles the CLI into dist/ (needs no node_modules at run time): the entry
// dist/cli.cjs (turns on Node's compile cache, see src/cli/entry.ts) and the
// bundle dist/bootstrap.cjs. CommonJS, because a CJS file starts faster than an
// ES module graph; what only some runs need (applying a plan, the lock, the YAML
// keys file, --help, pino-pretty) is imported dynamically, which esbuild turns
// into a lazy require, so it is evaluated only when used.
// Separately, never into dist/, the LiteLLM stand-in used by tests.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  legalComments: 'none',
  logLevel: 'warning',
};

rmSync('dist', { recursive: true, force: true });
await build({
  ...common,
  format: 'cjs',
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/bootstrap.cjs',
  // Less source for V8 to parse on a start without a compile cache.
  minify: true,
  define: {
    __BOOTSTRAP_VERSION__: JSON.stringify(pkg.version),
    // Zero-config start (src/store/env-init.ts): the template travels inside the bundle.
    __ENV_TEMPLATE__: JSON.stringify(readFileSync('volumes/env/.env.template', 'utf8')),
  },
});
await build({
  ...common,
  format: 'cjs',
  entryPoints: ['src/cli/entry.ts'],
  outfile: 'dist/cli.cjs',
  banner: { js: '#!/usr/bin/env node' },
  external: ['./bootstrap.cjs'],
});
chmodSync('dist/cli.cjs', 0o755);

if (!process.argv.includes('--cli-only')) {
  await build({
    ...common,
    format: 'esm',
    // The stand-in is an ES module that may load CommonJS packages.
    banner: {
      js: ["import { createRequire as __bootstrapCreateRequire } from 'node:module';", 'const require = __bootstrapCreateRequire(import.meta.url);'].join('\n'),
    },
    entryPoints: ['test/support/stand-in-main.ts'],
    outfile: 'build/test/stand-in.mjs',
  });
}
