import { STATE_KEYS, splitCompositeKey } from '@lianzheng/chaincode';
import { canonicalJson, frontierFromJson, frontierRoot, toHex } from '@lianzheng/proof';
import type pg from 'pg';
import { verifyBlockChain } from '../ledger/ledger-embedded.ts';
import { createCompositeKey, keyBytes } from '../ledger/pg-stub.ts';

/** A record as the ledger holds it: its canonical bytes and its leaf index. */
export interface LedgerRecordEntry {
  recordJson: string;
  index: number;
}

export interface LedgerAuditTx {
  block: number;
  size?: number;
  root?: string;
  /** The ids of the records the transaction recorded, in order, when the ledger keeps its input. */
  recordIds?: string[];
}

/**
 * What the audit reads from a ledger. The embedded ledger answers from its tables in the same
 * database; a Fabric implementation answers through queries (GetRecord, GetCheckpoint, the
 * block's transaction) and leaves the chain of blocks to its peers.
 */
export interface LedgerAuditSource {
  readonly kind: 'embedded' | 'fabric';
  /** The ledger's log head; `consistent` says whether its root is its frontier's root. */
  head(): Promise<{ size: number; root: string; consistent: boolean } | undefined>;
  /** Every checkpoint the ledger stored: size → root hex. */
  checkpoints(): Promise<Map<number, string>>;
  records(ids: string[]): Promise<Map<string, LedgerRecordEntry>>;
  /** Every record on the ledger, in pages. */
  recordIds(pageSize: number): AsyncIterable<{ id: string; index: number }[]>;
  tx(txId: string): Promise<LedgerAuditTx | undefined>;
  /** Recomputes the block hash chain (a ledger that has one the gateway can read). */
  verifyChain?(): Promise<{ blocks: number; brokenAt?: number }>;
}

/** What the audit reads of a batch value (`batch · fromSize16`). */
interface BatchJson {
  fromSize: number;
  records: { record: { id?: unknown } }[];
}

/**
 * What the audit reads of a page of a project's facts (`facts · projectId · prefix`): each
 * record's leaf index (a split page has no `f`). The embedded ledger refuses world state of the
 * layout before the pages (the facts in the project's key), so that is not read here.
 */
interface FactPageJson {
  f?: Record<string, { i: number }>;
}

const decoder = new TextDecoder();

function prefixRange(objectType: string): [Buffer, Buffer] {
  const prefix = keyBytes(createCompositeKey(objectType, []));
  // 0xFF never occurs in UTF-8, so prefix‖0xFF is above every key with this prefix.
  return [prefix, Buffer.concat([prefix, Buffer.from([0xff])])];
}

function parse<T>(value: Buffer): T {
  return JSON.parse(decoder.decode(value)) as T;
}

/** Every value under `objectType`, in key order, `perQuery` rows at a time (values can be large). */
async function* scanValues<T>(db: pg.Pool, objectType: string, perQuery: number): AsyncGenerator<T> {
  const [start, end] = prefixRange(objectType);
  let after: Buffer = start;
  for (;;) {
    const { rows } = await db.query<{ key: Buffer; value: Buffer }>(
      'select key, value from world_state where key > $1 and key < $2 order by key limit $3',
      [after, end, perQuery],
    );
    for (const r of rows) yield parse<T>(r.value);
    if (rows.length < perQuery) return;
    after = rows[rows.length - 1]!.key;
  }
}

function batchKey(fromSize: number): Buffer {
  return keyBytes(createCompositeKey(STATE_KEYS.batch, [fromSize.toString().padStart(16, '0')]));
}

/** The greatest start ≤ index in an ascending list. */
function startOf(starts: number[], index: number): number | undefined {
  let lo = 0;
  let hi = starts.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= index) {
      found = starts[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** The embedded ledger's world state and blocks, read straight from their tables. */
export function pgEmbeddedLedgerSource(db: pg.Pool): LedgerAuditSource {
  let located: { byId: Map<string, number>; starts: number[] } | undefined;
  const batchCache = new Map<number, BatchJson>();
  return {
    kind: 'embedded',

    async head() {
      const { rows } = await db.query<{ value: Buffer }>('select value from world_state where key = $1', [
        keyBytes(createCompositeKey(STATE_KEYS.log, [])),
      ]);
      if (!rows[0]) return undefined;
      const head = parse<{ size: number; root: string; hashes: string[] }>(rows[0].value);
      let consistent = false;
      try {
        consistent =
          toHex(frontierRoot(frontierFromJson({ size: head.size, hashes: head.hashes }))) === head.root;
      } catch {
        consistent = false;
      }
      return { size: head.size, root: head.root, consistent };
    },

    async checkpoints() {
      const [from, to] = prefixRange(STATE_KEYS.checkpoint);
      const { rows } = await db.query<{ value: Buffer }>(
        'select value from world_state where key >= $1 and key < $2 order by key',
        [from, to],
      );
      const out = new Map<number, string>();
      for (const r of rows) {
        const cp = parse<{ size: number; root: string }>(r.value);
        out.set(cp.size, cp.root);
      }
      return out;
    },

    // World state keeps a batch's records in one value (`batch · fromSize16`) and the pages of
    // each project's facts know the leaf index of its records: the index says which batch to read.
    async records(ids) {
      if (!located) {
        const byId = new Map<string, number>();
        for await (const page of scanValues<FactPageJson>(db, STATE_KEYS.facts, 64))
          for (const [id, fact] of Object.entries(page.f ?? {})) byId.set(id, fact.i);
        const [from, to] = prefixRange(STATE_KEYS.batch);
        const { rows } = await db.query<{ key: Buffer }>(
          'select key from world_state where key >= $1 and key < $2 order by key',
          [from, to],
        );
        const starts = rows.map((r) => Number(splitCompositeKey(decoder.decode(r.key)).attributes[0]));
        located = { byId, starts };
      }
      const { byId, starts } = located;
      const wanted = new Map<number, string[]>();
      for (const id of ids) {
        const index = byId.get(id);
        const from = index === undefined ? undefined : startOf(starts, index);
        if (from === undefined) continue;
        wanted.set(from, [...(wanted.get(from) ?? []), id]);
      }
      const out = new Map<string, LedgerRecordEntry>();
      // Bound the cache before deciding what to read: clearing it after would drop batches this
      // page counted as cached, and their records would read as missing from the ledger.
      if (batchCache.size + wanted.size > 64) batchCache.clear();
      const missing = [...wanted.keys()].filter((from) => !batchCache.has(from));
      if (missing.length > 0) {
        const { rows } = await db.query<{ value: Buffer }>(
          'select value from world_state where key = any($1::bytea[])',
          [missing.map(batchKey)],
        );
        for (const r of rows) {
          const batch = parse<BatchJson>(r.value);
          batchCache.set(batch.fromSize, batch);
        }
      }
      for (const [from, batchIds] of wanted) {
        const batch = batchCache.get(from);
        if (!batch) continue;
        for (const id of batchIds) {
          const index = byId.get(id)!;
          const entry = batch.records[index - from];
          if (entry && entry.record.id === id)
            out.set(id, { recordJson: canonicalJson(entry.record), index });
        }
      }
      return out;
    },

    async *recordIds(pageSize) {
      let page: { id: string; index: number }[] = [];
      for await (const batch of scanValues<BatchJson>(db, STATE_KEYS.batch, 4)) {
        for (const [position, entry] of batch.records.entries()) {
          page.push({ id: String(entry.record?.id), index: batch.fromSize + position });
          if (page.length >= pageSize) {
            yield page;
            page = [];
          }
        }
      }
      if (page.length > 0) yield page;
    },

    async tx(txId) {
      const { rows } = await db.query<{
        number: string;
        log_size: string | null;
        log_root: Buffer | null;
        payload: Buffer;
      }>('select number, log_size, log_root, payload from ledger_blocks where tx_id = $1', [txId]);
      const row = rows[0];
      if (!row) return undefined;
      let recordIds: string[] | undefined;
      try {
        const payload = parse<{ fn: string; args: string[] }>(row.payload);
        if (payload.fn === 'RecordBatch') {
          const batch = JSON.parse(payload.args[0]!) as { records: { record: { id: string } }[] };
          recordIds = batch.records.map((r) => r.record.id);
        }
      } catch {
        recordIds = ['<unreadable block payload>'];
      }
      return {
        block: Number(row.number),
        ...(row.log_size === null ? {} : { size: Number(row.log_size), root: row.log_root!.toString('hex') }),
        ...(recordIds ? { recordIds } : {}),
      };
    },

    async verifyChain() {
      const brokenAt = await verifyBlockChain(db);
      const { rows } = await db.query<{ n: string }>('select count(*) as n from ledger_blocks');
      return { blocks: Number(rows[0]?.n ?? 0), ...(brokenAt === undefined ? {} : { brokenAt }) };
    },
  };
}
