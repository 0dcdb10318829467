import { STATE_KEYS } from '@lianzheng/chaincode';
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

interface StoredRecordJson {
  record: unknown;
  index: number;
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

/** The embedded ledger's world state and blocks, read straight from their tables. */
export function pgEmbeddedLedgerSource(db: pg.Pool): LedgerAuditSource {
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

    async records(ids) {
      const keys = ids.map((id) => keyBytes(createCompositeKey(STATE_KEYS.record, [id])));
      const { rows } = await db.query<{ value: Buffer }>(
        'select value from world_state where key = any($1::bytea[])',
        [keys],
      );
      const out = new Map<string, LedgerRecordEntry>();
      for (const r of rows) {
        const stored = parse<StoredRecordJson>(r.value);
        const id = (stored.record as { id?: unknown })?.id;
        if (typeof id === 'string')
          out.set(id, { recordJson: canonicalJson(stored.record), index: stored.index });
      }
      return out;
    },

    async *recordIds(pageSize) {
      const [start, end] = prefixRange(STATE_KEYS.record);
      let after: Buffer = Buffer.concat([start.subarray(0, start.length - 1)]);
      for (;;) {
        const { rows } = await db.query<{ key: Buffer; value: Buffer }>(
          'select key, value from world_state where key > $1 and key >= $2 and key < $3 order by key limit $4',
          [after, start, end, pageSize],
        );
        if (rows.length === 0) return;
        yield rows.map((r) => {
          const stored = parse<StoredRecordJson>(r.value);
          return { id: String((stored.record as { id?: unknown })?.id), index: stored.index };
        });
        after = rows[rows.length - 1]!.key;
        if (rows.length < pageSize) return;
      }
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
