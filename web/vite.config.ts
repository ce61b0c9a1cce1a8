/** Builds the web app (web/) into dist/web, which the server serves at / (src/web). */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [preact()],
  // No favicon or other public files; the server's CSP allows only 'self' anyway.
  publicDir: false,
  build: {
    outDir,
    emptyOutDir: true,
    // CSP: no inline script or style, so every asset is a file (no data: URLs for scripts or fonts).
    assetsInlineLimit: 0,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
});
