import {
  EvidenceContract,
  type LedgerContext,
  type LedgerKV,
  type LedgerStub,
  PRIVATE_COLLECTION,
  type PrivateBatchValue,
  pad16,
  STATE_KEYS,
  TRANSIENT_DETAILS_KEY,
} from '@lianzheng/chaincode';
import type pg from 'pg';
import { hashData } from '../ledger/ledger-embedded.ts';
import { createCompositeKey, GatewayIdentity, keyBytes, privateDataKey } from '../ledger/pg-stub.ts';

// Replays the embedded ledger's blocks from genesis through the same EvidenceContract, in memory:
// each block's data hash must be what its input and the write set the contract derives hash to,
// and the world state the replay ends with must be the `world_state` table, byte for byte. This
// catches an edited block input and any edited world-state value (flags, summaries, trails, …)
// that the other checks do not look at. Memory grows with the world state: it is an opt-in check.
// A RecordBatch block's input holds no restricted details (they were transient data); the replay
// hands the contract the ones the batch's private value holds, and the contract checks them
// against the records' detailsDigest, so an edited private value does not replay.

export interface ReplayDifference {
  code: 'BLOCK_REPLAY_FAILED' | 'BLOCK_DATA_MISMATCH' | 'WORLD_STATE_MISMATCH';
  subject: string;
  detail: string;
}

interface BlockRow {
  number: string;
  tx_id: string;
  data_hash: Buffer;
  payload: Buffer;
}

interface BlockPayload {
  fn: string;
  args: string[];
  creator: { mspId: string; id: string };
  timestamp: string;
}

type ContractFunction = (ctx: LedgerContext, ...args: string[]) => Promise<unknown>;

const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

function compareBytes(a: string, b: string): number {
  return Buffer.compare(keyBytes(a), keyBytes(b));
}

/** Committed state in memory; writes buffered per transaction, as on Fabric. */
class ReplayStub implements LedgerStub {
  readonly writes = new Map<string, Uint8Array>();
  constructor(
    private readonly state: Map<string, Uint8Array>,
    private readonly txId: string,
    private readonly millis: number,
    private readonly transient: Map<string, Uint8Array>,
  ) {}
  async getState(key: string): Promise<Uint8Array> {
    return this.state.get(key) ?? EMPTY;
  }
  async putState(key: string, value: Uint8Array): Promise<void> {
    this.writes.set(key, value.slice());
  }
  getTransient(): Map<string, Uint8Array> {
    return new Map(this.transient);
  }
  async getPrivateData(collection: string, key: string): Promise<Uint8Array> {
    return this.getState(privateDataKey(collection, key));
  }
  async putPrivateData(collection: string, key: string, value: Uint8Array): Promise<void> {
    await this.putState(privateDataKey(collection, key), value);
  }
  createCompositeKey(objectType: string, attributes: string[]): string {
    return createCompositeKey(objectType, attributes);
  }
  async *getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<LedgerKV> {
    const prefix = createCompositeKey(objectType, attributes);
    const keys = [...this.state.keys()].filter((k) => k.startsWith(prefix)).sort(compareBytes);
    for (const key of keys) yield { key, value: this.state.get(key)! };
  }
  getTxTimestamp() {
    return { seconds: Math.floor(this.millis / 1000), nanos: (this.millis % 1000) * 1_000_000 };
  }
  getTxID(): string {
    return this.txId;
  }
  setEvent(): void {}
}

/** Identity as the block recorded it (the embedded ledger's creator id is fixed by its MSP id). */
class RecordedIdentity extends GatewayIdentity {
  constructor(
    mspId: string,
    private readonly id: string,
  ) {
    super(mspId);
  }
  override getID(): string {
    return this.id;
  }
}

export async function replayEmbeddedLedger(
  db: pg.Pool,
  options: { pageSize?: number; add: (d: ReplayDifference) => void },
): Promise<{ blocks: number }> {
  const contract = new EvidenceContract() as unknown as Record<string, ContractFunction>;
  const state = new Map<string, Uint8Array>();
  const pageSize = options.pageSize ?? 200;
  let after = -1;
  let blocks = 0;
  for (;;) {
    const { rows } = await db.query<BlockRow>(
      'select number, tx_id, data_hash, payload from ledger_blocks where number > $1 order by number limit $2',
      [String(after), pageSize],
    );
    if (rows.length === 0) break;
    for (const row of rows) {
      blocks++;
      after = Number(row.number);
      const subject = `block ${row.number}`;
      let payload: BlockPayload;
      try {
        payload = JSON.parse(decoder.decode(row.payload)) as BlockPayload;
      } catch {
        options.add({ code: 'BLOCK_REPLAY_FAILED', subject, detail: 'the block input is not JSON' });
        continue;
      }
      const fn = contract[payload.fn];
      const millis = Date.parse(payload.timestamp);
      if (typeof fn !== 'function' || !Array.isArray(payload.args) || Number.isNaN(millis)) {
        options.add({
          code: 'BLOCK_REPLAY_FAILED',
          subject,
          detail: `not a replayable transaction (${payload.fn})`,
        });
        continue;
      }
      const transient = await replayTransient(db, payload);
      const stub = new ReplayStub(state, row.tx_id, millis, transient);
      const identity = new RecordedIdentity(payload.creator?.mspId ?? '', payload.creator?.id ?? '');
      try {
        await fn.call(contract, { stub, clientIdentity: identity }, ...payload.args);
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).message?.split(':')[0];
        options.add({
          code: 'BLOCK_REPLAY_FAILED',
          subject,
          detail: `${payload.fn} refused on replay (${code})`,
        });
        continue;
      }
      const keys = [...stub.writes.keys()].sort(compareBytes);
      const keyList = keys.map(keyBytes);
      const values = keys.map((k) => stub.writes.get(k)!);
      const dataHash = hashData(
        payload.fn,
        payload.args,
        identity.getID(),
        identity.getMSPID(),
        row.tx_id,
        payload.timestamp,
        keyList,
        values,
      );
      if (!Buffer.from(dataHash).equals(row.data_hash)) {
        options.add({
          code: 'BLOCK_DATA_MISMATCH',
          subject,
          detail: 'its data hash is not the hash of its input and the writes the contract derives from it',
        });
      }
      for (const [k, v] of stub.writes) state.set(k, v);
    }
    if (rows.length < pageSize) break;
  }

  // The replayed state must be the stored one, key for key.
  const seen = new Set<string>();
  let afterKey: Buffer = Buffer.alloc(0);
  for (;;) {
    const { rows } = await db.query<{ key: Buffer; value: Buffer }>(
      'select key, value from world_state where key > $1 order by key limit $2',
      [afterKey, 5000],
    );
    if (rows.length === 0) break;
    for (const r of rows) {
      const key = decoder.decode(r.key);
      seen.add(key);
      const replayed = state.get(key);
      if (!replayed || !Buffer.from(replayed).equals(r.value)) {
        options.add({
          code: 'WORLD_STATE_MISMATCH',
          subject: `world state ${printable(key)}`,
          detail: replayed ? 'differs from what the blocks produce' : 'no block wrote this key',
        });
      }
    }
    afterKey = rows[rows.length - 1]!.key;
    if (rows.length < 5000) break;
  }
  for (const key of state.keys()) {
    if (!seen.has(key)) {
      options.add({
        code: 'WORLD_STATE_MISMATCH',
        subject: `world state ${printable(key)}`,
        detail: 'written by a block, missing from world_state',
      });
    }
  }
  return { blocks };
}

/** A RecordBatch's transient data, as the batch's private value in world_state keeps it. */
async function replayTransient(db: pg.Pool, payload: BlockPayload): Promise<Map<string, Uint8Array>> {
  if (payload.fn !== 'RecordBatch') return new Map();
  let fromSize: unknown;
  try {
    fromSize = (JSON.parse(payload.args[0] ?? '') as { fromSize?: unknown }).fromSize;
  } catch {
    return new Map();
  }
  if (typeof fromSize !== 'number' || !Number.isSafeInteger(fromSize) || fromSize < 0) return new Map();
  const key = privateDataKey(PRIVATE_COLLECTION, createCompositeKey(STATE_KEYS.batch, [pad16(fromSize)]));
  const { rows } = await db.query<{ value: Buffer }>('select value from world_state where key = $1', [
    keyBytes(key),
  ]);
  if (!rows[0]) return new Map();
  let details: unknown;
  try {
    details = (JSON.parse(decoder.decode(rows[0].value)) as PrivateBatchValue).details;
  } catch {
    return new Map();
  }
  if (!details || typeof details !== 'object' || Object.keys(details).length === 0) return new Map();
  return new Map([[TRANSIENT_DETAILS_KEY, new TextEncoder().encode(JSON.stringify(details))]]);
}

function printable(key: string): string {
  return key.replaceAll('\u{10FFFF}', 'private:').replaceAll('\u0000', '·').replace(/^·|·$/g, '');
}
