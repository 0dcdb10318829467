// A measuring aid for issue #26, not a benchmark of the suite: proof's buildReceiptGroup, which
// the gateway's group commit runs over every batch of the batch route (intake.ts signReceipts,
// groups of up to 5,000), per item: CPU µs (process.cpuUsage, so a busy shared machine inflates
// it far less than wall time) and bytes allocated on the V8 heap. Groups of 1,000 and 5,000
// realistic items (UUIDv7 ids from a fixed seed, 64-hex sha256 and leaf, a `bafkrei…` CID, kind
// `contract`, projectId `P-2026-0001`…), the old and the new builder alternately, `rounds` times;
// medians and ranges printed.
//
//   npx node --expose-gc --min-semi-space-size=64 --import tsx tests/bench/load/receipt-group-cpu.ts [root of another checkout | ref] [rounds = 9]
//
// "old" is either `ref` (default: the builder as it was before the flat Node builder, written out
// below from proof's own pieces — utf8Encode, leafHash, treeWithPaths, concatBytes, base64url) or
// the buildReceiptGroup of another checkout's proof/ (e.g. `git archive <commit> proof` unpacked
// beside a node_modules link), for an A/B in the same conditions. Before timing a size, it checks
// that both give the same root and items.
//
// Allocation: gc() (--expose-gc), then V8's used heap before and after one build; a round in which
// a GC ran between the two readings is left out (--min-semi-space-size=64 keeps the young
// generation large enough for a group of 5,000). Buffers' backing stores outside the V8 heap are
// not counted (the old builder's digests, returned as Buffers, have one each: it allocates more
// than its heap figure shows; process.memoryUsage().arrayBuffers, freed concurrently, could not
// be read reliably around one build).
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import type { ReceiptGroup, ReceiptItemClaims } from '../../../proof/src/index.ts';
import { canonicalJson } from '../../../proof/src/lib/canonical-json.ts';
import { base64urlEncode, utf8Encode } from '../../../proof/src/lib/codec-node.ts';
import { concatBytes, toHex } from '../../../proof/src/lib/encoding.ts';
import { leafHash, treeWithPaths } from '../../../proof/src/lib/merkle.ts';
import { buildReceiptGroup } from '../../../proof/src/lib/receipt.ts';

const other = process.argv[2] ?? 'ref';
const rounds = Number(process.argv[3] ?? 9);
const SIZES = [1_000, 5_000];
// Builds per timed window: about 20,000 items, so one window is tens of milliseconds.
const repsOf = (n: number) => Math.max(1, Math.round(20_000 / n));

// --- the old builder, as receipt.ts had it ---
const SURROGATE = /[\ud800-\udfff]/;
function itemClaimsJson(item: ReceiptItemClaims): string {
  const { cid, kind, leaf, projectId, sha256, sub } = item;
  const values = [cid, kind, leaf, projectId, sha256, sub];
  if (values.some((v) => typeof v !== 'string' || SURROGATE.test(v))) {
    return canonicalJson({ cid, kind, leaf, projectId, sha256, sub });
  }
  return `{"cid":${JSON.stringify(cid)},"kind":${JSON.stringify(kind)},"leaf":${JSON.stringify(leaf)},"projectId":${JSON.stringify(projectId)},"sha256":${JSON.stringify(sha256)},"sub":${JSON.stringify(sub)}}`;
}
function referenceBuild(items: readonly ReceiptItemClaims[]): ReceiptGroup {
  const encoded = items.map((item) => utf8Encode(itemClaimsJson(item)));
  const { root, paths } = treeWithPaths(encoded.map(leafHash));
  const rootHex = toHex(root);
  return {
    claims: (shared) => ({
      iss: shared.iss,
      iat: shared.iat,
      ledger: shared.ledger,
      size: items.length,
      root: rootHex,
    }),
    items: encoded.map(
      (bytes, i) => `${base64urlEncode(bytes)}.${i}.${base64urlEncode(concatBytes(...paths[i]!))}`,
    ),
  };
}

const oldBuild: (items: readonly ReceiptItemClaims[]) => ReceiptGroup =
  other === 'ref'
    ? referenceBuild
    : (
        (await import(
          pathToFileURL(path.join(path.resolve(other), 'proof/src/lib/receipt.ts')).href
        )) as typeof import('../../../proof/src/lib/receipt.ts')
      ).buildReceiptGroup;
const builders = { old: oldBuild, new: buildReceiptGroup };

// --- realistic items ---
/** mulberry32: the same random bits in every run. */
let seed = 26;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
  return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
}
const pick = (alphabet: string, n: number) =>
  Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
const hex = (n: number) => pick('0123456789abcdef', n);
const T0 = Date.parse('2026-12-07T00:00:00.000Z');
function itemOf(n: number): ReceiptItemClaims {
  const ms = (T0 + Math.floor(n / 17)).toString(16).padStart(12, '0');
  return {
    sub: `${ms.slice(0, 8)}-${ms.slice(8)}-7${hex(3)}-${pick('89ab', 1)}${hex(3)}-${hex(12)}`,
    sha256: hex(64),
    cid: `bafkrei${pick('abcdefghijklmnopqrstuvwxyz234567', 52)}`,
    projectId: `P-2026-${String(1 + (n % 40)).padStart(4, '0')}`,
    kind: 'contract',
    leaf: hex(64),
  };
}

// --- measuring ---
const gcStarts: number[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcStarts.push(e.startTime);
}).observe({ entryTypes: ['gc'] });
const gc = (globalThis as { gc?: () => void }).gc;
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function allocatedPerItem(
  build: (i: readonly ReceiptItemClaims[]) => ReceiptGroup,
  items: ReceiptItemClaims[],
) {
  if (!gc) return undefined;
  gc();
  await tick();
  const t0 = performance.now();
  const before = v8.getHeapStatistics().used_heap_size;
  const group = build(items);
  const after = v8.getHeapStatistics().used_heap_size;
  const t1 = performance.now();
  await tick();
  if (group.items.length !== items.length) throw new Error('wrong item count');
  if (gcStarts.some((s) => s >= t0 && s <= t1)) return undefined; // a GC ran inside: not a reading
  return (after - before) / items.length;
}

function cpuPerItem(build: (i: readonly ReceiptItemClaims[]) => ReceiptGroup, items: ReceiptItemClaims[]) {
  const reps = repsOf(items.length);
  const before = process.cpuUsage();
  for (let r = 0; r < reps; r++) build(items);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (reps * items.length);
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const range = (xs: number[], digits: number) =>
  xs.length === 0 ? 'n/a' : `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

console.log(
  `old = ${other === 'ref' ? 'the reference (receipt.ts before the flat builder)' : path.resolve(other)}; ${rounds} rounds${gc ? '' : '; no --expose-gc: CPU only'}`,
);
for (const n of SIZES) {
  const items = Array.from({ length: n }, (_, i) => itemOf(i));
  const a = builders.old(items);
  const b = builders.new(items);
  const shared = { iss: 'x', iat: 1, ledger: 'embedded' as const };
  if (
    JSON.stringify(a.items) !== JSON.stringify(b.items) ||
    a.claims(shared).root !== b.claims(shared).root
  ) {
    throw new Error(`old and new builders differ for ${n} items`);
  }
  // Warm-up: both builders optimised before the first timed round.
  for (let w = 0; w < 3; w++) for (const build of Object.values(builders)) cpuPerItem(build, items);
  const cpu = { old: [] as number[], new: [] as number[] };
  const heap = { old: [] as number[], new: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so a drift in the machine's load falls on both.
    const order = r % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const);
    for (const which of order) {
      cpu[which].push(cpuPerItem(builders[which], items));
      const bytes = await allocatedPerItem(builders[which], items);
      if (bytes !== undefined) heap[which].push(bytes);
    }
  }
  const line = (which: 'old' | 'new') =>
    `  ${which}: ${median(cpu[which]).toFixed(2)} µs/item (${range(cpu[which], 2)})${gc ? `, ${median(heap[which]).toFixed(0)} B/item heap (${range(heap[which], 0)}; ${heap[which].length} readings)` : ''}`;
  console.log(`group of ${n}:`);
  console.log(line('old'));
  console.log(line('new'));
  const ratios = cpu.new.map((x, i) => x / cpu.old[i]!);
  console.log(`  new/old CPU per round: median ${median(ratios).toFixed(2)} (${range(ratios, 2)})`);
}
