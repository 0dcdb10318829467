// proof/README.md's usage example, run as it is printed (only its import pointed at this
// checkout's source), so the README cannot show code that no longer runs or no longer verifies.
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
