#!/usr/bin/env node
// Runs the bundled CLI (dist/, made by `npm run build:dist`) when it is newer than every source file, else the
// TypeScript sources through tsx: a checkout needs no build step and never runs a stale bundle.
// SNEAKERNET_FROM_SOURCE=1 forces the sources.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const bundle = path.join(root, 'dist', 'cli', 'sneakernet.mjs');

function newestSourceMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const t = entry.isDirectory() ? newestSourceMtime(full) : fs.statSync(full).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

function bundleIsFresh() {
  if (process.env.SNEAKERNET_FROM_SOURCE === '1') return false;
  let built;
  try { built = fs.statSync(bundle).mtimeMs; } catch { return false; }
  const src = path.join(root, 'src');
  return !fs.existsSync(src) || newestSourceMtime(src) <= built;
}

let main;
if (bundleIsFresh()) {
  ({ main } = await import(bundle));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
await main(process.argv);
