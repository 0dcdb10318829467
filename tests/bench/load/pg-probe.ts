// What the bench tools read of a PostgreSQL besides its answers: the embedded server's postmaster
// (whose backends' CPU proc-stats.ts sums) and the WAL written over a window.
import fs from 'node:fs';
import path from 'node:path';

/**
 * The postmaster of the embedded PostgreSQL under `dir` (its data in `<dir>/pg/data`); undefined
 * when there is none there (a DATABASE_URL) or it has gone.
 */
export function embeddedPostmasterPid(dir: string): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

interface Queries {
  query<R>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** From now on: `bytes()` answers how much WAL PostgreSQL has written since. */
export async function walMeter(db: Queries): Promise<{ bytes(): Promise<number> }> {
  const from = (await db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
  return {
    async bytes() {
      const { rows } = await db.query<{ b: string }>(
        'select pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text as b',
        [from],
      );
      return Number(rows[0]!.b);
    },
  };
}
