// The ceilings every gateway figure is compared with, measured in the same run on the same
// machine: a bare Fastify server (its own process, same load generator), a raw multi-row INSERT
// into the same PostgreSQL, and node:crypto's SHA-256 and ECDSA P-256 signing.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import type pg from 'pg';
import { textArray, timestamptzArray, uuidArray } from '../../../gateway/src/storage/binary-arrays.ts';
import { type BenchContext, measureRates } from '../harness.ts';
import { freePort, ROOT } from './stack.ts';

export interface BareServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** tests/bench/load/bare-fastify.ts as its own process. */
export async function startBareFastify(): Promise<BareServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'tests/bench/load/bare-fastify.ts', String(port)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare Fastify did not start')), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`bare Fastify exited (${code})`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface CryptoCeilings {
  /** One-shot SHA-256 of 64-byte inputs per second. */
  sha256Small: number;
  /** Streaming SHA-256 in MB/s (1 MiB updates). */
  sha256MBps: number;
  /** ECDSA P-256 signatures per second (node:crypto, SHA-256, IEEE P1363 — what a receipt costs). */
  es256Sign: number;
}

export async function measureCrypto(ctx: BenchContext): Promise<CryptoCeilings> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const small = randomBytes(64);
  const big = randomBytes(1024 * 1024);
  const payload = Buffer.from(`eyJhbGciOiJFUzI1NiJ9.${randomBytes(300).toString('base64url')}`);
  const rates = await measureRates(ctx, {
    sha256Small: () => {
      for (let i = 0; i < 1000; i++) createHash('sha256').update(small).digest();
      return 1000;
    },
    sha256MiB: () => {
      const h = createHash('sha256');
      for (let i = 0; i < 8; i++) h.update(big);
      h.digest();
      return 8;
    },
    es256Sign: () => {
      for (let i = 0; i < 50; i++) sign('sha256', payload, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return 50;
    },
  });
  return {
    sha256Small: rates.sha256Small,
    sha256MBps: (rates.sha256MiB * 1024 * 1024) / 1e6,
    es256Sign: rates.es256Sign,
  };
}

/** Rows shaped like the gateway's submissions rows (same column sizes). */
function sampleRows(n: number): string[][] {
  const cols: string[][] = Array.from({ length: 8 }, () => new Array<string>(n));
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    const sha = randomBytes(32).toString('hex');
    cols[0]![i] = id;
    cols[1]![i] = 'bench-620102-county-road';
    cols[2]![i] = sha;
    cols[3]![i] = 'construction_log';
    cols[4]![i] =
      `{"acceptedAt":"2026-01-01T00:00:00.000Z","cid":"bafkrei${'a'.repeat(52)}","detailsDigest":"${sha}",` +
      `"digests":{"sha256":"${sha}"},"id":"${id}","kind":"construction_log","projectId":"bench-620102-county-road",` +
      `"submitter":{"org":"bench-county-roads"},"v":1,"visibility":"public"}`;
    cols[5]![i] = `{"salt":"${randomBytes(16).toString('hex')}"}`;
    cols[6]![i] = randomBytes(430).toString('base64url');
    cols[7]![i] = new Date().toISOString();
  }
  return cols;
}

export interface StorageCeilings {
  /** Rows/s, one row per INSERT (one commit, one fsync each): the latency ceiling of one writer. */
  oneRowPerCommit: number;
  /** Rows/s with 64 rows per INSERT (about what a group commit carries at concurrency 64). */
  rows64PerCommit: number;
  /** Rows/s with 1,000 rows per INSERT: the storage throughput ceiling. */
  rows1000PerCommit: number;
}

/**
 * A raw multi-row INSERT (unnest of binary arrays, one statement, autocommit) into a copy of the
 * submissions table with the same indexes, on the gateway's own PostgreSQL.
 */
export async function measureStorage(ctx: BenchContext, pool: pg.Pool): Promise<StorageCeilings> {
  await pool.query('drop table if exists bench_raw');
  await pool.query('create table bench_raw (like submissions including defaults including indexes)');
  const pools = { 1: sampleRows(512), 64: sampleRows(64 * 16), 1000: sampleRows(1000 * 4) };
  const sql = `insert into bench_raw (id, project_id, sha256, kind, record_json, details_json, receipt, accepted_at)
    select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])`;
  const cursor = { 1: 0, 64: 0, 1000: 0 };
  // Each row is inserted once: ids are unique, so wrap around only after truncating.
  const step = (n: 1 | 64 | 1000) => async () => {
    const cols = pools[n];
    const total = cols[0]!.length;
    if (cursor[n] + n > total) {
      await pool.query('truncate bench_raw');
      cursor[1] = 0;
      cursor[64] = 0;
      cursor[1000] = 0;
    }
    const from = cursor[n];
    cursor[n] += n;
    // Encoded as the gateway's group commit encodes its columns (binary arrays), so the ceiling
    // is measured the way the gateway writes.
    const part = cols.map((c) => c.slice(from, from + n));
    await pool.query(sql, [
      uuidArray(part[0]!),
      ...part.slice(1, 7).map((c) => textArray(c)),
      timestamptzArray(part[7]!),
    ]);
    return n;
  };
  const rates = await measureRates(ctx, { one: step(1), sixtyFour: step(64), thousand: step(1000) });
  await pool.query('drop table bench_raw');
  return { oneRowPerCommit: rates.one, rows64PerCommit: rates.sixtyFour, rows1000PerCommit: rates.thousand };
}
