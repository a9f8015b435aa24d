// Bundles the CLI (all of src/) into one plain-JS file, dist/cli/sneakernet.mjs, that bin/sneakernet.js runs
// instead of the TypeScript sources. A process then needs no TypeScript loader: tsx's loader thread alone holds
// about 120 MiB and adds start-up time to every `api`/`worker` process. npm packages stay external (PGlite and
// pg-boss load their own files). The bundle sits two folders below the root, as src/api/console.ts does, so the
// paths it resolves from its own location (web/dist) are the same.
import { build } from 'esbuild';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
await build({
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outfile: path.join(root, 'dist/cli/sneakernet.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
