import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
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

// No import circles inside a package either (type-only imports count: a circle of types is the
// same tangle to a reader). Each circle found is named by its files.
function localImports(file: string, known: Set<string>): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)) {
    const target = normalize(join(dirname(file), m[1] ?? ''));
    if (known.has(target)) out.push(target);
  }
  return out;
}

/** The strongly connected components with more than one file (Tarjan's algorithm). */
function importCircles(files: string[]): string[][] {
  const known = new Set(files);
  const edges = new Map(files.map((f) => [f, localImports(f, known)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(relative(root, w));
      } while (w !== v);
      if (component.length > 1) circles.push(component.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return circles;
}

describe('no import circles', () => {
  for (const pkg of Object.keys(allowed)) {
    it(`${pkg}: no file imports itself through others`, () => {
      const files = sourceFiles(join(root, pkg)).filter((f) => !/\.test\.ts$/.test(f));
      expect(importCircles(files)).toEqual([]);
    });
  }

  it('finds a circle when there is one (the check can fail)', () => {
    const fixture = join(root, 'tests', 'fixtures', 'import-circle');
    const circles = importCircles(sourceFiles(fixture));
    expect(circles).toEqual([
      [
        'tests/fixtures/import-circle/a.ts',
        'tests/fixtures/import-circle/b.ts',
        'tests/fixtures/import-circle/c.ts',
      ],
    ]);
  });
});

// The time-stamp authority has one door (gateway/src/tsa/index.ts): the rest of the gateway
// imports from it, never from the files behind it.
describe('doors', () => {
  it('gateway code outside tsa/ imports tsa/index.ts only', () => {
    const tsa = join(root, 'gateway', 'src', 'tsa');
    const wrong: string[] = [];
    const files = sourceFiles(join(root, 'gateway', 'src')).filter(
      (f) => !f.startsWith(tsa) && !/\.test\.ts$/.test(f),
    );
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)['"](\.[^'"]+)['"]/g)) {
        const target = normalize(join(dirname(file), m[1] ?? ''));
        if (target.startsWith(tsa) && target !== join(tsa, 'index.ts')) {
          wrong.push(`${relative(root, file)} → ${relative(root, target)}`);
        }
      }
    }
    expect(files.length).toBeGreaterThan(50);
    expect(wrong).toEqual([]);
  });
});
