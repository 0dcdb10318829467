// A measuring aid for issue #26, not a benchmark of the suite: RecordBatch on the in-memory stub,
// CPU µs per record (process.cpuUsage, so a busy shared machine inflates it far less than wall
// time), for batches of 1,000 records into one project after the project already holds N records.
// Until the paged project book (chaincode/src/book.ts, 2026-12-07) the project's key kept a fact
// of every record of the project and was rewritten by every batch that touched it, so the cost
// grew with N; now a batch reads and writes only the pages of facts its ids fall in.
//
//   node --import tsx tests/bench/load/contract-cpu.ts [root of a checkout = .] [N,N,…] [batches] [ids]
//
// ids: `counter` (default: testRecordId(n), ids that differ in their last digits) or `v7`
// (UUIDv7 as the gateway makes them: the millisecond first, 17 records per millisecond, then
// random bits from a fixed seed, so every run and every checkout gets the same ids).
//
// The root lets one run the contract of another checkout (e.g. `git archive <commit> chaincode`
// unpacked beside a node_modules link) against the same records, for an A/B in the same
// conditions.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(process.argv[2] ?? '.');
const sizes = (process.argv[3] ?? '0,10000,100000').split(',').map(Number);
const batches = Number(process.argv[4] ?? 5);
const idKind = process.argv[5] ?? 'counter';
const BATCH = 1_000;

process.env.CORE_CHAINCODE_LOGGING_LEVEL ??= 'WARNING';
const t = (await import(
  pathToFileURL(path.join(root, 'chaincode/src/testing/index.ts')).href
)) as typeof import('../../../chaincode/src/testing/index.ts');

/** mulberry32: the same random bits in every run. */
let seed = 26;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
  return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
}
const hex = (digits: number) =>
  Array.from({ length: digits }, () => Math.floor(random() * 16).toString(16)).join('');
const T0 = Date.parse('2026-12-07T00:00:00.000Z');
function idOf(n: number): string {
  if (idKind !== 'v7') return t.testRecordId(n);
  const ms = (T0 + Math.floor(n / 17)).toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${hex(3)}-${'89ab'[Math.floor(random() * 4)]}${hex(3)}-${hex(12)}`;
}

const P = 'BENCH-P0';
function entries(offset: number, n: number) {
  return Array.from({ length: n }, (_, i) =>
    t.buildEntry({
      id: idOf(offset + i),
      projectId: P,
      kind: i % 2 === 0 ? 'construction_log' : 'notice',
      visibility: i % 3 === 0 ? 'restricted' : 'public',
      details: { title: '施工日志 第 ' + (offset + i) + ' 条' },
    }),
  );
}

const driver = new t.ContractDriver();
await driver.init();
await driver.register(t.villageRoadProject(P));
let offset = 1;
for (const target of sizes) {
  while (driver.size < target) {
    const out = await driver.submitBatch(driver.size, entries(offset, BATCH));
    offset += BATCH;
    driver.size = (out.result as { toSize: number }).toSize;
  }
  const micros: number[] = [];
  for (let b = 0; b < batches; b++) {
    const batch = entries(offset, BATCH);
    offset += BATCH;
    const before = process.cpuUsage();
    const out = await driver.submitBatch(driver.size, batch);
    const used = process.cpuUsage(before);
    driver.size = (out.result as { toSize: number }).toSize;
    micros.push((used.user + used.system) / BATCH);
  }
  micros.sort((a, b) => a - b);
  const median = micros[Math.floor(micros.length / 2)]!;
  console.log(
    `project with ${target} records: RecordBatch of ${BATCH} = ${median.toFixed(1)} CPU µs/record (median of ${batches}; min ${micros[0]!.toFixed(1)})`,
  );
}
