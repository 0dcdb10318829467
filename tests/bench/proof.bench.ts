// proof/: log append rate, verifyBundle cost, streaming SHA-256 throughput — each beside a
// node:crypto or jose baseline measured in the same run.
import { createHash, hash, randomBytes } from 'node:crypto';
import {
  appendLeaves,
  appendLeavesWithSubtrees,
  BUNDLE_VERSION,
  cidFromSha256,
  createSha256,
  deriveNotePublicKey,
  detailsDigest,
  type EvidenceRecord,
  emptyFrontier,
  formatCheckpoint,
  frontierRoot,
  generateInclusionProof,
  leafHash,
  MemorySubtreeStore,
  noteVerifierKey,
  type ProofBundle,
  RECEIPT_ALG,
  RECEIPT_TYPE,
  recordLeafHash,
  sha256,
  signCheckpoint,
  toHex,
  verifyBundle,
} from '@lianzheng/proof';
import { compactVerify, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createSha256Impl as browserSha256 } from '../../proof/src/lib/sha256-browser.ts';
import { type BenchContext, type BenchResult, compare, measureRate, measureRates } from './harness.ts';

async function appendRate(ctx: BenchContext): Promise<BenchResult[]> {
  // 64-byte leaf inputs, hashed and appended in batches of 10,000 as the batcher does.
  const BATCH = 10_000;
  const inputs = Array.from({ length: BATCH }, () => randomBytes(64));
  const leaves = inputs.map((d) => leafHash(d));
  let f1 = emptyFrontier();
  let f2 = emptyFrontier();
  let f3 = emptyFrontier();
  const rates = await measureRates(ctx, {
    sha64: () => {
      for (let i = 0; i < BATCH; i++) createHash('sha256').update(inputs[i]!).digest();
      return BATCH;
    },
    leafAndAppend: () => {
      const batch = new Array<Uint8Array>(BATCH);
      for (let i = 0; i < BATCH; i++) batch[i] = leafHash(inputs[i]!);
      f1 = appendLeaves(f1, batch);
      return BATCH;
    },
    appendOnly: () => {
      f2 = appendLeaves(f2, leaves);
      return BATCH;
    },
    withSubtrees: () => {
      f3 = appendLeavesWithSubtrees(f3, leaves).frontier;
      return BATCH;
    },
  });
  const baseline = {
    name: 'node:crypto createHash SHA-256 of 64 bytes',
    value: rates.sha64,
    unit: 'hashes/s',
  };
  return [
    { name: baseline.name, value: rates.sha64, unit: 'hashes/s' },
    {
      ...compare(
        { name: 'log append: leafHash + appendLeaves', value: rates.leafAndAppend, unit: 'leaves/s' },
        baseline,
      ),
      target: '≥ 300,000 leaves/s',
      meetsTarget: rates.leafAndAppend >= 300_000,
    },
    compare(
      { name: 'appendLeaves of precomputed leaf hashes', value: rates.appendOnly, unit: 'leaves/s' },
      baseline,
    ),
    compare(
      { name: 'appendLeavesWithSubtrees (precomputed)', value: rates.withSubtrees, unit: 'leaves/s' },
      baseline,
    ),
  ];
}

async function bundleCost(ctx: BenchContext): Promise<BenchResult[]> {
  // A realistic bundle: record 777 of a log of 1,000, checkpoint and receipt signed with real keys.
  const { publicKey, privateKey } = await generateKeyPair(RECEIPT_ALG, { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'r1', alg: RECEIPT_ALG }] };
  const seed = sha256(new TextEncoder().encode('bench checkpoint key'));
  const origin = 'bench.lianzheng/log';
  const checkpointKeys = [noteVerifierKey(origin, deriveNotePublicKey(seed))];
  const records: EvidenceRecord[] = [];
  const store = new MemorySubtreeStore();
  let frontier = emptyFrontier();
  for (let i = 0; i < 1000; i++) {
    const digest = sha256(new TextEncoder().encode(`doc ${i}`));
    const record: EvidenceRecord = {
      v: 1,
      id: `0190a1b2-c3d4-7e5f-8a6b-${i.toString(16).padStart(12, '0')}`,
      projectId: 'P-620102-0001',
      kind: 'payment_approval',
      digests: { sha256: toHex(digest) },
      cid: cidFromSha256(digest),
      visibility: 'public',
      submitter: { org: 'org-finance-bureau' },
      acceptedAt: '2026-03-01T08:00:00.000Z',
      refs: ['0190a1b2-c3d4-7e5f-8a6b-000000000001'],
      detailsDigest: detailsDigest({ salt: '0'.repeat(32), amount: String(i * 100) }),
    };
    records.push(record);
    const r = appendLeavesWithSubtrees(frontier, [recordLeafHash(record)]);
    store.add(r.subtrees);
    frontier = r.frontier;
  }
  const i = 777;
  const record = records[i]!;
  const note = await signCheckpoint(
    formatCheckpoint({ origin, size: frontier.size, rootHash: frontierRoot(frontier) }),
    { name: origin, privateKey: seed },
  );
  const receipt = await new SignJWT({
    iss: 'https://gateway.bench',
    sub: record.id,
    iat: 1_772_352_000,
    sha256: record.digests.sha256,
    cid: record.cid,
    projectId: record.projectId,
    kind: record.kind,
    leaf: toHex(recordLeafHash(record)),
    ledger: 'embedded',
  })
    .setProtectedHeader({ alg: RECEIPT_ALG, kid: 'r1', typ: RECEIPT_TYPE })
    .sign(privateKey);
  const bundle: ProofBundle = {
    version: BUNDLE_VERSION,
    record,
    details: { salt: '0'.repeat(32), amount: String(i * 100) },
    receipt,
    inclusion: {
      index: i,
      size: frontier.size,
      path: (await generateInclusionProof(store, i, frontier.size)).map(toHex),
      checkpoint: note,
    },
  };
  const options = { sha256: record.digests.sha256, keys: { jwks, checkpointKeys } };
  const check = await verifyBundle(bundle, options);
  if (!check.ok) throw new Error(`the bench bundle does not verify: ${JSON.stringify(check.steps)}`);

  const rates = await measureRates(ctx, {
    es256: async () => {
      for (let k = 0; k < 50; k++) await compactVerify(receipt, publicKey);
      return 50;
    },
    bundle: async () => {
      for (let k = 0; k < 50; k++) await verifyBundle(bundle, options);
      return 50;
    },
  });
  const bundleMs = 1000 / rates.bundle;
  const baseline = { name: 'one ES256 verify (jose)', value: 1000 / rates.es256, unit: 'ms' };
  return [
    { name: baseline.name, value: baseline.value, unit: 'ms' },
    {
      ...compare({ name: 'verifyBundle, no network steps', value: bundleMs, unit: 'ms/bundle' }, baseline),
      target: '≤ 1 ms/bundle',
      meetsTarget: bundleMs <= 1,
    },
  ];
}

async function streamingThroughput(ctx: BenchContext): Promise<BenchResult[]> {
  // Large enough to leave the CPU caches, small enough for many operations per timed round.
  const size = (ctx.quick ? 8 : 32) * 1024 * 1024;
  const chunk = 64 * 1024;
  const data = randomBytes(size);
  const rates = await measureRates(
    ctx,
    {
      oneShot: () => {
        hash('sha256', data, 'buffer');
        return size / 1e6;
      },
      streamed: () => {
        const h = createSha256();
        for (let at = 0; at < size; at += chunk) h.update(data.subarray(at, at + chunk));
        h.digest();
        return size / 1e6;
      },
    },
    { durationMs: ctx.quick ? 600 : 4000, rounds: ctx.quick ? 3 : 9 },
  );
  const oneShot = rates.oneShot;
  const streamed = rates.streamed;
  const baseline = { name: 'node:crypto one-shot SHA-256', value: oneShot, unit: 'MB/s' };
  const browserSize = Math.min(size, 16 * 1024 * 1024);
  const browser = await measureRate(
    ctx,
    () => {
      const h = browserSha256();
      for (let at = 0; at < browserSize; at += chunk) h.update(data.subarray(at, at + chunk));
      h.digest();
      return browserSize / 1e6;
    },
    { durationMs: ctx.quick ? 400 : 1500, rounds: 3 },
  );
  return [
    { name: baseline.name, value: oneShot, unit: 'MB/s' },
    {
      ...compare({ name: 'createSha256 streaming, 64 KiB chunks', value: streamed, unit: 'MB/s' }, baseline),
      target: '≥ 90% of one-shot',
      meetsTarget: streamed >= 0.9 * oneShot,
    },
    compare(
      { name: 'browser impl (@noble/hashes) streaming, in Node', value: browser, unit: 'MB/s' },
      baseline,
    ),
  ];
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  ctx.log('log append');
  const append = await appendRate(ctx);
  ctx.log('verifyBundle');
  const bundle = await bundleCost(ctx);
  ctx.log('streaming SHA-256');
  const stream = await streamingThroughput(ctx);
  return [...append, ...bundle, ...stream];
}
