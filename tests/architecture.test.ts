import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The arrows go one way: proof ← chaincode ← gateway; proof ← verifier-web. Nothing imports the
// gateway. This test reads every source file's imports so a wrong arrow fails the build.
const root = join(import.meta.dirname, '..');
const allowed: Record<string, string[]> = {
  proof: [],
  chaincode: ['proof'],
  gateway: ['proof', 'chaincode'],
  'verifier-web': ['proof'],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

function importedPackages(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
    const spec = m[1] ?? '';
    const pkg = spec.match(/^@lianzheng\/([a-z-]+)/)?.[1];
    if (pkg) found.add(pkg);
    // A relative import that climbs out of its package into another one.
    if (spec.startsWith('.')) {
      const target = relative(root, join(file, '..', spec)).split(/[\\/]/)[0];
      if (target && target in allowed) found.add(target);
    }
  }
  return [...found];
}

describe('package arrows', () => {
  for (const [pkg, deps] of Object.entries(allowed)) {
    it(`${pkg} imports only ${deps.join(', ') || 'no other package'}`, () => {
      const wrong: string[] = [];
      for (const file of sourceFiles(join(root, pkg))) {
        for (const dep of importedPackages(file)) {
          if (dep !== pkg && !deps.includes(dep)) wrong.push(`${relative(root, file)} → ${dep}`);
        }
      }
      expect(wrong).toEqual([]);
    });
  }

  it('finds the imports it checks (the scan is not empty)', () => {
    const gatewayImports = sourceFiles(join(root, 'gateway')).flatMap(importedPackages);
    expect(gatewayImports).toContain('proof');
    expect(gatewayImports).toContain('chaincode');
  });
});
