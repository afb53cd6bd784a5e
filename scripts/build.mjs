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
// pino's transports run in worker threads; the bootstrap never uses them, and
// loading thread-stream/worker_threads costs start-up time on every run.
const noTransports = {
  name: 'no-pino-transports',
  setup(b) {
    b.onResolve({ filter: /^thread-stream$|^\.\/lib\/transport$/ }, (args) =>
      args.importer.includes('/pino/') ? { path: args.path, namespace: 'no-transports' } : undefined,
    );
    // pino asks worker_threads only whether it runs on the main thread: it always does here.
    b.onResolve({ filter: /^(node:)?worker_threads$/ }, (args) =>
      args.importer.includes('/pino/lib/') ? { path: 'worker_threads', namespace: 'main-thread' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'main-thread' }, () => ({ contents: 'module.exports = { isMainThread: true };', loader: 'js' }));
    b.onLoad({ filter: /.*/, namespace: 'no-transports' }, () => ({
      contents: "module.exports = function () { throw new Error('pino transports are not bundled in llm-proxy-bootstrap'); };",
      loader: 'js',
    }));
  },
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
  plugins: [noTransports],
  // Full minification: less source for V8 to parse on every start (~10 ms here).
  minify: true,
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
