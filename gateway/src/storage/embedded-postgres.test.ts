// How the watchdog tells a live postmaster from a dead one, and reads pg_control's state, over
// files and processes made for the purpose (real PostgreSQL: tests/integration/
// embedded-postgres-watchdog.test.ts).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postmasterAlive, readClusterState } from './embedded-postgres.ts';

let dir = '';
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-pgfiles-'));
  await fs.mkdir(path.join(dir, 'global'));
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await fs.rm(dir, { recursive: true, force: true });
});

const pidFile = (pid: number) =>
  fs.writeFile(path.join(dir, 'postmaster.pid'), `${pid}\n${dir}\n1700000000\n5432\n`);

/** A python process running `script`; resolves with the first number it prints. */
function python(script: string): Promise<{ child: ChildProcess; pid: number }> {
  const child = spawn('python3', ['-u', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ child, pid: Number(String(d).trim()) }));
    child.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hasProc = spawnSync('test', ['-e', '/proc/self/stat']).status === 0;

describe('postmasterAlive', () => {
  it('is false without a pid file, or when it names a dead process or another program', async () => {
    await fs.rm(path.join(dir, 'postmaster.pid'), { force: true });
    expect(await postmasterAlive(dir)).toBe(false);
    const gone = spawnSync('true').pid;
    await pidFile(gone);
    expect(await postmasterAlive(dir)).toBe(false);
    if (hasProc) {
      await pidFile(process.pid); // alive, but node
      expect(await postmasterAlive(dir)).toBe(false);
    }
  });

  it.runIf(hasProc)('is true for a live process named postgres, false once it is a zombie', async () => {
    // The parent stays alive and does not reap: its child, named postgres, lives a moment and
    // then is a zombie — as a killed postmaster is under a parent that never calls wait().
    const { pid: childPid } = await python(`
import os, time
pid = os.fork()
if pid == 0:
    open('/proc/self/comm', 'w').write('postgres')
    time.sleep(0.6)
    os._exit(0)
print(pid)
time.sleep(30)
`);
    await pidFile(childPid);
    await sleep(200);
    expect(await postmasterAlive(dir)).toBe(true);
    await sleep(1000);
    expect((await fs.readFile(`/proc/${childPid}/stat`, 'utf8')).split(') ')[1]?.[0]).toBe('Z');
    expect(await postmasterAlive(dir)).toBe(false);
  });
});

describe('readClusterState', () => {
  const control = (state: number, length = 64) => {
    const b = Buffer.alloc(length);
    if (length >= 8) b.writeBigUInt64LE(7_000_000_000_000_000_000n, 0); // system identifier
    if (length >= 20) {
      b.writeUInt32LE(1700, 8); // pg_control_version
      b.writeUInt32LE(202406281, 12); // catalog_version_no
      b.writeInt32LE(state, 16);
    }
    return fs.writeFile(path.join(dir, 'global', 'pg_control'), b);
  };

  it('reads the state field PostgreSQL writes', async () => {
    await control(1);
    expect(await readClusterState(dir)).toBe('shut down');
    await control(6);
    expect(await readClusterState(dir)).toBe('in production');
    await control(4);
    expect(await readClusterState(dir)).toBe('in crash recovery');
  });

  it('says unknown for a state it does not know or a file too short', async () => {
    await control(99);
    expect(await readClusterState(dir)).toBe('unknown');
    await control(0, 12);
    expect(await readClusterState(dir)).toBe('unknown');
  });
});
