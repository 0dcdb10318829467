// A measuring aid for issue #26, not a benchmark of the suite: PostgreSQL's side of intake's
// INSERT, per record. On a fresh database, calls the gateway's insertSubmissions with groups of
// `group` rows shaped like the batch route's (a ~460-byte record, a ~1,340-byte receipt, a
// detached SM2 receipt; no Idempotency-Key unless `keyed`), `groups` per round, and prints per
// record the PostgreSQL backends' CPU (from /proc), the WAL written and this process's CPU (the
// client's encoding and the driver). The row contents are made before the window opens.
//
//   node --import tsx tests/bench/load/intake-pg.ts [root of a checkout = .] [rounds = 6] [groups = 20] [group = 1000] [keyed]
//
// The root lets one time another checkout's insertSubmissions and migrations in the same
// conditions (run it from that checkout: cd <root> && node --import tsx tests/bench/load/intake-pg.ts .).
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { embeddedPostmasterPid, walMeter } from './pg-probe.ts';
import { watch } from './proc-stats.ts';

const root = path.resolve(process.argv[2] ?? '.');
const rounds = Number(process.argv[3] ?? 6);
const groups = Number(process.argv[4] ?? 20);
const group = Number(process.argv[5] ?? 1000);
const keyed = process.argv[6] === 'keyed';

const load = async <T>(file: string): Promise<T> =>
  (await import(pathToFileURL(path.join(root, file)).href)) as T;
const store = await load<typeof import('../../../gateway/src/intake/submission-store.ts')>(
  'gateway/src/intake/submission-store.ts',
);
const support = await load<typeof import('../../integration/pipeline-support.ts')>(
  'tests/integration/pipeline-support.ts',
);

type Row = Parameters<typeof store.insertSubmissions>[1][number];
const b64 = (n: number) =>
  randomBytes(Math.ceil((n * 3) / 4))
    .toString('base64url')
    .slice(0, n);

function makeRows(n: number): Row[] {
  const projectId = 'bench-project';
  return Array.from({ length: n }, () => {
    const id = randomUUID();
    const sha256 = randomBytes(32).toString('hex');
    const recordJson = JSON.stringify({
      id,
      projectId,
      kind: 'construction_log',
      digests: { sha256 },
      cid: `bafkrei${b64(52).toLowerCase()}`,
      acceptedAt: new Date().toISOString(),
      submitter: { org: 'bench', user: 'bench-user' },
      visibility: 'public',
      filler: b64(180),
    });
    return {
      id,
      projectId,
      sha256,
      kind: 'construction_log',
      recordJson,
      detailsJson: '{"title":"施工日志"}',
      receipt: `${b64(36)}.${b64(1240)}.${b64(64)}`,
      receiptSm2: `${b64(40)}..${b64(128)}`,
      idempotencyKey: keyed ? randomUUID() : null,
      idemScope: keyed ? 'bench-scope' : null,
      requestHash: keyed ? randomBytes(32).toString('hex') : null,
      acceptedAt: new Date().toISOString(),
      linkTarget: null,
    } as Row;
  });
}

const db = await support.startTestDatabase();
try {
  const postmaster = embeddedPostmasterPid(db.dir);
  const pgUs: number[] = [];
  const clientUs: number[] = [];
  const wal: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const batches = Array.from({ length: groups }, () => makeRows(group));
    const records = groups * group;
    const walWritten = await walMeter(db.pool);
    const w = watch([], postmaster);
    const before = process.cpuUsage();
    for (const rows of batches) await store.insertSubmissions(db.pool, rows);
    const cpu = process.cpuUsage(before);
    const p = w.stop();
    const walBytes = await walWritten.bytes();
    const x = {
      pg: (p.pgCpuCores * p.seconds * 1e6) / records,
      client: (cpu.user + cpu.system) / records,
      wal: walBytes / records,
    };
    console.log(
      `round ${r}${r === 0 ? ' (warm-up)' : ''}: PostgreSQL ${x.pg.toFixed(1)} µs/record, client ${x.client.toFixed(1)} µs/record, WAL ${x.wal.toFixed(0)} B/record`,
    );
    if (r === 0) continue;
    pgUs.push(x.pg);
    clientUs.push(x.client);
    wal.push(x.wal);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `${root}: median PostgreSQL ${median(pgUs).toFixed(1)} µs/record, client ${median(clientUs).toFixed(1)}, WAL ${median(wal).toFixed(0)} B/record, over ${rounds} rounds of ${groups} × ${group}${keyed ? ' (keyed)' : ''}`,
  );
} finally {
  await db.stop();
}
