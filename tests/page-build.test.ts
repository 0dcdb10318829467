// scripts/page-build.mjs: `npm start` and `lianzheng serve` rebuild the verifier page when it is
// missing or older than any of its sources (the page's own, and proof/'s, which it bundles).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without type declarations
import { ensurePageBuilt, pageIsStale } from '../scripts/page-build.mjs';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

// Writes a file dated `secondsAgo`, and dates the folders it made or changed the same (a folder's
// own mtime counts too: it is how a deleted source shows).
function touch(root: string, file: string, secondsAgo: number): void {
  const full = path.join(root, file);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, file);
  const t = Date.now() / 1000 - secondsAgo;
  for (let p = full; p.startsWith(root) && p !== root; p = path.dirname(p)) fs.utimesSync(p, t, t);
}

function tree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lz-page-'));
  roots.push(root);
  touch(root, 'verifier-web/src/main.ts', 300);
  touch(root, 'verifier-web/index.html', 300);
  touch(root, 'proof/src/lib/receipt.ts', 300);
  return root;
}

describe('pageIsStale', () => {
  it('is stale without a build (a fresh clone)', () => {
    expect(pageIsStale(tree())).toBe(true);
  });

  it('is fresh when the build is newer than every source', () => {
    const root = tree();
    touch(root, 'verifier-web/dist/index.html', 100);
    expect(pageIsStale(root)).toBe(false);
  });

  it("is stale when a page source or proof/'s source changed after the build", () => {
    const root = tree();
    touch(root, 'verifier-web/dist/index.html', 100);
    touch(root, 'proof/src/lib/receipt.ts', 10);
    expect(pageIsStale(root)).toBe(true);
    touch(root, 'verifier-web/dist/index.html', 5);
    expect(pageIsStale(root)).toBe(false);
    touch(root, 'verifier-web/src/views/new-view.ts', 1);
    expect(pageIsStale(root)).toBe(true);
  });
});

describe('ensurePageBuilt', () => {
  it('reports a failed build instead of throwing (the API runs without the page)', async () => {
    const lines: string[] = [];
    expect(await ensurePageBuilt(tree(), (m: string) => lines.push(m))).toBe('failed');
    expect(lines.at(-1)).toMatch(/^lianzheng: the verifier page could not be built: /);
  });
});
