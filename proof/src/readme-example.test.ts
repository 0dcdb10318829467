// proof/README.md against the code: its usage example, run as it is printed (only its import
// pointed at this checkout's source), and its API section, which must name every export of
// src/index.ts — so the README can neither show code that no longer runs nor miss what was added.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it, vi } from 'vitest';

it("proof/README.md's usage example runs and its bundle verifies", async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code).toContain("from '@lianzheng/proof'");
  const dir = mkdtempSync(join(tmpdir(), 'proof-readme-'));
  const file = join(dir, 'example.mjs');
  writeFileSync(
    file,
    code!.replace(
      "from '@lianzheng/proof'",
      `from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)}`,
    ),
  );
  const printed: unknown[][] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    printed.push(args);
  });
  try {
    await import(pathToFileURL(file).href);
  } finally {
    log.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
  // What the README says it prints.
  expect(printed).toEqual([
    [
      true,
      'digest pass, details pass, leaf pass, inclusion pass, checkpoint pass, receipt pass, ledger NO_LEDGER_REF, anchor NO_ANCHOR_REF, timestamp NO_TIMESTAMP, witnesses NO_WITNESSES',
    ],
  ]);
  expect(readme).toContain(
    'prints `true digest pass, details pass, leaf pass, inclusion pass, checkpoint pass, receipt\npass, ledger NO_LEDGER_REF, anchor NO_ANCHOR_REF, timestamp NO_TIMESTAMP, witnesses NO_WITNESSES`',
  );
});

it('proof/README.md names every export of src/index.ts', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const index = readFileSync(new URL('./index.ts', import.meta.url), 'utf8');
  const names = [...index.matchAll(/export\s*\{([^}]*)\}/g)].flatMap((m) =>
    m[1]!
      .split(',')
      .map((n) => n.replace(/^\s*type\s+/, '').trim())
      .filter((n) => n !== ''),
  );
  expect(names.length).toBeGreaterThan(150);
  const named = (n: string) => new RegExp(`(?<![A-Za-z0-9_])${n}(?![A-Za-z0-9_])`).test(readme);
  // An export missing here: add it to README.md's "API" section, where its module's exports are.
  expect(names.filter((n) => !named(n))).toEqual([]);
});
