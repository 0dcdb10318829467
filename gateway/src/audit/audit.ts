import {
  appendLeavesWithSubtrees,
  canonicalJson,
  cidFromSha256,
  decodeReceipt,
  detailsDigest,
  type EvidenceRecord,
  emptyFrontier,
  type Frontier,
  fromHex,
  frontierRoot,
  isSha256Hex,
  type JSONWebKeySet,
  leafHash,
  parseCheckpoint,
  type SubtreeHash,
  toHex,
  verifyCheckpoint,
  verifyReceipt,
  wholeReceipt,
} from '@lianzheng/proof';
import type pg from 'pg';
import {
  countSubmissions,
  idsOfLeaves,
  idsOfSeqs,
  leavesPage,
  type StoredSubmissionRow,
  staleQueued,
  submissionsOfSeqs,
} from '../intake/submission-store.ts';
import { readFrontier, storedLeafHash } from '../log/log-store.ts';
import { readSubtreeMap } from '../log/subtree-store.ts';
import { allBatches, allCheckpoints, type BatchRow } from '../seal/batch-store.ts';
import { type LedgerAuditSource, type LedgerRecordEntry, pgEmbeddedLedgerSource } from './ledger-source.ts';
import { replayEmbeddedLedger } from './replay.ts';

// `lianzheng audit`: reconciles what the gateway keeps in PostgreSQL with itself and with the
// ledger, from the stored bytes up, trusting no derived column:
//
//   submissions  every recorded row's record_json is canonical, names the row's id, digest,
//                project and kind, its CID and details digest match, and its receipt claims (and,
//                with keys, signature) match the record
//   log          leaf i is H(0x00‖record_json) of the submission with leaf_index i, for every i
//                below the recorded size, in acceptance (seq) order; every stored complete
//                subtree and the frontier equal what the leaves recompute; no recorded or
//                rejected submission is still queued for sealing
//   checkpoints  every recorded batch has a checkpoint; its root equals the recomputed root, its
//                note says the same size and root and (with keys) its signature verifies
//   ledger       every recorded record is on the ledger with the same bytes and index and nothing
//                else is; the ledger's checkpoints and head equal the log's; every batch's
//                transaction is in a block that recorded that size and root; the blocks' hash
//                chain links (embedded ledger)
//
// Each difference has a stable code. A batch that is sealed and in flight (the ledger may be
// ahead of the gateway by exactly that batch after a crash) is not a difference.

export type AuditCode =
  | 'SUBMISSION_UNPARSEABLE'
  | 'RECORD_NOT_CANONICAL'
  | 'RECORD_ID_MISMATCH'
  | 'RECORD_FIELD_MISMATCH'
  | 'DIGEST_MISMATCH'
  | 'CID_MISMATCH'
  | 'DETAILS_MISMATCH'
  | 'RECEIPT_MISMATCH'
  | 'RECEIPT_INVALID'
  | 'STALE_IN_QUEUE'
  | 'REJECTED_WITH_LEAF'
  | 'LEAF_BEYOND_LOG'
  | 'LEAF_MISSING'
  | 'LEAF_ORDER'
  | 'LEAF_HASH_MISMATCH'
  | 'SUBTREE_MISSING'
  | 'SUBTREE_MISMATCH'
  | 'FRONTIER_MISMATCH'
  | 'LOG_BEHIND'
  | 'BATCH_GAP'
  | 'BATCH_ROOT_MISMATCH'
  | 'CHECKPOINT_MISSING'
  | 'CHECKPOINT_ROOT_MISMATCH'
  | 'CHECKPOINT_NOTE_MISMATCH'
  | 'CHECKPOINT_SIGNATURE_INVALID'
  | 'CHECKPOINT_UNBACKED'
  | 'LEDGER_RECORD_MISSING'
  | 'LEDGER_RECORD_MISMATCH'
  | 'LEDGER_INDEX_MISMATCH'
  | 'LEDGER_RECORD_UNKNOWN'
  | 'LEDGER_CHECKPOINT_MISSING'
  | 'LEDGER_CHECKPOINT_MISMATCH'
  | 'LEDGER_CHECKPOINT_UNKNOWN'
  | 'LEDGER_HEAD_MISMATCH'
  | 'LEDGER_AHEAD'
  | 'LEDGER_TX_MISSING'
  | 'LEDGER_TX_MISMATCH'
  | 'BLOCK_CHAIN_BROKEN'
  | 'BLOCK_PAYLOAD_MISMATCH'
  | 'BLOCK_REPLAY_FAILED'
  | 'BLOCK_DATA_MISMATCH'
  | 'WORLD_STATE_MISMATCH';

export interface AuditDifference {
  code: AuditCode;
  /** What the difference is about: `submission <id>`, `leaf 12`, `checkpoint 40`, `block 7`, … */
  subject: string;
  detail: string;
}

export interface AuditReport {
  ok: boolean;
  differences: AuditDifference[];
  /** Differences beyond `maxDifferences` are counted, not listed. */
  omitted: number;
  counts: {
    submissions: number;
    recorded: number;
    leaves: number;
    checkpoints: number;
    batches: number;
    ledgerRecords: number;
    blocks: number;
  };
  /** What was not checked and why (no keys, no ledger source, …): never a silent pass. */
  skipped: string[];
  /**
   * The sealed batches in flight, if any (one, or two while a pipelined sealer confirms one and
   * records the next): their leaves are checked, the ledger may or may not have them.
   */
  inFlight?: { fromSize: number; toSize: number };
}

export interface AuditOptions {
  /** Checkpoint verifier keys (C2SP vkeys); without them note signatures are not checked. */
  checkpointKeys?: string[];
  /** The receipt JWKS; without it receipt signatures are not checked (claims still are). */
  jwks?: JSONWebKeySet;
  /** The ledger to reconcile with; defaults to the embedded ledger's tables in the same database. */
  ledger?: LedgerAuditSource | false;
  /** Rows per query when walking the log (memory stays bounded for any log size). */
  pageSize?: number;
  /** Stop listing after this many differences (they are still counted). */
  maxDifferences?: number;
  /**
   * Replay the embedded ledger's blocks through the contract in memory: every block's data hash
   * and the whole world state are recomputed (memory grows with the world state).
   */
  replay?: boolean;
}

const encoder = new TextEncoder();

class Collector {
  readonly differences: AuditDifference[] = [];
  omitted = 0;
  constructor(private readonly max: number) {}
  add(code: AuditCode, subject: string, detail: string): void {
    if (this.differences.length < this.max) this.differences.push({ code, subject, detail });
    else this.omitted++;
  }
  get total(): number {
    return this.differences.length + this.omitted;
  }
}

/** Checks one submission row on its own; returns its leaf hash (or undefined if unusable). */
async function checkSubmission(
  row: StoredSubmissionRow,
  out: Collector,
  jwks: JSONWebKeySet | undefined,
): Promise<Uint8Array | undefined> {
  const subject = `submission ${row.id}`;
  let record: EvidenceRecord;
  try {
    record = JSON.parse(row.record_json) as EvidenceRecord;
  } catch {
    out.add('SUBMISSION_UNPARSEABLE', subject, 'record_json is not JSON');
    return undefined;
  }
  let canonical: string | undefined;
  try {
    canonical = canonicalJson(record);
  } catch {
    canonical = undefined;
  }
  if (canonical !== row.record_json) {
    out.add('RECORD_NOT_CANONICAL', subject, 'record_json is not the canonical JSON of the record');
  }
  if (record?.id !== row.id)
    out.add('RECORD_ID_MISMATCH', subject, `record_json names ${String(record?.id)}`);
  if (record?.projectId !== row.project_id || record?.kind !== row.kind) {
    out.add(
      'RECORD_FIELD_MISMATCH',
      subject,
      `columns say ${row.project_id}/${row.kind}, the record ${String(record?.projectId)}/${String(record?.kind)}`,
    );
  }
  const digest = record?.digests?.sha256;
  if (digest !== row.sha256) {
    out.add('DIGEST_MISMATCH', subject, `column sha256 ${row.sha256}, record ${String(digest)}`);
  }
  if (typeof digest !== 'string' || !isSha256Hex(digest) || cidFromSha256(fromHex(digest)) !== record.cid) {
    out.add('CID_MISMATCH', subject, 'the CID is not the CIDv1 of the record digest');
  }
  try {
    if (detailsDigest(JSON.parse(row.details_json)) !== record.detailsDigest) {
      out.add('DETAILS_MISMATCH', subject, 'details_json does not hash to the record detailsDigest');
    }
  } catch {
    out.add('DETAILS_MISMATCH', subject, 'details_json cannot be canonicalised');
  }
  const leaf = leafHash(encoder.encode(row.record_json));
  const claims = decodeReceipt(row.receipt);
  if (
    !claims ||
    claims.sub !== row.id ||
    claims.sha256 !== digest ||
    claims.leaf !== toHex(leaf) ||
    claims.projectId !== record.projectId ||
    claims.kind !== record.kind
  ) {
    out.add('RECEIPT_MISMATCH', subject, 'the receipt claims do not match the stored record');
  } else if (jwks) {
    try {
      await verifyReceipt(row.receipt, jwks);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'ERROR';
      out.add('RECEIPT_INVALID', subject, `the receipt signature does not verify (${code})`);
    }
  }
  // The SM2 receipt beside it (CRYPTO_SUITE dual) states the same claims and verifies too.
  if (row.receipt_sm2 !== null && row.receipt_sm2 !== undefined) {
    // Stored detached when it shares the ES256 receipt's payload and item: checked whole.
    const sm2Receipt = wholeReceipt(row.receipt_sm2, row.receipt);
    const sm2Claims = decodeReceipt(sm2Receipt);
    if (!sm2Claims || canonicalJson(sm2Claims) !== canonicalJson(claims ?? {})) {
      out.add('RECEIPT_MISMATCH', subject, 'the SM2 receipt claims differ from the receipt');
    } else if (jwks) {
      try {
        await verifyReceipt(sm2Receipt, jwks);
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'ERROR';
        out.add('RECEIPT_INVALID', subject, `the SM2 receipt signature does not verify (${code})`);
      }
    }
  }
  return leaf;
}

/**
 * Walks leaves in order, appending them to a frontier and comparing every completed subtree with
 * the stored one, and computing the root at every size in `rootSizes`.
 */
class LogRebuilder {
  frontier: Frontier = emptyFrontier();
  readonly roots = new Map<number, Uint8Array>();
  private readonly rootSizes: number[];
  private next = 0;
  constructor(
    private readonly db: pg.Pool,
    rootSizes: Iterable<number>,
    private readonly out: Collector,
  ) {
    this.rootSizes = [...new Set(rootSizes)].sort((a, b) => a - b);
    while (this.rootSizes[this.next] === 0) this.next++;
  }

  async append(leaves: Uint8Array[]): Promise<void> {
    let offset = 0;
    const subtrees: SubtreeHash[] = [];
    while (offset < leaves.length) {
      const target = this.rootSizes[this.next];
      const take =
        target !== undefined && target - this.frontier.size <= leaves.length - offset
          ? target - this.frontier.size
          : leaves.length - offset;
      const step = appendLeavesWithSubtrees(this.frontier, leaves.slice(offset, offset + take));
      this.frontier = step.frontier;
      subtrees.push(...step.subtrees);
      offset += take;
      if (target !== undefined && this.frontier.size === target) {
        this.roots.set(target, frontierRoot(this.frontier));
        this.next++;
      }
    }
    await this.compareSubtrees(subtrees);
  }

  private async compareSubtrees(subtrees: SubtreeHash[]): Promise<void> {
    if (subtrees.length === 0) return;
    const stored = await readSubtreeMap(this.db, subtrees);
    for (const s of subtrees) {
      const hash = stored.get(`${s.level}:${s.index}`);
      const subject = s.level === 0 ? `leaf ${s.index}` : `subtree ${s.level}/${s.index}`;
      if (!hash) this.out.add('SUBTREE_MISSING', subject, 'not stored in log_tiles');
      else if (!Buffer.from(s.hash).equals(hash)) {
        this.out.add(
          s.level === 0 ? 'LEAF_HASH_MISMATCH' : 'SUBTREE_MISMATCH',
          subject,
          `stored ${toHex(hash)}, recomputed ${toHex(s.hash)}`,
        );
      }
    }
  }
}

/**
 * Reconciles the gateway's PostgreSQL with itself and with the ledger. Read-only: it runs in one
 * repeatable-read snapshot, so a gateway running beside it cannot make it see half a batch.
 */
export async function auditDatabase(pool: pg.Pool, options: AuditOptions = {}): Promise<AuditReport> {
  const client = await pool.connect();
  try {
    await client.query('begin transaction isolation level repeatable read read only');
    const snapshot = client as unknown as pg.Pool;
    const report = await audit(snapshot, options);
    await client.query('commit');
    return report;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** The audit's one pass, in the order its differences are listed. */
async function audit(db: pg.Pool, options: AuditOptions): Promise<AuditReport> {
  const out = new Collector(options.maxDifferences ?? 1000);
  const pageSize = options.pageSize ?? 5000;
  const skipped: string[] = [];
  if (!options.checkpointKeys?.length) skipped.push('checkpoint signatures: no verifier key given');
  if (!options.jwks) skipped.push('receipt signatures: no JWKS given');

  // The batches decide the recorded size: leaves below it must all be recorded submissions.
  const batches = await allBatches(db);
  const { recordedSize, inFlight } = checkBatchChain(batches, out);
  const lastInFlight = inFlight[inFlight.length - 1];
  const frontier = await readFrontier(db);
  const sealedSize = lastInFlight ? Number(lastInFlight.to_size) : recordedSize;
  if (frontier.size !== sealedSize) {
    out.add('LOG_BEHIND', 'log_state', `log_state says ${frontier.size} leaves, the batches ${sealedSize}`);
  }

  const checkpoints = await allCheckpoints(db);
  const rootSizes = [
    ...checkpoints.map((c) => Number(c.size)),
    ...batches.map((b) => Number(b.to_size)),
    sealedSize,
  ];
  const rebuilder = new LogRebuilder(db, rootSizes, out);
  const ledger = options.ledger === false ? undefined : (options.ledger ?? pgEmbeddedLedgerSource(db));
  if (!ledger) skipped.push('ledger: no ledger source');

  const walked = await walkRecordedLeaves(db, {
    out,
    rebuilder,
    ledger,
    recordedSize,
    pageSize,
    jwks: options.jwks,
  });
  await checkQueue(db, out);
  for (const batch of inFlight) await rebuildInFlight(db, batch, { out, rebuilder, jwks: options.jwks });
  const counts = {
    submissions: await countSubmissions(db),
    recorded: walked.recordedIds.length,
    leaves: rebuilder.frontier.size,
    checkpoints: checkpoints.length,
    batches: batches.length,
  };

  // The frontier kept for restarts must be the one the leaves make.
  if (
    frontier.size === rebuilder.frontier.size &&
    frontier.hashes.map(toHex).join() !== rebuilder.frontier.hashes.map(toHex).join()
  ) {
    out.add('FRONTIER_MISMATCH', 'log_state', 'the stored frontier is not the one the leaves make');
  }
  checkBatchRoots(batches, checkpoints, rebuilder.roots, out);
  await checkCheckpoints(checkpoints, batches, rebuilder.roots, out, options.checkpointKeys);

  let ledgerRecords = 0;
  let blocks = 0;
  if (ledger) {
    const result = await auditLedger(ledger, {
      db,
      out,
      batches,
      checkpoints: checkpoints.map((c) => ({ size: Number(c.size), root: c.root.toString('hex') })),
      recordedSize,
      inFlight: lastInFlight
        ? { from: recordedSize, to: sealedSize, ends: inFlight.map((b) => Number(b.to_size)) }
        : undefined,
      roots: rebuilder.roots,
      recordedIds: new Set(walked.recordedIds),
      inFlightIds: lastInFlight
        ? await idsOfSeqs(
            db,
            inFlight.flatMap((b) => b.seqs),
          )
        : new Set(),
      pageSize,
    });
    ledgerRecords = result.records;
    blocks = result.blocks;
    skipped.push(...result.skipped);
    skipped.push(...(await replayIfAsked(db, ledger, options.replay === true, out)));
  }

  return {
    ok: out.total === 0,
    differences: out.differences,
    omitted: out.omitted,
    counts: { ...counts, ledgerRecords, blocks },
    skipped,
    ...(lastInFlight ? { inFlight: { fromSize: recordedSize, toSize: sealedSize } } : {}),
  };
}

/** Sealed batches a sealer leaves in flight at most: one being confirmed, the next being recorded. */
const MAX_IN_FLIGHT = 2;

/**
 * The batches must follow each other without a gap, all recorded but at most the last two,
 * which may be sealed and in flight (seal/batcher.ts, pipelined). Returns the recorded size and
 * the batches in flight, in order.
 */
function checkBatchChain(
  batches: BatchRow[],
  out: Collector,
): { recordedSize: number; inFlight: BatchRow[] } {
  let recordedSize = 0;
  let end = 0;
  const inFlight: BatchRow[] = [];
  for (const b of batches) {
    const from = Number(b.from_size);
    const to = Number(b.to_size);
    if (from !== end) {
      out.add('BATCH_GAP', `batch ${from}`, `starts at ${from}, the previous batch ended at ${end}`);
    }
    if (b.status === 'sealed') {
      if (inFlight.length === MAX_IN_FLIGHT)
        out.add('BATCH_GAP', `batch ${from}`, `more than ${MAX_IN_FLIGHT} sealed batches`);
      inFlight.push(b);
    } else if (inFlight.length > 0) {
      out.add('BATCH_GAP', `batch ${from}`, 'a recorded batch after a sealed one');
    }
    recordedSize = b.status === 'recorded' ? to : recordedSize;
    end = to;
  }
  return { recordedSize, inFlight };
}

/**
 * Walks the recorded leaves in order, page by page: each leaf's submission is checked on its own
 * and against the ledger, and its leaf hash rebuilds the log. A leaf index no submission has is
 * rebuilt from the stored leaf hash. Returns the ids of the recorded submissions.
 */
async function walkRecordedLeaves(
  db: pg.Pool,
  c: {
    out: Collector;
    rebuilder: LogRebuilder;
    ledger: LedgerAuditSource | undefined;
    recordedSize: number;
    pageSize: number;
    jwks: JSONWebKeySet | undefined;
  },
): Promise<{ recordedIds: string[] }> {
  const { out, rebuilder, ledger, recordedSize, pageSize } = c;
  const recordedIds: string[] = [];
  let expected = 0;
  let lastSeq = -1n;
  const ledgerPage = async (rows: StoredSubmissionRow[]) => {
    if (!ledger || rows.length === 0) return;
    const found = await ledger.records(rows.map((r) => r.id));
    for (const row of rows) compareWithLedger(row, found.get(row.id), out);
  };
  for (;;) {
    const rows = await leavesPage(db, expected, pageSize);
    if (rows.length === 0) break;
    const leaves: Uint8Array[] = [];
    const onLedger: StoredSubmissionRow[] = [];
    for (const row of rows) {
      const index = Number(row.leaf_index);
      if (index >= recordedSize) {
        out.add(
          'LEAF_BEYOND_LOG',
          `submission ${row.id}`,
          `leaf_index ${index} ≥ recorded size ${recordedSize}`,
        );
        continue;
      }
      while (expected < index) {
        out.add('LEAF_MISSING', `leaf ${expected}`, 'no submission has this leaf index');
        leaves.push(await storedLeafHash(db, expected));
        expected++;
      }
      if (row.status === 'rejected') {
        out.add('REJECTED_WITH_LEAF', `submission ${row.id}`, `rejected, with leaf_index ${index}`);
      }
      const seq = BigInt(row.seq);
      if (seq <= lastSeq) {
        out.add('LEAF_ORDER', `leaf ${index}`, `accepted (seq ${seq}) before the leaf in front of it`);
      }
      lastSeq = seq;
      const leaf = await checkSubmission(row, out, c.jwks);
      leaves.push(leaf ?? new Uint8Array(32));
      onLedger.push(row);
      recordedIds.push(row.id);
      expected = index + 1;
    }
    await rebuilder.append(leaves);
    await ledgerPage(onLedger);
    if (rows.length < pageSize) break;
  }
  while (expected < recordedSize) {
    out.add('LEAF_MISSING', `leaf ${expected}`, 'no submission has this leaf index');
    await rebuilder.append([await storedLeafHash(db, expected)]);
    expected++;
  }
  return { recordedIds };
}

/** Nothing recorded or rejected may still be queued for sealing. */
async function checkQueue(db: pg.Pool, out: Collector): Promise<void> {
  for (const r of await staleQueued(db)) {
    out.add('STALE_IN_QUEUE', `submission ${r.id}`, `still queued for sealing, though ${r.status}`);
  }
}

/** The leaves of the batch in flight (its seqs in leaf order), checked and appended to the log. */
async function rebuildInFlight(
  db: pg.Pool,
  inFlight: BatchRow,
  c: { out: Collector; rebuilder: LogRebuilder; jwks: JSONWebKeySet | undefined },
): Promise<void> {
  const rows = await submissionsOfSeqs(db, inFlight.seqs);
  const width = Number(inFlight.to_size) - Number(inFlight.from_size);
  if (rows.length !== width) {
    c.out.add(
      'LEAF_MISSING',
      `batch ${inFlight.from_size}`,
      `${width} leaves sealed, ${rows.length} submissions found`,
    );
  }
  const leaves: Uint8Array[] = [];
  for (const row of rows) leaves.push((await checkSubmission(row, c.out, c.jwks)) ?? new Uint8Array(32));
  while (leaves.length < width) leaves.push(new Uint8Array(32));
  await c.rebuilder.append(leaves.slice(0, width));
}

type CheckpointRow = Awaited<ReturnType<typeof allCheckpoints>>[number];

/** Every batch's root is the recomputed one, and every recorded batch has its checkpoint. */
function checkBatchRoots(
  batches: BatchRow[],
  checkpoints: CheckpointRow[],
  roots: Map<number, Uint8Array>,
  out: Collector,
): void {
  const checkpointSizes = new Set(checkpoints.map((c) => Number(c.size)));
  for (const b of batches) {
    const to = Number(b.to_size);
    const root = roots.get(to);
    if (root && !Buffer.from(root).equals(b.root)) {
      out.add(
        'BATCH_ROOT_MISMATCH',
        `batch ${b.from_size}`,
        `stored root ${b.root.toString('hex')}, recomputed ${toHex(root)}`,
      );
    }
    if (b.status === 'recorded' && !checkpointSizes.has(to)) {
      out.add(
        'CHECKPOINT_MISSING',
        `checkpoint ${to}`,
        `batch ${b.from_size}..${to} is recorded without a checkpoint`,
      );
    }
  }
}

/**
 * Every checkpoint ends a recorded batch, has the recomputed root, says its own size and root in
 * its note and (with keys) is signed.
 */
async function checkCheckpoints(
  checkpoints: CheckpointRow[],
  batches: BatchRow[],
  roots: Map<number, Uint8Array>,
  out: Collector,
  checkpointKeys: string[] | undefined,
): Promise<void> {
  const batchEnds = new Set(batches.filter((b) => b.status === 'recorded').map((b) => Number(b.to_size)));
  for (const c of checkpoints) {
    const size = Number(c.size);
    const subject = `checkpoint ${size}`;
    const root = roots.get(size);
    if (!batchEnds.has(size)) out.add('CHECKPOINT_UNBACKED', subject, 'no recorded batch ends at this size');
    if (!root) {
      out.add('CHECKPOINT_ROOT_MISMATCH', subject, 'beyond the leaves the log holds');
    } else if (!Buffer.from(root).equals(c.root)) {
      out.add(
        'CHECKPOINT_ROOT_MISMATCH',
        subject,
        `stored ${c.root.toString('hex')}, recomputed ${toHex(root)}`,
      );
    }
    try {
      const parsed = parseCheckpoint(c.note);
      if (parsed.size !== size || !Buffer.from(parsed.rootHash).equals(c.root)) {
        out.add(
          'CHECKPOINT_NOTE_MISMATCH',
          subject,
          `the note says ${parsed.size}/${toHex(parsed.rootHash)}`,
        );
      }
      if (checkpointKeys?.length) await verifyCheckpoint(c.note, checkpointKeys);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'ERROR';
      out.add(
        code === 'BAD_NOTE' || code === 'BAD_CHECKPOINT'
          ? 'CHECKPOINT_NOTE_MISMATCH'
          : 'CHECKPOINT_SIGNATURE_INVALID',
        subject,
        `the signed note does not verify (${code})`,
      );
    }
  }
}

/** Replays the embedded ledger's blocks when asked; returns what was skipped and why. */
async function replayIfAsked(
  db: pg.Pool,
  ledger: LedgerAuditSource,
  replay: boolean,
  out: Collector,
): Promise<string[]> {
  if (replay && ledger.kind === 'embedded') {
    await replayEmbeddedLedger(db, { add: (d) => out.add(d.code, d.subject, d.detail) });
    return [];
  }
  if (ledger.kind === 'embedded') return ['block data hashes and world state: not replayed (use --replay)'];
  if (replay) {
    return [
      'replay: the Fabric peers execute and validate every block themselves (--replay is for the embedded ledger)',
    ];
  }
  return [];
}

function compareWithLedger(
  row: StoredSubmissionRow,
  onLedger: LedgerRecordEntry | undefined,
  out: Collector,
): void {
  const subject = `submission ${row.id}`;
  if (!onLedger) {
    out.add('LEDGER_RECORD_MISSING', subject, 'recorded in PostgreSQL but not on the ledger');
    return;
  }
  if (onLedger.recordJson !== row.record_json) {
    out.add('LEDGER_RECORD_MISMATCH', subject, 'the ledger holds different record bytes');
  }
  if (onLedger.index !== Number(row.leaf_index)) {
    out.add('LEDGER_INDEX_MISMATCH', subject, `leaf_index ${row.leaf_index}, ledger index ${onLedger.index}`);
  }
}

interface LedgerAuditContext {
  db: pg.Pool;
  out: Collector;
  batches: BatchRow[];
  checkpoints: { size: number; root: string }[];
  recordedSize: number;
  /** The leaves in flight, `from` … `to - 1`, and where each sealed batch among them ends. */
  inFlight?: { from: number; to: number; ends: number[] };
  roots: Map<number, Uint8Array>;
  recordedIds: Set<string>;
  inFlightIds: Set<string>;
  pageSize: number;
}

async function auditLedger(
  ledger: LedgerAuditSource,
  c: LedgerAuditContext,
): Promise<{ records: number; blocks: number; skipped: string[] }> {
  const { out } = c;
  const skipped: string[] = [];
  // The ledger's head may be ahead of the gateway by the batches in flight, never more.
  const head = await ledger.head();
  const headSize = head?.size ?? 0;
  const allowed = [c.recordedSize, ...(c.inFlight?.ends ?? [])];
  if (!allowed.includes(headSize)) {
    out.add(
      headSize > c.recordedSize ? 'LEDGER_AHEAD' : 'LEDGER_HEAD_MISMATCH',
      'ledger head',
      `the ledger's log has ${headSize} leaves, the gateway recorded ${c.recordedSize}`,
    );
  } else if (head) {
    const ours = c.roots.get(headSize);
    if (headSize > 0 && (!ours || toHex(ours) !== head.root)) {
      out.add('LEDGER_HEAD_MISMATCH', 'ledger head', `the ledger's root at ${headSize} is ${head.root}`);
    }
    if (!head.consistent)
      out.add('LEDGER_HEAD_MISMATCH', 'ledger head', "the head's root is not its frontier's");
  }

  const theirs = await ledger.checkpoints();
  const ours = new Map(c.checkpoints.map((cp) => [cp.size, cp.root]));
  for (const [size, root] of ours) {
    const other = theirs.get(size);
    if (other === undefined) out.add('LEDGER_CHECKPOINT_MISSING', `checkpoint ${size}`, 'not on the ledger');
    else if (other !== root)
      out.add('LEDGER_CHECKPOINT_MISMATCH', `checkpoint ${size}`, `the ledger says ${other}`);
  }
  for (const [size, root] of theirs) {
    if (ours.has(size) || c.inFlight?.ends.includes(size)) continue;
    out.add('LEDGER_CHECKPOINT_UNKNOWN', `checkpoint ${size}`, `the ledger has ${root}, the gateway nothing`);
  }

  // Every record on the ledger must be a recorded submission (or one of the batches in flight).
  let records = 0;
  for await (const page of ledger.recordIds(c.pageSize)) {
    for (const { id, index } of page) {
      records++;
      if (c.recordedIds.has(id)) continue;
      if (c.inFlightIds.has(id) && c.inFlight && index >= c.inFlight.from && index < c.inFlight.to) continue;
      out.add(
        'LEDGER_RECORD_UNKNOWN',
        `ledger record ${id}`,
        `on the ledger at index ${index}, not recorded in PostgreSQL`,
      );
    }
  }

  // Each recorded batch's transaction recorded that size and root.
  for (const b of c.batches) {
    if (b.status !== 'recorded') continue;
    const subject = `batch ${b.from_size}`;
    if (!b.tx_id) {
      out.add('LEDGER_TX_MISSING', subject, 'recorded without a transaction id');
      continue;
    }
    const tx = await ledger.tx(b.tx_id);
    if (!tx) {
      out.add('LEDGER_TX_MISSING', subject, `transaction ${b.tx_id} is not on the ledger`);
      continue;
    }
    if (
      tx.size !== Number(b.to_size) ||
      tx.root !== b.root.toString('hex') ||
      (b.block !== null && tx.block !== Number(b.block))
    ) {
      out.add(
        'LEDGER_TX_MISMATCH',
        subject,
        `transaction ${b.tx_id} recorded ${tx.size}/${tx.root} in block ${tx.block}`,
      );
    }
    if (tx.recordIds) {
      const ids = await idsOfLeaves(c.db, b.from_size, b.to_size);
      if (ids.join() !== tx.recordIds.join()) {
        out.add(
          'BLOCK_PAYLOAD_MISMATCH',
          `block ${tx.block}`,
          'its records are not the leaves of the batch in order',
        );
      }
    }
  }

  let blocks = 0;
  if (ledger.verifyChain) {
    const chain = await ledger.verifyChain();
    blocks = chain.blocks;
    if (chain.brokenAt !== undefined) {
      out.add(
        'BLOCK_CHAIN_BROKEN',
        `block ${chain.brokenAt}`,
        'its hash or its link to the previous block is wrong',
      );
    }
  } else skipped.push(`ledger blocks: the ${ledger.kind} ledger's chain is checked by its peers`);
  return { records, blocks, skipped };
}
