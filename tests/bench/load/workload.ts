// What the gateway benchmarks send: hash-only submissions with a fresh digest each, batches,
// streamed multipart uploads of any size, and the database queries that turn a run into
// accepted→recorded latencies.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type pg from 'pg';
import type { LoadRequest } from './closed-loop.ts';
import type { LatencySummary } from './latencies.ts';

/** Distinct digests: a random 48-hex prefix per generator and a 16-hex counter. */
export class DigestSource {
  readonly prefix = randomBytes(24).toString('hex');
  private n = 0;
  next(): string {
    return this.prefix + (this.n++).toString(16).padStart(16, '0');
  }
  /** The i-th digest this source produced. */
  at(i: number): string {
    return this.prefix + i.toString(16).padStart(16, '0');
  }
  get count(): number {
    return this.n;
  }
  /** Counts `k` digests produced elsewhere from this prefix (wrk's Lua, see wrk.ts). */
  advance(k: number): void {
    this.n += k;
  }
}

export function hashOnlyBody(projectId: string, sha256: string): string {
  return `{"projectId":"${projectId}","kind":"construction_log","visibility":"public","sha256":"${sha256}"}`;
}

/**
 * POST /v1/evidence of a hash-only submission with the next digest of `digests` each time, as the
 * seeded partner (its API key); with `template`, described for wrk too (see LoadRequest).
 */
export function evidencePost(
  creds: { projectId: string; apiKey: string },
  digests: DigestSource,
  { template = true }: { template?: boolean } = {},
): LoadRequest {
  return {
    method: 'POST',
    path: '/v1/evidence',
    headers: { 'content-type': 'application/json', 'x-api-key': creds.apiKey },
    body: () => hashOnlyBody(creds.projectId, digests.next()),
    ...(template
      ? { template: { path: '/v1/evidence', body: hashOnlyBody(creds.projectId, '{{digest}}'), digests } }
      : {}),
  };
}

export function batchBody(projectId: string, digests: DigestSource, items: number): string {
  const parts = new Array<string>(items);
  for (let i = 0; i < items; i++) parts[i] = hashOnlyBody(projectId, digests.next());
  return `{"items":[${parts.join(',')}]}`;
}

export interface UploadResult {
  status: number;
  ms: number;
  body: string;
}

/**
 * POSTs a multipart submission whose file part is `bytes` long, generated on the fly in 1 MiB
 * chunks (the client never holds the file either), and waits for the answer.
 */
export function uploadFile(
  url: string,
  headers: Record<string, string>,
  fields: Record<string, string>,
  bytes: number,
): Promise<UploadResult> {
  const boundary = `----lzbench${randomBytes(8).toString('hex')}`;
  let head = '';
  for (const [k, v] of Object.entries(fields))
    head += `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  head += `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="bench.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const length = Buffer.byteLength(head) + bytes + Buffer.byteLength(tail);
  // A random chunk, with its first bytes changed per upload so that every file has its own digest.
  const chunk = randomBytes(1024 * 1024);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const target = new URL('/v1/evidence', url);
    const req = http.request(
      target,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': length,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body }));
      },
    );
    req.on('error', reject);
    req.write(head);
    randomBytes(32).copy(chunk);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        const ok = req.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (!ok) {
          req.once('drain', pump);
          return;
        }
      }
      req.end(tail);
    };
    pump();
  });
}

/**
 * Waits until no submission (accepted before `before`, when given) is left 'accepted', or the
 * timeout passes.
 */
export async function waitRecorded(pool: pg.Pool, timeoutMs: number, before?: Date): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Only the oldest queued submission is read (one probe of each primary key): a count over the
    // queue joined with submissions cost PostgreSQL as much as recording the backlog it polled.
    // Submissions are committed one group at a time, in seq order, so if the oldest still queued
    // was accepted at or after `before`, so were the rest.
    const { rows } = await pool.query<{ accepted_at: Date }>(
      `select s.accepted_at from (select seq from seal_queue order by seq limit 1) q
         join submissions s on s.seq = q.seq`,
    );
    if (rows.length === 0 || (before !== undefined && rows[0]!.accepted_at >= before)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** accepted→recorded latency (ms) of the submissions accepted in [from, to). */
export async function recordedLatency(
  pool: pg.Pool,
  from: Date,
  to: Date,
): Promise<Pick<LatencySummary, 'count' | 'p50' | 'p99' | 'max'>> {
  const { rows } = await pool.query<{ n: string; p50: number; p99: number; max: number }>(
    `select count(*) as n,
            percentile_cont(0.5) within group (order by extract(epoch from b.recorded_at - s.accepted_at)) as p50,
            percentile_cont(0.99) within group (order by extract(epoch from b.recorded_at - s.accepted_at)) as p99,
            max(extract(epoch from b.recorded_at - s.accepted_at)) as max
       from submission_states s
       join ledger_batches b on s.leaf_index >= b.from_size and s.leaf_index < b.to_size
      where s.accepted_at >= $1 and s.accepted_at < $2 and b.status = 'recorded'`,
    [from, to],
  );
  const r = rows[0]!;
  return { count: Number(r.n), p50: r.p50 * 1000, p99: r.p99 * 1000, max: r.max * 1000 };
}

/**
 * accepted→recorded latency (ms) of the submissions with seq in (`afterSeq`, `toSeq`]: from each
 * one's acceptedAt (stamped just before the insert whose commit precedes the 202) until its batch
 * was recorded — the transaction that stores the batch's signed checkpoint (batcher.ts, confirm).
 * Found through the batches that hold them (those ending above `aboveSize`, the checkpoint size
 * before the run) and the primary key, so that it reads the run's rows only: recordedLatency's
 * filter on accepted_at has no index and reads every submission, tens of GB after a prefill.
 */
export async function recordedLatencyOfSeqs(
  pool: pg.Pool,
  aboveSize: number,
  afterSeq: string,
  toSeq: string,
): Promise<Pick<LatencySummary, 'count' | 'p50' | 'p99' | 'max'>> {
  const { rows } = await pool.query<{ n: string; p50: number; p99: number; max: number }>(
    `select count(*) as n,
            percentile_cont(0.5) within group (order by x.s) as p50,
            percentile_cont(0.99) within group (order by x.s) as p99,
            max(x.s) as max
       from (select extract(epoch from b.recorded_at - s.accepted_at) as s
               from ledger_batches b
              cross join lateral unnest(b.seqs) as u (seq)
               join submissions s on s.seq = u.seq
              where b.status = 'recorded' and b.to_size > $1 and u.seq > $2 and u.seq <= $3) x`,
    [String(aboveSize), afterSeq, toSeq],
  );
  const r = rows[0]!;
  return { count: Number(r.n), p50: r.p50 * 1000, p99: r.p99 * 1000, max: r.max * 1000 };
}

/** The newest submission's seq ('0' when there is none): bounds a run for recordedLatencyOfSeqs. */
export async function lastSeq(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ seq: string | null }>('select max(seq)::text as seq from submissions');
  return rows[0]!.seq ?? '0';
}
