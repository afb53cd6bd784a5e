// Bundles the CLI into dist/ (needs no node_modules at run time): the entry
// stub dist/cli.cjs (loads the bundle with a code cache made after a run, see
// src/cli/entry.ts) and the bundle
// dist/bootstrap.cjs. CommonJS, because a CJS file starts faster than an ES
// module graph; what only some runs need (writing, locking, the YAML keys file,
// --help, retries) is imported dynamically, so it is evaluated only when used.
// Separately, never into dist/, the LiteLLM stand-in used by tests.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const banner = {
  js: [
    "import { createRequire as __bootstrapCreateRequire } from 'node:module';",
    'const require = __bootstrapCreateRequire(import.meta.url);',
  ].join('\n'),
};
const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  banner,
  legalComments: 'none',
  logLevel: 'warning',
};

rmSync('dist', { recursive: true, force: true });
const cjs = { ...common, format: 'cjs', banner: { js: '#!/usr/bin/env node' } };
await build({
  ...cjs,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/bootstrap.cjs',
  // Full minification: less source for V8 to parse on every start (~10 ms here).
  minify: true,
  define: {
    __BOOTSTRAP_VERSION__: JSON.stringify(pkg.version),
    // Zero-config start (src/store/env-init.ts): the template travels inside the bundle.
    __ENV_TEMPLATE__: JSON.stringify(readFileSync('volumes/env/.env.template', 'utf8')),
  },
});
// The bundle runs inside a vm.Script (see src/cli/entry.ts), where import() has no loader.
const bundle = readFileSync('dist/bootstrap.cjs', 'utf8');
if (/\bimport\(/.test(bundle)) throw new Error('dist/bootstrap.cjs contains a dynamic import(); the entry stub cannot run it');
await build({
  ...cjs,
  entryPoints: ['src/cli/entry.ts'],
  outfile: 'dist/cli.cjs',
  // The stub names its code cache after the bundle it loads.
  define: { __BUNDLE_SHA256__: JSON.stringify(createHash('sha256').update(bundle).digest('hex')) },
});

if (!process.argv.includes('--cli-only')) {
  await build({
    ...common,
    entryPoints: ['test/support/stand-in-main.ts'],
    outfile: 'build/test/stand-in.mjs',
  });
}
