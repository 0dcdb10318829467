// Test support: a small log with real keys, and proof bundles built the way the gateway builds
// them. Not exported from the package.
import { exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from 'jose';
import { BUNDLE_VERSION, type ProofBundle } from './bundle.ts';
import { deriveNotePublicKey, formatCheckpoint, noteVerifierKey, signCheckpoint } from './checkpoint.ts';
import { cidFromSha256, sha256 } from './digest.ts';
import { toHex } from './encoding.ts';
import { appendLeavesWithSubtrees, emptyFrontier, type Frontier, frontierRoot } from './merkle.ts';
import { generateConsistencyProof, generateInclusionProof, MemorySubtreeStore } from './merkle-proof.ts';
import {
  buildReceiptGroup,
  RECEIPT_ALG,
  RECEIPT_GROUP_TYPE,
  RECEIPT_TYPE,
  type ReceiptClaims,
  type ReceiptItemClaims,
} from './receipt.ts';
import { detailsDigest, type EvidenceRecord, type RecordDetails, recordLeafHash } from './record.ts';

export interface Fixture {
  jwks: JSONWebKeySet;
  checkpointKeys: string[];
  signReceipt(claims: ReceiptClaims, header?: Record<string, unknown>): Promise<string>;
  checkpointSeed: Uint8Array;
  origin: string;
}

export async function makeFixture(): Promise<Fixture> {
  const { publicKey, privateKey } = await generateKeyPair(RECEIPT_ALG, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'receipt-1', alg: RECEIPT_ALG, use: 'sig' };
  const checkpointSeed = sha256(new TextEncoder().encode('fixture checkpoint key'));
  const origin = 'lianzheng.test/log';
  return {
    jwks: { keys: [jwk] },
    checkpointKeys: [noteVerifierKey(origin, deriveNotePublicKey(checkpointSeed))],
    checkpointSeed,
    origin,
    signReceipt: (claims, header = {}) =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: RECEIPT_ALG, kid: 'receipt-1', typ: RECEIPT_TYPE, ...header })
        .sign(privateKey),
  };
}

export function makeRecord(i: number, document: Uint8Array, details: RecordDetails): EvidenceRecord {
  const digest = sha256(document);
  return {
    v: 1,
    id: `0190a1b2-c3d4-7e5f-8a6b-${i.toString(16).padStart(12, '0')}`,
    projectId: 'P-620102-0001',
    kind: 'contract',
    digests: { sha256: toHex(digest) },
    cid: cidFromSha256(digest),
    visibility: 'public',
    submitter: { org: 'org-housing-bureau' },
    acceptedAt: '2026-03-01T08:00:00.000Z',
    detailsDigest: detailsDigest(details),
  };
}

export interface LogFixture {
  store: MemorySubtreeStore;
  frontiers: Frontier[];
  records: EvidenceRecord[];
  details: RecordDetails[];
  documents: Uint8Array[];
}

/** A log of `n` records; `frontiers[k]` is the frontier at size k. */
export function makeLog(n: number): LogFixture {
  const store = new MemorySubtreeStore();
  const frontiers = [emptyFrontier()];
  const records: EvidenceRecord[] = [];
  const details: RecordDetails[] = [];
  const documents: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const doc = new TextEncoder().encode(`document ${i}`);
    const d: RecordDetails = {
      salt: toHex(sha256(doc)).slice(0, 32),
      title: `合同 ${i}`,
      amount: String(1000 * i),
    };
    const record = makeRecord(i, doc, d);
    const { frontier, subtrees } = appendLeavesWithSubtrees(frontiers[i]!, [recordLeafHash(record)]);
    store.add(subtrees);
    frontiers.push(frontier);
    records.push(record);
    details.push(d);
    documents.push(doc);
  }
  return { store, frontiers, records, details, documents };
}

/** A complete bundle for record `i`, proved at `size`, ledger at `size`, anchored at `anchorSize`. */
export async function makeBundle(
  fx: Fixture,
  log: LogFixture,
  i: number,
  size: number,
  anchorSize: number,
): Promise<ProofBundle> {
  const record = log.records[i]!;
  const root = frontierRoot(log.frontiers[size]!);
  const note = await signCheckpoint(formatCheckpoint({ origin: fx.origin, size, rootHash: root }), {
    name: fx.origin,
    privateKey: fx.checkpointSeed,
  });
  const receipt = await fx.signReceipt({
    iss: 'https://gateway.test',
    sub: record.id,
    iat: 1_772_352_000,
    sha256: record.digests.sha256,
    cid: record.cid,
    projectId: record.projectId,
    kind: record.kind,
    leaf: toHex(recordLeafHash(record)),
    ledger: 'embedded',
  });
  const anchorRoot = frontierRoot(log.frontiers[anchorSize]!);
  return {
    version: BUNDLE_VERSION,
    record,
    details: log.details[i]!,
    receipt,
    inclusion: {
      index: i,
      size,
      path: (await generateInclusionProof(log.store, i, size)).map(toHex),
      checkpoint: note,
    },
    ledger: {
      network: 'embedded',
      txId: `tx-${size}`,
      block: 7,
      size,
      root: toHex(root),
      note: 'embedded single-node ledger',
    },
    anchor: {
      chainId: 'eip155:31337',
      contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
      txHash: `0x${'ab'.repeat(32)}`,
      block: 42,
      size: anchorSize,
      root: toHex(anchorRoot),
      consistency: (await generateConsistencyProof(log.store, size, anchorSize)).map(toHex),
    },
  };
}

/** A record's own claims in a group receipt, as the gateway states them. */
export function receiptItemOf(r: EvidenceRecord): ReceiptItemClaims {
  return {
    sub: r.id,
    sha256: r.digests.sha256,
    cid: r.cid,
    projectId: r.projectId,
    kind: r.kind,
    leaf: toHex(recordLeafHash(r)),
  };
}

/** Group receipts for `records` (in order), signed once, as the gateway signs one group commit. */
export async function makeGroupReceipts(fx: Fixture, records: EvidenceRecord[]): Promise<string[]> {
  const group = buildReceiptGroup(records.map(receiptItemOf));
  const signed = group.claims({ iss: 'https://gateway.test', iat: 1_772_352_000, ledger: 'embedded' });
  const jws = await fx.signReceipt(signed as unknown as ReceiptClaims, { typ: RECEIPT_GROUP_TYPE });
  return group.items.map((item) => `${jws}~${item}`);
}
