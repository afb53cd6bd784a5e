// Bundles the CLI into one ESM file that needs no node_modules at run time,
// and (separately, never into dist/) the LiteLLM stand-in used by tests.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

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

await build({
  ...common,
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/cli.mjs',
  minifySyntax: true,
  minifyWhitespace: true,
  define: { __BOOTSTRAP_VERSION__: JSON.stringify(pkg.version) },
  banner: { js: `#!/usr/bin/env node\n${banner.js}` },
});

if (!process.argv.includes('--cli-only')) {
  await build({
    ...common,
    entryPoints: ['test/support/stand-in-main.ts'],
    outfile: 'build/test/stand-in.mjs',
  });
}
