// Whether an uncaught exception ends a process that has loaded fabric-contract-api (as every
// gateway process has, through the embedded ledger), with and without exitOnUncaughtException.
// Real child processes: the behaviour under test is the process's own.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/** Loads the contract API's logger, maybe installs the guard, throws on a timer, and otherwise
 * says it is still running half a second later. */
function run(guarded: boolean) {
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(${JSON.stringify(`${root}/gateway/package.json`)});
    require('fabric-contract-api').Contract; // installs its loggers on first use
    require('fabric-contract-api/lib/logger.js').getLogger('probe');
    ${
      guarded
        ? `const { exitOnUncaughtException } = await import(${JSON.stringify(`${root}/gateway/src/process-guards.ts`)});
    exitOnUncaughtException(() => undefined);`
        : ''
    }
    setTimeout(() => { throw new Error('boom from a timer'); }, 10);
    setTimeout(() => { console.log('still running'); process.exit(0); }, 500);
  `;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CORE_CHAINCODE_LOGGING_LEVEL: 'WARNING' },
    timeout: 30_000,
  });
}

describe('exitOnUncaughtException', () => {
  it('without it, fabric-contract-api keeps the process running after an uncaught exception', () => {
    const child = run(false);
    expect(child.stdout).toContain('still running');
    expect(child.status).toBe(0);
  });

  it('with it, the process logs the exception and exits 1', () => {
    const child = run(true);
    expect(child.stdout).not.toContain('still running');
    expect(child.status).toBe(1);
    expect(child.stderr).toMatch(/uncaught exception; exiting: Error: boom from a timer/);
  });
});
