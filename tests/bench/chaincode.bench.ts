// chaincode/: RecordBatch on the in-memory Fabric-like stub, in records/s, beside the floor any
// implementation pays for the same records (canonical JSON and SHA-256 of each record and its
// details), and the state it writes per record beside the one key a record minimally needs.

import type { RecordEntry } from '@lianzheng/chaincode';
import { canonicalBytes, canonicalJson, detailsDigest, leafHash } from '@lianzheng/proof';
import { type BenchContext, type BenchResult, compare, median } from './harness.ts';

type Testing = typeof import('@lianzheng/chaincode/testing');

interface Workload {
  name: string;
  /** Builds batch `round` of `size` records (ids continue from `offset`). */
  entries(t: Testing, offset: number, size: number): RecordEntry[];
  projects: string[];
  /** Records recorded once before timing (contracts the mixed workload pays against). */
  setup?(t: Testing): RecordEntry[];
}

const logs: Workload = {
  name: 'construction logs, one project',
  projects: ['BENCH-P0'],
  entries: (t, offset, size) =>
    Array.from({ length: size }, (_, i) =>
      t.buildEntry({
        id: t.testRecordId(offset + i),
        projectId: 'BENCH-P0',
        kind: 'construction_log',
        details: { title: '施工日志' },
      }),
    ),
};

const MIXED_PROJECTS = Array.from({ length: 20 }, (_, i) => `BENCH-M${i}`);
const mixed: Workload = {
  name: 'mixed kinds (payments, changes, acceptances, notices), 20 projects',
  projects: MIXED_PROJECTS,
  setup: (t) =>
    MIXED_PROJECTS.map((p, i) =>
      t.buildEntry({
        id: t.testRecordId(900_000_000 + i),
        projectId: p,
        kind: 'contract',
        details: { amount: '100000000000' },
      }),
    ),
  entries: (t, offset, size) =>
    Array.from({ length: size }, (_, i) => {
      const n = offset + i;
      const p = n % MIXED_PROJECTS.length;
      const projectId = MIXED_PROJECTS[p]!;
      const contract = t.testRecordId(900_000_000 + p);
      const id = t.testRecordId(n);
      switch (n % 4) {
        case 0:
          return t.buildEntry({
            id,
            projectId,
            kind: 'payment_approval',
            refs: [contract],
            details: { amount: '1000' },
          });
        case 1:
          return t.buildEntry({
            id,
            projectId,
            kind: 'change_order',
            refs: [contract],
            details: { amount: '10' },
          });
        case 2:
          return t.buildEntry({
            id,
            projectId,
            kind: 'acceptance',
            refs: [contract],
            details: { milestone: 'M1', result: 'passed' },
          });
        default:
          return t.buildEntry({
            id,
            projectId,
            kind: 'notice',
            visibility: 'public',
            details: { title: '公示' },
          });
      }
    }),
};

async function measure(ctx: BenchContext, t: Testing, workload: Workload): Promise<BenchResult[]> {
  const size = ctx.quick ? 1_000 : 5_000;
  const rounds = ctx.quick ? 3 : 7;
  const driver = new t.ContractDriver();
  await driver.init();
  for (const p of workload.projects) await driver.register(t.villageRoadProject(p));
  if (workload.setup) await driver.record(workload.setup(t));
  let offset = 1;
  const chaincodeRates: number[] = [];
  const floorRates: number[] = [];
  let writes = 0;
  let recorded = 0;
  const bytesBefore = driver.ledger.stateBytes();
  let payloadBytes = 0;
  // One untimed warm-up batch, then interleaved rounds: floor and chaincode on the same records.
  for (let r = -1; r < rounds; r++) {
    const entries = workload.entries(t, offset, size);
    offset += size;
    const json = JSON.stringify({ fromSize: driver.size, records: entries });

    let start = performance.now();
    for (const entry of JSON.parse(json).records as RecordEntry[]) {
      leafHash(canonicalBytes(entry.record));
      detailsDigest(entry.details);
    }
    const floorMs = performance.now() - start;

    start = performance.now();
    // As a client sends it: restricted details as transient data (encodeRecordBatch).
    const out = await driver.submitBatch(driver.size, entries);
    const ms = performance.now() - start;
    driver.size = (out.result as { toSize: number }).toSize;
    if (r < 0) continue;
    floorRates.push((size * 1000) / floorMs);
    chaincodeRates.push((size * 1000) / ms);
    writes += out.writes.length;
    recorded += size;
    for (const entry of entries)
      payloadBytes += canonicalJson(entry.record).length + canonicalJson(entry.details).length;
  }
  const stateBytesPerRecord = (driver.ledger.stateBytes() - bytesBefore) / (recorded + size);
  const floor = {
    name: `canonical JSON + SHA-256 of the same records and details (${workload.name})`,
    value: median(floorRates),
    unit: 'records/s',
  };
  const rate = median(chaincodeRates);
  return [
    { ...floor },
    {
      ...compare(
        {
          name: `RecordBatch of ${size} on the memory stub (${workload.name})`,
          value: rate,
          unit: 'records/s',
        },
        floor,
      ),
      target: '≥ 5,000 records/s (the Fabric end-to-end goal; the chaincode must not be the limit)',
      meetsTarget: rate >= 5_000,
    },
    {
      ...compare(
        {
          name: `state writes per record (${workload.name})`,
          value: writes / recorded,
          unit: 'writes/record',
        },
        { name: 'one key per record', value: 1, unit: 'writes/record' },
      ),
      target: 'O(records): ≤ 2.1 writes/record in batches of thousands',
      meetsTarget: writes / recorded <= 2.1,
    },
    compare(
      { name: `state bytes per record (${workload.name})`, value: stateBytesPerRecord, unit: 'bytes/record' },
      { name: 'canonical record + details', value: payloadBytes / recorded, unit: 'bytes/record' },
    ),
  ];
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  // fabric-contract-api logs every decorator at info when it loads; keep the bench output readable.
  process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'WARNING';
  const t: Testing = await import('@lianzheng/chaincode/testing');
  const results: BenchResult[] = [];
  for (const workload of [logs, mixed]) {
    ctx.log(`chaincode: ${workload.name}`);
    results.push(...(await measure(ctx, t, workload)));
  }
  return results;
}
