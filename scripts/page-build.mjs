// Keeps the verifier page (verifier-web/dist, git-ignored) in step with its sources: `npm start`
// and `lianzheng serve` call this before the gateway starts. Without it a fresh clone served
// PAGE_NOT_BUILT at `/`, and a checkout updated after a build served the old page — whose copy of
// proof/ may refuse receipts the new gateway issues.
import fs from 'node:fs';
import path from 'node:path';

// What goes into the bundle: the page, its config, and proof/ (the checks it runs in the browser).
const SOURCES = [
  'verifier-web/src',
  'verifier-web/public',
  'verifier-web/index.html',
  'verifier-web/vite.config.ts',
  'proof/src',
  'proof/package.json',
];

function newestMtime(file) {
  let stat;
  try {
    stat = fs.statSync(file);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of fs.readdirSync(file)) newest = Math.max(newest, newestMtime(path.join(file, entry)));
  return newest;
}

/** True when dist/index.html is missing or older than any of its sources. */
export function pageIsStale(root) {
  const built = newestMtime(path.join(root, 'verifier-web/dist/index.html'));
  if (built === 0) return true;
  return SOURCES.some((s) => newestMtime(path.join(root, s)) > built);
}

/**
 * Builds the page with Vite if it is stale; returns what it did. Never throws: the API works
 * without the page, and `/` answers PAGE_NOT_BUILT until scripts/build.sh succeeds.
 */
export async function ensurePageBuilt(root, log = (m) => console.error(m)) {
  if (!pageIsStale(root)) return 'fresh';
  log('lianzheng: building the verifier page (verifier-web/dist)…');
  try {
    const { build } = await import('vite');
    await build({ configFile: path.join(root, 'verifier-web/vite.config.ts'), logLevel: 'warn' });
    return 'built';
  } catch (e) {
    log(`lianzheng: the verifier page could not be built: ${e.message}`);
    return 'failed';
  }
}
