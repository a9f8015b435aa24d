/**
 * The console's build: React + TypeScript, bundled into web/dist and served by the API process at `/`.
 * The domain module (src/domain) is imported directly: it is pure TypeScript, so the lifecycle diagram is drawn
 * from the very transition tables the server enforces.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: path.join(here, 'dist'),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
});
