import { createHash, randomBytes } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  EvidenceContract,
  encodeRecordBatch,
  type LedgerContext,
  type LedgerKV,
  type LedgerStub,
  type LedgerTimestamp,
  PRIVATE_COLLECTION,
  type PrivateBatchValue,
  pad16,
  ROOT_PAGE,
  STATE_KEYS,
} from '@lianzheng/chaincode';
import { toHex } from '@lianzheng/proof';
import type pg from 'pg';
import { byteaArray } from '../storage/binary-arrays.ts';
import { contractQueries } from './contract-queries.ts';
import {
  type Ledger,
  type LedgerBatch,
  type LedgerCheckpoint,
  LedgerError,
  type LedgerFlag,
  type LedgerInfo,
  type LedgerJson,
  type LedgerProject,
  type LedgerResolution,
  type LedgerTx,
  type RecordBatchResult,
  type RegisterProjectResult,
} from './ledger.ts';
import { createCompositeKey, GatewayIdentity, keyBytes, PgLedgerStub, privateDataKey } from './pg-stub.ts';

// The embedded single-node ledger: the chaincode's EvidenceContract run in-process over a world
// state in PostgreSQL. One contract transaction is one database transaction and one block; blocks
// are hash-chained (number, previous hash, hash of the transaction's input and write set), so a
// bundle points at a block just as it does on Fabric. It is a development ledger and says so.
//
// A sealing process runs its submits on a thread of their own (ledger-thread.ts, LEDGER_THREAD,
// the default); otherwise (LEDGER_THREAD=false, queries, tests) the contract runs in the calling
// event loop. A RecordBatch of 10,000 records is about a second of CPU, and its reads are
// prefetched, so without care it runs as one synchronous stretch and every HTTP request waits for
// it (0.6–0.8 s measured). So the contract sees a stub that
// gives the event loop a turn whenever `sliceMs` of work has passed since the last one (at a
// read or a write: the contract awaits each), and the block's world-state writes go to
// PostgreSQL in chunks. The transaction, its writes and its block are exactly the same; it only
// takes a little longer in wall time while requests are served in between.

export const EMBEDDED_NOTE = 'embedded single-node ledger';

/** The contract as the embedded ledger calls it: Fabric transaction functions by name. */
type ContractFunction = (ctx: LedgerContext, ...args: string[]) => Promise<unknown>;

export interface EmbeddedLedgerOptions {
  /** The MSP-like organisation id the gateway submits as (admin and writer of this ledger). */
  mspId: string;
  /** Certificate subject of the gateway's identity. */
  subject?: string;
  /** A stand-in contract (tests); defaults to EvidenceContract. */
  contract?: object;
  /** Returns the transaction time; defaults to the wall clock. */
  now?: () => Date;
  /** Longest stretch (ms) of contract work before the event loop gets a turn (default 10). */
  sliceMs?: number;
  /** World-state rows per INSERT when a block is committed (default 1,000). */
  writeChunk?: number;
}

interface Invocation {
  fn: string;
  args: string[];
  /** Commit the write set as a block; false = evaluate only (a query or a simulation). */
  submit: boolean;
  /** The proposal's transient data (restricted details); never stored in the block. */
  transient?: Record<string, Uint8Array>;
  /** The keys the transaction will read, fetched in one query before it runs. */
  prefetch?: () => string[];
}

interface InvocationResult {
  result: unknown;
  txId: string;
  /** Undefined when nothing was committed (a query, or a transaction that wrote nothing). */
  block?: number;
  writes: number;
  /** The write set (private data under `privateDataKey`). */
  writeSet: ReadonlyMap<string, Uint8Array>;
}

const ZERO_HASH = new Uint8Array(32);
const DEFAULT_SLICE_MS = 10;
const DEFAULT_WRITE_CHUNK = 1000;

/** Gives the event loop a turn once `sliceMs` have passed since the last turn. */
class Slicer {
  private last = performance.now();
  constructor(private readonly sliceMs: number) {}

  async pause(): Promise<void> {
    if (performance.now() - this.last < this.sliceMs) return;
    await yieldToLoop();
    this.last = performance.now();
  }
}

/**
 * The stub the contract sees: the PostgreSQL stub, with a turn for the event loop after a read
 * or a write once a slice of work has passed. Reads issued in one tick still go out together
 * (the pause comes after the read is answered).
 */
class SlicedStub implements LedgerStub {
  constructor(
    private readonly inner: PgLedgerStub,
    private readonly slicer: Slicer,
  ) {}

  async getState(key: string): Promise<Uint8Array> {
    const value = await this.inner.getState(key);
    await this.slicer.pause();
    return value;
  }

  async putState(key: string, value: Uint8Array): Promise<void> {
    await this.inner.putState(key, value);
    await this.slicer.pause();
  }

  createCompositeKey(objectType: string, attributes: string[]): string {
    return this.inner.createCompositeKey(objectType, attributes);
  }

  getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<LedgerKV> {
    return this.inner.getStateByPartialCompositeKey(objectType, attributes);
  }

  getTxTimestamp(): LedgerTimestamp {
    return this.inner.getTxTimestamp();
  }

  getTxID(): string {
    return this.inner.getTxID();
  }

  setEvent(name: string, payload: Uint8Array): void {
    this.inner.setEvent(name, payload);
  }

  getTransient(): Map<string, Uint8Array> {
    return this.inner.getTransient();
  }

  async getPrivateData(collection: string, key: string): Promise<Uint8Array> {
    const value = await this.inner.getPrivateData(collection, key);
    await this.slicer.pause();
    return value;
  }

  async putPrivateData(collection: string, key: string, value: Uint8Array): Promise<void> {
    await this.inner.putPrivateData(collection, key, value);
    await this.slicer.pause();
  }
}
const LOCK_ID = 0x4c5a4c44; // 'LZLD': serialises ledger transactions across processes

export class EmbeddedLedger implements Ledger {
  readonly kind = 'embedded' as const;
  readonly info: LedgerInfo = { network: 'embedded', note: EMBEDDED_NOTE };
  private readonly contract: Record<string, ContractFunction>;
  private readonly identity: GatewayIdentity;
  private queue: Promise<unknown> = Promise.resolve();
  private initialised = false;

  constructor(
    private readonly db: pg.Pool,
    private readonly options: EmbeddedLedgerOptions,
  ) {
    this.contract = (options.contract ?? new EvidenceContract()) as Record<string, ContractFunction>;
    this.identity = new GatewayIdentity(options.mspId, options.subject);
  }

  async ready(): Promise<void> {
    if (this.initialised) return;
    await this.refuseOldLayout();
    // First start: the gateway's organisation becomes the admin and the only writer. A repeat
    // with the same configuration is a no-op in the contract.
    await this.invoke({ fn: 'InitLedger', args: [''], submit: true });
    this.initialised = true;
  }

  /**
   * World state written by a version before the batch-per-value layout (`record`, `summary`,
   * `digest`, `trail`, `flag` keys, restricted details in block inputs) cannot be read by this
   * contract: recording on it would lose every earlier record's facts. Refuse to start instead.
   */
  private async refuseOldLayout(): Promise<void> {
    const prefixes = ['record', 'summary', 'trail'].map((t) => keyBytes(createCompositeKey(t, [])));
    const { rows } = await this.db.query<{ n: string }>(
      `select count(*) as n from unnest($1::bytea[]) as p(prefix)
        where exists (select 1 from world_state where key > p.prefix
                        and key < p.prefix || '\\xff'::bytea)`,
      [byteaArray(prefixes)],
    );
    // Nor by a version before the paged project book (issue #26): a project's key holding every
    // fact of the project (`records`). The contract itself would rewrite such a project as pages
    // at its next batch (how a Fabric channel upgrades), but the audit's replay re-derives every
    // block with the running contract, and blocks written in the older layout would no longer
    // replay: refuse rather than leave a ledger whose own audit reports it as tampered.
    const project = keyBytes(createCompositeKey(STATE_KEYS.project, []));
    const { rows: books } = await this.db.query(
      `select 1 from world_state where key > $1 and key < $1 || '\\xff'::bytea
          and convert_from(value, 'UTF8')::jsonb ? 'records' limit 1`,
      [project],
    );
    if (Number(rows[0]?.n ?? 0) > 0 || books.length > 0) {
      throw new LedgerError(
        'LEDGER_FAILED',
        'the embedded ledger in this database was written by an older version (one world-state key per record); ' +
          'this version keeps a batch per key and restricted details as private data. It is a development ' +
          'ledger: start from an empty DATA_DIR, or keep running the older version on this one',
      );
    }
  }

  async registerProject(project: Record<string, unknown>): Promise<RegisterProjectResult> {
    const out = await this.invoke({ fn: 'RegisterProject', args: [JSON.stringify(project)], submit: true });
    const stored = out.result as { project?: LedgerProject; txId?: string } & LedgerProject;
    const registered = (stored.project ?? stored) as LedgerProject;
    if (out.block !== undefined) {
      return { txId: out.txId, block: out.block, project: registered, repeated: false };
    }
    // Identical project already registered: point at the transaction that registered it.
    const original = stored.txId ? await this.getTx(stored.txId) : undefined;
    return {
      txId: original?.txId ?? out.txId,
      block: original?.block ?? -1,
      project: registered,
      repeated: true,
    };
  }

  recordBatch(batch: LedgerBatch): Promise<RecordBatchResult> {
    return this.recordEncoded(encodeLedgerBatch(batch));
  }

  /** RecordBatch from its encoded form (encodeLedgerBatch), as the ledger's thread receives it. */
  async recordEncoded(batch: EncodedLedgerBatch): Promise<RecordBatchResult> {
    const out = await this.invoke({
      fn: 'RecordBatch',
      args: [batch.args],
      transient: batch.transient,
      submit: true,
      prefetch: () => batch.keys,
    });
    const answer = out.result as BatchAnswer;
    if (out.block !== undefined) {
      // The contract answers with flags (and resolutions) in their public form (the answer is in
      // the block); their facts are in the batch's private value, which this node wrote.
      const secret = privateBatch(out.writeSet, batch.fromSize);
      const result = {
        ...answer,
        flags: (secret?.flags as unknown as LedgerFlag[] | undefined) ?? answer.flags,
        resolutions: (secret?.resolutions as LedgerResolution[] | undefined) ?? answer.resolutions,
      };
      return { ...pick(result), txId: out.txId, block: out.block, validation: 'VALID', repeated: false };
    }
    const batchView = await this.query<BatchAnswer>('GetBatch', [String(batch.fromSize)]);
    const result = {
      ...answer,
      flags: batchView?.flags ?? answer.flags,
      resolutions: batchView?.resolutions ?? answer.resolutions,
    };
    // A repeat: the contract answered with the stored result and wrote nothing. The reference
    // that counts is the block that recorded the batch the first time.
    const { rows } = await this.db.query<{ number: string; tx_id: string }>(
      'select number, tx_id from ledger_blocks where log_size = $1',
      [String(result.toSize)],
    );
    const row = rows[0];
    if (!row) throw new LedgerError('LEDGER_FAILED', `no block recorded log size ${result.toSize}`);
    return {
      ...pick(result),
      txId: row.tx_id,
      block: Number(row.number),
      validation: 'VALID',
      repeated: true,
    };
  }

  simulateBatch(batch: LedgerBatch): Promise<void> {
    return this.simulateEncoded(encodeLedgerBatch(batch));
  }

  /** simulateBatch from its encoded form (encodeLedgerBatch). */
  async simulateEncoded(batch: EncodedLedgerBatch): Promise<void> {
    await this.invoke({
      fn: 'RecordBatch',
      args: [batch.args],
      transient: batch.transient,
      submit: false,
      prefetch: () => batch.keys,
    });
  }

  async getTx(txId: string): Promise<LedgerTx | undefined> {
    const { rows } = await this.db.query<BlockRow>(
      'select number, tx_id, tx_timestamp, fn, log_size, log_root from ledger_blocks where tx_id = $1',
      [txId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      txId: row.tx_id,
      block: Number(row.number),
      valid: true,
      validation: 'VALID',
      fn: row.fn,
      timestamp: row.tx_timestamp.toISOString(),
      ...(row.log_size === null ? {} : { size: Number(row.log_size), root: toHex(row.log_root!) }),
    };
  }

  private readonly reads = contractQueries((fn, args) => this.query(fn, args));

  getRecord(id: string): Promise<LedgerJson | undefined> {
    return this.reads.getRecord(id);
  }

  projectTrail(projectId: string): Promise<LedgerJson[]> {
    return this.reads.projectTrail(projectId);
  }

  getFlags(projectId: string): Promise<LedgerFlag[]> {
    return this.reads.getFlags(projectId);
  }

  getProject(id: string): Promise<LedgerProject | undefined> {
    return this.reads.getProject(id);
  }

  getCheckpoint(size?: number): Promise<LedgerCheckpoint | undefined> {
    return this.reads.getCheckpoint(size);
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {});
  }

  /** A query: NOT_FOUND becomes undefined. */
  private async query<T>(fn: string, args: string[]): Promise<T | undefined> {
    try {
      return (await this.invoke({ fn, args, submit: false })).result as T;
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** Submits run one at a time (a single-node orderer); queries run beside them. */
  private invoke(inv: Invocation): Promise<InvocationResult> {
    if (!inv.submit) return this.execute(inv);
    const run = this.queue.then(
      () => this.execute(inv),
      () => this.execute(inv),
    );
    this.queue = run.catch(() => {});
    return run;
  }

  private async execute(inv: Invocation): Promise<InvocationResult> {
    const fn = this.contract[inv.fn];
    if (typeof fn !== 'function') throw new LedgerError('BAD_ARGUMENT', `no transaction ${inv.fn}`);
    let client: pg.PoolClient;
    try {
      client = await this.db.connect();
    } catch (error) {
      throw new LedgerError('LEDGER_UNAVAILABLE', 'the ledger database is unreachable', { cause: error });
    }
    try {
      await client.query(inv.submit ? 'begin' : 'begin read only');
      if (inv.submit) await client.query('select pg_advisory_xact_lock($1)', [LOCK_ID]);
      const now = (this.options.now ?? (() => new Date()))();
      const txId = newTxId(this.options.mspId);
      const millis = now.getTime();
      const timestamp = { seconds: Math.floor(millis / 1000), nanos: (millis % 1000) * 1_000_000 };
      const stub = new PgLedgerStub(client, txId, timestamp, new Map(Object.entries(inv.transient ?? {})));
      if (inv.prefetch) await stub.prefetch(inv.prefetch());
      const slicer = new Slicer(this.options.sliceMs ?? DEFAULT_SLICE_MS);
      const ctx: LedgerContext = { stub: new SlicedStub(stub, slicer), clientIdentity: this.identity };
      let raw: unknown;
      try {
        raw = await fn.call(this.contract, ctx, ...inv.args);
      } catch (error) {
        await client.query('rollback');
        throw toLedgerError(error);
      }
      const result = decodeResult(raw);
      if (!inv.submit || stub.writes.size === 0) {
        await client.query(inv.submit ? 'commit' : 'rollback');
        return { result, txId, writes: 0, writeSet: new Map() };
      }
      const block = await this.commitBlock(client, inv, stub, txId, now, result, slicer);
      await client.query('commit');
      return { result, txId, block, writes: stub.writes.size, writeSet: stub.writes };
    } catch (error) {
      await client.query('rollback').catch(() => {});
      if (error instanceof LedgerError) throw error;
      throw new LedgerError('LEDGER_UNAVAILABLE', 'the ledger transaction failed', { cause: error });
    } finally {
      client.release();
    }
  }

  private async commitBlock(
    client: pg.PoolClient,
    inv: Invocation,
    stub: PgLedgerStub,
    txId: string,
    now: Date,
    result: unknown,
    slicer: Slicer,
  ): Promise<number> {
    // Bytewise key order (the world state's order, and what the data hash commits to); each key
    // encoded once, not once per comparison.
    const entries = [...stub.writes].map(([key, value]) => ({ key: keyBytes(key), value }));
    entries.sort((a, b) => Buffer.compare(a.key, b.key));
    const keyList = entries.map((e) => e.key);
    const values = entries.map((e) => e.value);
    // In chunks: each chunk's arrays are encoded synchronously, so one INSERT of 20,000 rows
    // would be one long stretch; several smaller ones let requests in between.
    const chunk = this.options.writeChunk ?? DEFAULT_WRITE_CHUNK;
    for (let i = 0; i < keyList.length; i += chunk) {
      await client.query(
        `insert into world_state (key, value)
         select * from unnest($1::bytea[], $2::bytea[])
         on conflict (key) do update set value = excluded.value`,
        [byteaArray(keyList.slice(i, i + chunk)), byteaArray(values.slice(i, i + chunk))],
      );
      await slicer.pause();
    }
    const creator = this.identity.getID();
    const timestamp = now.toISOString();
    // Each argument as UTF-8 once, for both the data hash and the payload (a RecordBatch argument
    // of 10,000 records is ~5 MB): hashed as bytes, and escaped as a JSON string from these bytes.
    const argBytes = inv.args.map((a) => Buffer.from(a, 'utf8'));
    const dataHash = hashData(
      inv.fn,
      argBytes,
      creator,
      this.options.mspId,
      txId,
      timestamp,
      keyList,
      values,
    );
    const { rows } = await client.query<{ number: string; hash: Buffer }>(
      'select number, hash from ledger_blocks order by number desc limit 1',
    );
    const number = rows[0] ? Number(rows[0].number) + 1 : 0;
    const prevHash = rows[0] ? new Uint8Array(rows[0].hash) : ZERO_HASH;
    const hash = hashHeader(number, prevHash, dataHash, txId, timestamp);
    // The input, not the write set: replaying the blocks from genesis through the same contract
    // re-derives every write, and data_hash commits to both. Not the transient data: a replay
    // takes a batch's restricted details back from the private value it wrote (audit/replay.ts).
    const payload = blockPayload(
      { fn: inv.fn, args: inv.args, creator: { mspId: this.options.mspId, id: creator }, timestamp, result },
      argBytes,
    );
    const log = inv.fn === 'RecordBatch' ? (result as { toSize: number; root: string }) : undefined;
    await client.query(
      `insert into ledger_blocks
         (number, prev_hash, data_hash, tx_id, tx_timestamp, fn, payload, log_size, log_root, hash)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        String(number),
        prevHash,
        dataHash,
        txId,
        now,
        inv.fn,
        payload,
        log ? String(log.toSize) : null,
        log ? Buffer.from(log.root, 'hex') : null,
        hash,
      ],
    );
    return number;
  }
}

interface BlockRow {
  number: string;
  tx_id: string;
  tx_timestamp: Date;
  fn: string;
  log_size: string | null;
  log_root: Buffer | null;
}

/** RecordBatch's and GetBatch's answers, as far as the gateway reads them. */
interface BatchAnswer {
  toSize: number;
  root: string;
  flags: LedgerFlag[];
  resolutions?: LedgerResolution[];
}

/** The batch's private value (every flag with its facts; restricted resolutions), if it was written. */
function privateBatch(
  writes: ReadonlyMap<string, Uint8Array>,
  fromSize: number,
): PrivateBatchValue | undefined {
  const key = privateDataKey(PRIVATE_COLLECTION, createCompositeKey(STATE_KEYS.batch, [pad16(fromSize)]));
  const value = writes.get(key);
  if (!value) return undefined;
  return JSON.parse(new TextDecoder().decode(value)) as PrivateBatchValue;
}

function pick(result: BatchAnswer) {
  return {
    toSize: result.toSize,
    root: result.root,
    flags: result.flags ?? [],
    ...(result.resolutions && result.resolutions.length > 0 ? { resolutions: result.resolutions } : {}),
  };
}

/**
 * A RecordBatch as the contract takes it — its argument and transient data (restricted details
 * go as transient data: the block's input, like a Fabric block, holds only the records, which
 * carry the details' salted digest) — with the keys it will read. Plain strings and bytes: what
 * goes to the ledger's thread (ledger-thread.ts) without the batch's objects.
 */
export interface EncodedLedgerBatch {
  fromSize: number;
  args: string;
  transient: Record<string, Uint8Array>;
  keys: string[];
}

export function encodeLedgerBatch(batch: LedgerBatch): EncodedLedgerBatch {
  const { args, transient } = encodeRecordBatch(batch);
  return { fromSize: batch.fromSize, args, transient, keys: batchKeys(batch) };
}

/**
 * The keys RecordBatch will read, fetched in one query instead of one round trip each: the
 * config, the log head and each project's key. Mirrors the contract's key layout; if it drifts
 * only the speed suffers, never the result.
 */
function batchKeys(batch: LedgerBatch): string[] {
  const keys: string[] = [];
  const safe = (objectType: string, ...attributes: string[]) => {
    try {
      keys.push(createCompositeKey(objectType, attributes));
    } catch {
      // An attribute the contract will refuse anyway.
    }
  };
  safe(STATE_KEYS.config);
  safe(STATE_KEYS.log);
  const projects = new Set<string>();
  for (const { record } of batch.records) {
    if (typeof record?.projectId === 'string') projects.add(record.projectId);
  }
  // Each project's key and the root page of its facts (the contract reads deeper pages a level
  // at a time, each level's reads in one query: PgLedgerStub batches reads issued together).
  for (const p of projects) {
    safe(STATE_KEYS.project, p);
    safe(STATE_KEYS.facts, p, ROOT_PAGE);
  }
  // Their private values (the rules' totals, the page's rule details) under the same keys.
  for (const key of [...keys])
    if (
      key.startsWith(`\u0000${STATE_KEYS.project}\u0000`) ||
      key.startsWith(`\u0000${STATE_KEYS.facts}\u0000`)
    )
      keys.push(privateDataKey(PRIVATE_COLLECTION, key));
  return keys;
}

function decodeResult(raw: unknown): unknown {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'string') return raw === '' ? null : JSON.parse(raw);
  if (raw instanceof Uint8Array) return raw.length === 0 ? null : JSON.parse(new TextDecoder().decode(raw));
  return raw;
}

const CODE_PREFIX = /^([A-Z][A-Z0-9_]+):/;

function toLedgerError(error: unknown): LedgerError {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) {
    return new LedgerError(code, stripCode(error), { cause: error });
  }
  // Errors that are not the contract's own (a bug, a bad attribute) keep their prefix code if any.
  const message = error instanceof Error ? error.message : String(error);
  const m = CODE_PREFIX.exec(message);
  return new LedgerError(m ? m[1]! : 'LEDGER_FAILED', stripCode(error), { cause: error });
}

function stripCode(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(CODE_PREFIX, '').trim();
}

function newTxId(mspId: string): string {
  // Fabric: SHA-256 of a nonce and the creator; unique, not guessable.
  return createHash('sha256').update(randomBytes(24)).update(mspId).digest('hex');
}

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const utf8 = (s: string) => Buffer.from(s, 'utf8');

/**
 * (Exported for `lianzheng audit`, which replays blocks and recomputes it.)
 * SHA-256 over a length-prefixed encoding of the transaction: function, arguments, creator, tx id,
 * time, and the write set in key order. Length prefixes make the encoding unambiguous.
 */
export function hashData(
  fn: string,
  args: readonly (string | Uint8Array)[],
  creator: string,
  mspId: string,
  txId: string,
  timestamp: string,
  keys: Uint8Array[],
  values: Uint8Array[],
): Uint8Array {
  // node:crypto rather than proof's pure-JS SHA-256: a block of 10,000 records hashes ~20 MB.
  const h = createHash('sha256');
  const field = (bytes: Uint8Array) => h.update(u32(bytes.length)).update(bytes);
  field(utf8('lianzheng-embedded-tx/1'));
  field(utf8(fn));
  h.update(u32(args.length));
  // An argument is its UTF-8 bytes, given as a string (hashed as it is, not copied into a Buffer
  // first: a RecordBatch argument of 10,000 records is ~5 MB; the length prefix is the UTF-8
  // length) or already encoded (commitBlock, which needs the bytes for the payload too).
  for (const a of args) {
    if (typeof a === 'string') h.update(u32(Buffer.byteLength(a, 'utf8'))).update(a, 'utf8');
    else field(a);
  }
  field(utf8(mspId));
  field(utf8(creator));
  field(utf8(txId));
  field(utf8(timestamp));
  h.update(u32(keys.length));
  for (let i = 0; i < keys.length; i++) {
    field(keys[i]!);
    field(values[i]!);
  }
  return new Uint8Array(h.digest());
}

/** A block's payload as commitBlock stores it (`ledger_blocks.payload`). */
export interface BlockInput {
  fn: string;
  args: string[];
  creator: { mspId: string; id: string };
  timestamp: string;
  result: unknown;
}

const COMMA = Buffer.from(',');

/**
 * `Buffer.from(JSON.stringify(input))`, byte for byte (audit/replay.ts parses it back), without
 * JSON.stringify of the arguments: escaping a ~5 MB RecordBatch argument as a JSON string and
 * encoding the ~6 MB payload as UTF-8 again took ~35 ms of a 10,000-record batch, while escaping
 * the argument's UTF-8 bytes (`argBytes[i]` = UTF-8 of `input.args[i]`, which the data hash needs
 * anyway) takes ~20 (issue #26). The rest is JSON.stringify of the input with no arguments, the
 * arguments' JSON strings spliced in where `"args":[]` is. ledger-embedded.test.ts compares both.
 */
export function blockPayload(input: BlockInput, argBytes: readonly Uint8Array[]): Buffer {
  const rest = JSON.stringify({ ...input, args: [] });
  // JSON.stringify writes keys in insertion order: fn, then args.
  const head = `{"fn":${JSON.stringify(input.fn)},"args":[`;
  if (!rest.startsWith(`${head}]`)) return Buffer.from(JSON.stringify(input));
  const before = Buffer.from(head);
  const after = Buffer.from(rest.slice(head.length));
  // One argument (RecordBatch's): written between the two in one buffer, not copied again by a
  // concat (~5 ms of a 10,000-record batch).
  const only = input.args.length === 1 ? jsonStringUtf8(argBytes[0]!, before, after) : undefined;
  if (only) return only;
  const parts: Uint8Array[] = [before];
  for (let i = 0; i < input.args.length; i++) {
    if (i > 0) parts.push(COMMA);
    parts.push(jsonStringUtf8(argBytes[i]!) ?? Buffer.from(JSON.stringify(input.args[i])));
  }
  parts.push(after);
  return Buffer.concat(parts);
}

const HEX_DIGITS = '0123456789abcdef';
const NO_BYTES = new Uint8Array(0);

/**
 * `before`, the UTF-8 of JSON.stringify(s) from the UTF-8 of a string `s`, then `after`: quotes
 * around it, `"` and `\` escaped, control characters as JSON.stringify spells them (\b \t \n
 * \f \r, else \u00xx), every other byte as it is. Undefined where the bytes hold U+FFFD
 * (EF BF BD): a lone surrogate becomes that in UTF-8 but `\udxxx` in JSON.stringify, so the caller
 * stringifies instead.
 */
export function jsonStringUtf8(
  src: Uint8Array,
  before: Uint8Array = NO_BYTES,
  after: Uint8Array = NO_BYTES,
): Buffer | undefined {
  const n = src.length;
  // Room for a quarter of the bytes escaped (grown if not enough): one pass, no count first.
  let out = Buffer.allocUnsafe(before.length + n + (n >> 2) + 16 + after.length);
  out.set(before, 0);
  let j = before.length;
  out[j++] = 0x22;
  for (let i = 0; i < n; i++) {
    const b = src[i]!;
    if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
      if (b === 0xef && src[i + 1] === 0xbf && src[i + 2] === 0xbd) return undefined;
      out[j++] = b;
      continue;
    }
    // Six bytes at most for this one, one for each byte left and the closing quote.
    if (j + 6 + (n - i) + 1 > out.length) {
      const grown = Buffer.allocUnsafe(2 * out.length + 6 * (n - i));
      out.copy(grown, 0, 0, j);
      out = grown;
    }
    out[j++] = 0x5c;
    if (b === 0x22 || b === 0x5c) out[j++] = b;
    else if (b === 0x08)
      out[j++] = 0x62; // b
    else if (b === 0x09)
      out[j++] = 0x74; // t
    else if (b === 0x0a)
      out[j++] = 0x6e; // n
    else if (b === 0x0c)
      out[j++] = 0x66; // f
    else if (b === 0x0d)
      out[j++] = 0x72; // r
    else {
      out[j++] = 0x75; // u00xx
      out[j++] = 0x30;
      out[j++] = 0x30;
      out[j++] = HEX_DIGITS.charCodeAt(b >> 4);
      out[j++] = HEX_DIGITS.charCodeAt(b & 15);
    }
  }
  if (j + 1 + after.length > out.length) {
    const grown = Buffer.allocUnsafe(j + 1 + after.length);
    out.copy(grown, 0, 0, j);
    out = grown;
  }
  out[j++] = 0x22;
  out.set(after, j);
  return out.subarray(0, j + after.length);
}

function hashHeader(
  number: number,
  prevHash: Uint8Array,
  dataHash: Uint8Array,
  txId: string,
  timestamp: string,
) {
  const h = createHash('sha256');
  const field = (bytes: Uint8Array) => h.update(u32(bytes.length)).update(bytes);
  field(utf8('lianzheng-embedded-block/1'));
  field(utf8(String(number)));
  field(prevHash);
  field(dataHash);
  field(utf8(txId));
  field(utf8(timestamp));
  return new Uint8Array(h.digest());
}

/** Recomputes the hash chain; returns the first block number that does not link, or undefined. */
export async function verifyBlockChain(db: pg.Pool): Promise<number | undefined> {
  const { rows } = await db.query<{
    number: string;
    prev_hash: Buffer;
    data_hash: Buffer;
    tx_id: string;
    tx_timestamp: Date;
    hash: Buffer;
  }>('select number, prev_hash, data_hash, tx_id, tx_timestamp, hash from ledger_blocks order by number');
  let prev: Uint8Array = ZERO_HASH;
  for (const row of rows) {
    const number = Number(row.number);
    const expected = hashHeader(
      number,
      row.prev_hash,
      row.data_hash,
      row.tx_id,
      row.tx_timestamp.toISOString(),
    );
    if (!Buffer.from(prev).equals(row.prev_hash) || !Buffer.from(expected).equals(row.hash)) return number;
    prev = row.hash;
  }
  return undefined;
}
