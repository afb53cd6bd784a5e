// Bundles the CLI into dist/ (needs no node_modules at run time): the entry
// dist/cli.cjs (turns on Node's compile cache, see src/cli/entry.ts) and the
// bundle dist/bootstrap.cjs. CommonJS, because a CJS file starts faster than an
// ES module graph; what only some runs need (applying a plan, the lock, the YAML
// keys file, --help, pino-pretty) is imported dynamically, which esbuild turns
// into a lazy require, so it is evaluated only when used.
// Separately, never into dist/, the LiteLLM stand-in used by tests.
//
// Licences: the bundle keeps the legal comments of what it bundles (`legalComments: 'eof'`: a
// `/*! ... */`, `@license` or `@preserve` comment moves to the end of the file, minified or not),
// and dist/THIRD_PARTY_NOTICES holds the licence of every package the bundle contains (found from
// esbuild's metafile, read from node_modules), which the Dockerfile copies into the image.
import { build } from 'esbuild';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  legalComments: 'eof',
  logLevel: 'warning',
};

rmSync('dist', { recursive: true, force: true });
const bundle = await build({
  ...common,
  metafile: true,
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
const entry = await build({
  ...common,
  metafile: true,
  format: 'cjs',
  entryPoints: ['src/cli/entry.ts'],
  outfile: 'dist/cli.cjs',
  banner: { js: '#!/usr/bin/env node' },
  external: ['./bootstrap.cjs'],
});
chmodSync('dist/cli.cjs', 0o755);
writeFileSync('dist/THIRD_PARTY_NOTICES', thirdPartyNotices([bundle.metafile, entry.metafile]));

/** The packages whose code is in the bundle: `node_modules/<name>` (or `@scope/name`) of every input, nested ones included. */
function bundledPackages(metafiles) {
  const dirs = new Set();
  for (const meta of metafiles) {
    for (const input of Object.keys(meta.inputs)) {
      const parts = input.split(/[\\/]/);
      const at = parts.lastIndexOf('node_modules');
      if (at < 0) continue;
      const name = parts[at + 1].startsWith('@') ? parts.slice(at + 1, at + 3) : [parts[at + 1]];
      dirs.add(parts.slice(0, at + 1).concat(name).join(sep));
    }
  }
  return [...dirs].sort();
}

/** The notices file: each bundled package's name, version, licence and the text of its licence file. */
function thirdPartyNotices(metafiles) {
  const sections = bundledPackages(metafiles).map((dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|-|$)/i.test(f));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : undefined;
    if (!text) throw new Error(`${pkg.name}@${pkg.version} is bundled but ships no licence file (${dir}): add its licence text to scripts/build.mjs before shipping it`);
    return `${pkg.name}@${pkg.version} (${pkg.license ?? 'see below'})\n${pkg.homepage ?? (typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url) ?? ''}\n\n${text}\n`;
  });
  return [
    'llm-proxy-bootstrap bundles the following third-party packages into dist/bootstrap.cjs and dist/cli.cjs.',
    'Their licences and notices follow, as each package ships them.',
    '',
    ...sections.map((s) => `${'='.repeat(78)}\n${s}`),
  ].join('\n');
}

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
