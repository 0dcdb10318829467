import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

// The page is served by the gateway under a strict Content-Security-Policy (script-src 'self',
// style-src 'self', no data: images), so the build must not inline anything: no modulepreload
// polyfill script, no assets turned into data: URLs. `@lianzheng/proof` picks its SHA-256 and its
// UTF-8/base64url codec through the `#sha256-impl` and `#codec-impl` import maps; the `browser`
// condition selects @noble/hashes and jose instead of node:crypto and Buffer, and is listed
// explicitly so a change of Vite's defaults cannot drop it.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  resolve: {
    conditions: ['browser', ...defaultClientConditions.filter((c) => c !== 'browser')],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Villagers open the page in WeChat's and phone makers' built-in browsers, often a few years
    // old: lower the syntax to what Chromium 87 / Safari 14 understand.
    target: ['es2020', 'chrome87', 'safari14', 'firefox78'],
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '/v1': 'http://localhost:8080',
      '/.well-known': 'http://localhost:8080',
      // The development issuer's sign-in (DEV_SIGN_IN=true), for the workspace at /inspect.
      '/dev/': 'http://localhost:8080',
    },
  },
});
