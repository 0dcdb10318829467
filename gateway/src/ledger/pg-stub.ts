import type { LedgerClientIdentity, LedgerKV, LedgerStub, LedgerTimestamp } from '@lianzheng/chaincode';
import { byteaArray } from '../storage/binary-arrays.ts';
import type { Queryable } from '../storage/queryable.ts';

// Fabric's chaincode stub over PostgreSQL, for one transaction: reads see committed state (the
// enclosing database transaction's snapshot), writes are buffered and applied by the ledger at
// commit — a transaction never reads its own writes, as on Fabric. Composite keys use Fabric's
// encoding, and range scans come back in bytewise key order (the bytea primary key's order).
// Private data (Fabric's collections) lives in the same world_state table under its own key
// namespace (`privateDataKey`); this single node is a member of every collection. Transient data
// is handed to the stub and never stored.

const NS = '\u0000';
const MAX_RUNE = '\u{10FFFF}';
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

export function createCompositeKey(objectType: string, attributes: string[]): string {
  let key = NS + checkAttribute(objectType) + NS;
  for (const attribute of attributes) key += checkAttribute(attribute) + NS;
  return key;
}

function checkAttribute(value: string): string {
  if (typeof value !== 'string' || value.includes(NS) || value.includes(MAX_RUNE)) {
    throw new Error('BAD_ARGUMENT: a composite key attribute may not contain U+0000 or U+10FFFF');
  }
  return value;
}

/**
 * Where private data of `collection` lives in world_state: U+0000 U+10FFFF, the collection, U+0000,
 * the key. No composite key starts so (U+10FFFF is refused in an object type), and range scans of
 * public composite keys never reach it.
 */
export function privateDataKey(collection: string, key: string): string {
  return `${NS}${MAX_RUNE}${collection}${NS}${key}`;
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'utf8');
}

export class PgLedgerStub implements LedgerStub {
  /** The write set, last write per key wins (Fabric keeps one write per key). */
  readonly writes = new Map<string, Uint8Array>();
  event: { name: string; payload: Uint8Array } | undefined;
  /** Committed values already read in this transaction (or prefetched); null = absent. */
  private readonly reads = new Map<string, Uint8Array | null>();
  private queued: Map<string, ((v: Uint8Array) => void)[]> | undefined;
  private queuedError: ((e: unknown) => void)[] = [];

  constructor(
    private readonly db: Queryable,
    private readonly txId: string,
    private readonly timestamp: LedgerTimestamp,
    private readonly transient: Map<string, Uint8Array> = new Map(),
  ) {}

  /**
   * Reads many keys in one query before the contract runs. Only a speed-up: the contract reads
   * the same snapshot either way.
   */
  async prefetch(keys: Iterable<string>): Promise<void> {
    const wanted = [...new Set(keys)].filter((k) => !this.reads.has(k));
    if (wanted.length === 0) return;
    const found = await this.readMany(wanted);
    for (const key of wanted) this.reads.set(key, found.get(key) ?? null);
  }

  private async readMany(keys: string[]): Promise<Map<string, Uint8Array>> {
    const { rows } = await this.db.query<{ key: Buffer; value: Buffer }>(
      'select key, value from world_state where key = any($1::bytea[])',
      [byteaArray(keys.map(keyBytes))],
    );
    const found = new Map<string, Uint8Array>();
    for (const row of rows) found.set(decoder.decode(row.key), new Uint8Array(row.value));
    return found;
  }

  getState(key: string): Promise<Uint8Array> {
    const known = this.reads.get(key);
    if (known !== undefined) return Promise.resolve(known ?? EMPTY);
    // Reads issued in the same tick (Promise.all in the contract) go out as one query.
    return new Promise<Uint8Array>((resolve, reject) => {
      if (!this.queued) {
        this.queued = new Map();
        this.queuedError = [];
        queueMicrotask(() => this.flushReads());
      }
      const waiting = this.queued.get(key);
      if (waiting) waiting.push(resolve);
      else this.queued.set(key, [resolve]);
      this.queuedError.push(reject);
    });
  }

  private flushReads(): void {
    const queued = this.queued!;
    const rejects = this.queuedError;
    this.queued = undefined;
    this.queuedError = [];
    this.readMany([...queued.keys()]).then(
      (found) => {
        for (const [key, resolvers] of queued) {
          const value = found.get(key) ?? null;
          this.reads.set(key, value);
          for (const resolve of resolvers) resolve(value ?? EMPTY);
        }
      },
      (error) => {
        for (const reject of rejects) reject(error);
      },
    );
  }

  /**
   * The value is kept, not copied: the contract hands over a freshly encoded array per key and
   * never touches it again (StateView.flush), and a batch's value is megabytes (issue #26).
   */
  async putState(key: string, value: Uint8Array): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) throw new Error('BAD_ARGUMENT: empty key');
    this.writes.set(key, value);
  }

  getTransient(): Map<string, Uint8Array> {
    return new Map(this.transient);
  }

  getPrivateData(collection: string, key: string): Promise<Uint8Array> {
    return this.getState(privateDataKey(collection, key));
  }

  async putPrivateData(collection: string, key: string, value: Uint8Array): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) throw new Error('BAD_ARGUMENT: empty key');
    this.writes.set(privateDataKey(collection, key), value);
  }

  createCompositeKey(objectType: string, attributes: string[]): string {
    return createCompositeKey(objectType, attributes);
  }

  async *getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<LedgerKV> {
    const prefix = keyBytes(createCompositeKey(objectType, attributes));
    // 0xFF never occurs in UTF-8, so prefix‖0xFF is above every key with this prefix.
    const end = Buffer.concat([prefix, Buffer.from([0xff])]);
    const { rows } = await this.db.query<{ key: Buffer; value: Buffer }>(
      'select key, value from world_state where key >= $1 and key < $2 order by key',
      [prefix, end],
    );
    for (const row of rows) yield { key: decoder.decode(row.key), value: new Uint8Array(row.value) };
  }

  getTxTimestamp(): LedgerTimestamp {
    return this.timestamp;
  }

  getTxID(): string {
    return this.txId;
  }

  setEvent(name: string, payload: Uint8Array): void {
    this.event = { name, payload: payload.slice() };
  }
}

/** A fixed identity: the gateway's organisation, as Fabric's ClientIdentity would present it. */
export class GatewayIdentity implements LedgerClientIdentity {
  constructor(
    private readonly mspId: string,
    private readonly subject = `/C=CN/O=${mspId}/CN=gateway`,
  ) {}

  getMSPID(): string {
    return this.mspId;
  }

  getID(): string {
    return `x509::${this.subject}::/C=CN/O=${this.mspId}/CN=ca`;
  }

  getAttributeValue(_name: string): string | null {
    return null;
  }
}
