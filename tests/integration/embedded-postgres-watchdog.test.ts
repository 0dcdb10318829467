// The embedded PostgreSQL's watchdog (gateway/src/storage/embedded-postgres-watchdog.ts) against a
// real server: a postmaster killed with -9 comes back on the same URL with its committed rows,
// by itself; one shut down cleanly (pg_ctl stop, an operator's act) is left stopped. And the
// gateway's pool (createPool) when a connection it has lent out is cut.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../gateway/src/config.ts';
import { createPool } from '../../gateway/src/storage/db-plugin.ts';
import {
  type EmbeddedPostgres,
  postmasterAlive,
  readClusterState,
  startEmbeddedPostgres,
} from '../../gateway/src/storage/embedded-postgres.ts';
import {
  type EmbeddedPostgresWatchdog,
  watchEmbeddedPostgres,
} from '../../gateway/src/storage/embedded-postgres-watchdog.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir = '';
let server: EmbeddedPostgres;
let watchdog: EmbeddedPostgresWatchdog | undefined;
const lines: { level: string; msg: string }[] = [];
const log = {
  info: (_: object, msg: string) => lines.push({ level: 'info', msg }),
  warn: (_: object, msg: string) => lines.push({ level: 'warn', msg }),
  error: (_: object, msg: string) => lines.push({ level: 'error', msg }),
};

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-pg-watchdog-'));
  await fs.chmod(dir, 0o755);
  server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
});

afterAll(async () => {
  await watchdog?.stop();
  if (await server?.running().catch(() => false)) await server.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function until(what: string, ok: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; watchdog said: ${JSON.stringify(lines)}`);
}

describe("the gateway's pool", () => {
  it('survives a lent-out connection being cut: the holder gets the error, the pool a new client', async () => {
    const pool = createPool(server.url, { requestTimeoutMs: 2000 } as Config);
    try {
      const held = await pool.connect();
      const { rows } = await held.query<{ pid: number }>('select pg_backend_pid() as pid');
      // Without a listener of its own, pg's 'error' event on a lent-out client is thrown at the
      // process, which vitest reports as an unhandled error and fails the run.
      await query(`select pg_terminate_backend(${rows[0]!.pid})`);
      await sleep(300);
      await expect(held.query('select 1')).rejects.toThrow(/not queryable|terminat/i);
      held.release();
      expect(pool.totalCount).toBe(0);
      expect((await pool.query<{ one: number }>('select 1 as one')).rows[0]?.one).toBe(1);
    } finally {
      await pool.end();
    }
  });
});

describe('the embedded PostgreSQL watchdog', () => {
  it('reads the state PostgreSQL records for the cluster', async () => {
    const dataDir = path.join(server.dir, 'data');
    expect(await postmasterAlive(dataDir)).toBe(true);
    expect(await readClusterState(dataDir)).toBe('in production');
  });

  it('restarts a postmaster killed with -9, on the same URL, with every committed row', async () => {
    await query('create table kept (n int primary key)');
    await query('insert into kept select generate_series(1, 1000)');
    watchdog = watchEmbeddedPostgres(server, { log, intervalMs: 100, maxBackoffMs: 1000 });

    const pid = Number(
      (await fs.readFile(path.join(server.dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    process.kill(pid, 'SIGKILL');
    // Dead, and not shut down cleanly: pg_control still says it was running.
    await until(
      'the postmaster to be gone',
      async () => !(await postmasterAlive(path.join(server.dir, 'data'))),
      10_000,
    );

    // Answering can come a moment before pg_ctl returns and the watchdog counts its restart.
    await until(
      'PostgreSQL to answer again',
      async () => (await query('select 1 as one')).length === 1,
      60_000,
    );
    await until('the watchdog to count its restart', async () => watchdog!.restarts >= 1, 10_000);
    const kept = await query<{ count: string }>('select count(*) from kept');
    expect(Number(kept[0]?.count)).toBe(1000);
    expect(lines.some((l) => l.level === 'error' && /not shut down cleanly; restarting/.test(l.msg))).toBe(
      true,
    );
    expect(lines.some((l) => l.level === 'warn' && l.msg === 'PostgreSQL restarted')).toBe(true);
    expect(await readClusterState(path.join(server.dir, 'data'))).toBe('in production');
  });

  it('leaves a server that was shut down cleanly stopped, and says so once', async () => {
    const before = watchdog!.restarts;
    await server.stop();
    expect(await readClusterState(path.join(server.dir, 'data'))).toBe('shut down');
    // Twenty looks at it.
    await sleep(2000);
    expect(await server.running()).toBe(false);
    expect(watchdog!.restarts).toBe(before);
    expect(
      lines.filter((l) => l.level === 'warn' && /shut down cleanly by someone else/.test(l.msg)),
    ).toHaveLength(1);

    // Started again by its operator: the watchdog sees it back.
    await server.start();
    await until(
      'the watchdog to see it running',
      async () => lines.at(-1)?.msg === 'PostgreSQL is running again',
      5000,
    );
    await watchdog!.stop();
    watchdog = undefined;
  });
});
