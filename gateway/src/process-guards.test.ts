// Whether an uncaught exception ends a process that has loaded fabric-contract-api (as every
// gateway process has, through the embedded ledger), with and without the guard. Real child
// processes: the behaviour under test is the process's own.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const guards = JSON.stringify(`${root}/gateway/src/process-guards.ts`);

/** Maybe installs the guard (first, as entry-env.ts does), loads the contract API's logger as the
 * chaincode does, throws on a timer, and otherwise says it is still running half a second later. */
function run(guard: 'none' | 'stderr' | 'pino') {
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(${JSON.stringify(`${root}/gateway/package.json`)});
    ${guard === 'none' ? '' : `const guards = await import(${guards}); guards.exitOnUncaughtException();`}
    ${guard === 'pino' ? "guards.logUncaughtExceptionsWith(require('pino')());" : ''}
    require('fabric-contract-api/lib/logger.js').getLogger('probe'); // installs its handlers
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
    const child = run('none');
    expect(child.stdout).toContain('still running');
    expect(child.status).toBe(0);
  });

  it('with it, the process says so on stderr and exits 1', () => {
    const child = run('stderr');
    expect(child.stdout).not.toContain('still running');
    expect(child.status).toBe(1);
    expect(child.stderr).toMatch(/uncaught exception; exiting: Error: boom from a timer/);
  });

  it('once the gateway has its logger, the line is a fatal JSON log line, written before the exit', () => {
    const child = run('pino');
    expect(child.status).toBe(1);
    const line = child.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message?: string } })
      .find((l) => l.msg === 'uncaught exception; exiting');
    expect(line?.level).toBe(60);
    expect(line?.err?.message).toBe('boom from a timer');
  });
});
