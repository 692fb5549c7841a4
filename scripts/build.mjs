#!/usr/bin/env node
// `npm run build`: dist/cli/main.js as one file (esbuild bundle of src/ and
// of the dependencies), then the assets next to it (copy-assets.mjs).
// One file instead of tsc's hundreds of modules keeps a long-running
// pg_autoctl small (docs/timings.md, "Memory"). The type check is
// `npm run typecheck`; this script only transpiles.
//
// What the bundle changes, and how it is kept the same at run time:
// - `import.meta.url` of a source file is the URL its compiled module had in
//   dist/ (e.g. dist/monitor/schema.js), so the SQL files (dist/monitor/sql)
//   and the lease guard (dist/keeper/lease-guard.pl) are found where they
//   always were.
// - zod's `locales` namespace (every language's messages) is cut down to
//   English, the only one used (zod registers it itself).
// - pg's check for a Cloudflare Workers runtime constructs a `Response`,
//   which on Node.js 20 loads all of undici (~10 MB RSS): Node.js is known
//   here, so that test is skipped.
// - terminal-kit (loaded by `watch` only, with dynamic requires of its own)
//   and etcd3 (gRPC; loaded only by a monitor configured with etcd)
//   stays in node_modules, as do optional modules pg never needs.
// Names are kept (stack traces name the functions); dist/cli/main.js.map
// maps positions back to src/ (node --enable-source-maps).
import * as esbuild from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

const SRC = resolve('src');
const DIST = resolve('dist');
const OUT = resolve(DIST, 'cli', 'main.js');

/** `import.meta.url` of src/x/y.ts as it was for dist/x/y.js. */
const importMetaUrl = {
  name: 'import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      if (args.path.startsWith(`${SRC}/`) && text.includes('import.meta.url')) {
        const compiled = resolve(DIST, relative(SRC, args.path)).replace(/\.ts$/, '.js');
        const rel = relative(dirname(OUT), compiled);
        text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

/**
 * Rewrites the dependency file matching `filter` with `change(text)`; the
 * build fails when `mustContain` is not in the file (the dependency changed:
 * check the patch).
 */
function patch(name, filter, mustContain, change) {
  return {
    name,
    setup(build) {
      build.onLoad({ filter }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes(mustContain)) throw new Error(`${args.path}: "${mustContain}" not found (${name}): check the patch in scripts/build.mjs`);
        return { contents: change(text), loader: 'js' };
      });
    },
  };
}

const EN = 'export { default as en } from "./en.js";';
const RESPONSE_TEST = "if (typeof Response === 'function') {";

rmSync(DIST, { recursive: true, force: true });
await esbuild.build({
  entryPoints: [resolve(SRC, 'cli', 'main.ts')],
  outfile: OUT,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The bundled CommonJS modules (pg, pino, commander...) require Node.js's own modules.
  banner: { js: "import { createRequire as __pgafCreateRequire } from 'node:module'; const require = __pgafCreateRequire(import.meta.url);" },
  external: ['terminal-kit', 'etcd3', 'pg-native', 'cloudflare:sockets'],
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [
    importMetaUrl,
    patch('zod-locales', /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/, EN, () => EN),
    patch('pg-no-undici', /[\\/]pg[\\/]lib[\\/]stream\.js$/, RESPONSE_TEST, (text) => text.replace(RESPONSE_TEST, 'if (false) {')),
  ],
});
chmodSync(OUT, 0o755);
