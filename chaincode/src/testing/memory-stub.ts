// An in-memory stand-in for a Fabric peer's world state, for unit tests and benchmarks (here and in
// the gateway). It keeps Fabric's semantics where they matter to the contract: writes are buffered
// and applied only when the transaction commits (no read-your-own-writes), composite keys use
// Fabric's encoding, range scans see committed state in bytewise key order, one event per
// transaction (the last `setEvent` wins), and the time is the proposal's timestamp.

import type {
  LedgerClientIdentity,
  LedgerContext,
  LedgerKV,
  LedgerStub,
  LedgerTimestamp,
} from '../ledger.ts';

const NS = '\u0000';
const MIN_RUNE = '\u0000';
const MAX_RUNE = '\u{10FFFF}';
const encoder = new TextEncoder();

export interface MemoryIdentity {
  mspId: string;
  /** Certificate subject DN, e.g. `/C=CN/O=Org1/CN=gateway`. */
  subject?: string;
  issuer?: string;
  attributes?: Record<string, string>;
}

export interface MemoryTxOptions {
  identity?: MemoryIdentity;
  /** Defaults to a counter rendered as 64 hex digits. */
  txId?: string;
  /** The proposal's timestamp; defaults to the ledger's clock, one second per transaction. */
  time?: string | Date;
  /** The proposal's transient data (`getTransient()`). */
  transient?: Record<string, Uint8Array>;
  /**
   * False: the peer is not a member of any private data collection, so `getPrivateData` throws as
   * Fabric's does (default true).
   */
  privateMember?: boolean;
}

export interface MemoryEvent {
  name: string;
  payload: Uint8Array;
}

export interface MemoryTxResult<T> {
  result: T;
  txId: string;
  /** The write set in the order the contract wrote it. */
  writes: [string, Uint8Array][];
  /** Private data writes: [collection, key, value], in the order the contract wrote them. */
  privateWrites: [string, string, Uint8Array][];
  event?: MemoryEvent;
}

function validateAttribute(value: string): void {
  if (typeof value !== 'string') throw new Error('composite key attribute must be a string');
  if (value.includes(MIN_RUNE) || value.includes(MAX_RUNE))
    throw new Error(`composite key attribute contains U+0000 or U+10FFFF: ${JSON.stringify(value)}`);
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function createCompositeKey(objectType: string, attributes: string[]): string {
  validateAttribute(objectType);
  let key = NS + objectType + MIN_RUNE;
  for (const attribute of attributes) {
    validateAttribute(attribute);
    key += attribute + MIN_RUNE;
  }
  return key;
}

export class MemoryClientIdentity implements LedgerClientIdentity {
  readonly identity: MemoryIdentity;

  constructor(identity: MemoryIdentity) {
    this.identity = identity;
  }

  getMSPID(): string {
    return this.identity.mspId;
  }

  getID(): string {
    const subject = this.identity.subject ?? `/C=CN/O=${this.identity.mspId}/CN=client`;
    const issuer = this.identity.issuer ?? `/C=CN/O=${this.identity.mspId}/CN=ca`;
    return `x509::${subject}::${issuer}`;
  }

  getAttributeValue(name: string): string | null {
    return this.identity.attributes?.[name] ?? null;
  }
}

/** One transaction's stub: reads committed state, buffers writes until `MemoryLedger` commits. */
export class MemoryStub implements LedgerStub {
  readonly writes: [string, Uint8Array][] = [];
  readonly privateWrites: [string, string, Uint8Array][] = [];
  event: MemoryEvent | undefined;
  private readonly ledger: MemoryLedger;
  private readonly txId: string;
  private readonly timestamp: LedgerTimestamp;
  private readonly options: MemoryTxOptions;

  constructor(ledger: MemoryLedger, txId: string, time: Date, options: MemoryTxOptions = {}) {
    this.ledger = ledger;
    this.txId = txId;
    this.options = options;
    const ms = time.getTime();
    this.timestamp = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
  }

  async getState(key: string): Promise<Uint8Array> {
    const value = this.ledger.state.get(key);
    return value ? value.slice() : new Uint8Array(0);
  }

  async putState(key: string, value: Uint8Array): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) throw new Error('key must be a non-empty string');
    this.writes.push([key, value.slice()]);
  }

  getTransient(): Map<string, Uint8Array> {
    return new Map(Object.entries(this.options.transient ?? {}).map(([k, v]) => [k, v.slice()]));
  }

  async getPrivateData(collection: string, key: string): Promise<Uint8Array> {
    if (this.options.privateMember === false)
      throw new Error(
        `GET_STATE failed: tx ${this.txId}: private data matching public hash version is not available`,
      );
    const value = this.ledger.privateState.get(privateKey(collection, key));
    return value ? value.slice() : new Uint8Array(0);
  }

  async putPrivateData(collection: string, key: string, value: Uint8Array): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) throw new Error('key must be a non-empty string');
    this.privateWrites.push([collection, key, value.slice()]);
  }

  createCompositeKey(objectType: string, attributes: string[]): string {
    return createCompositeKey(objectType, attributes);
  }

  getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<LedgerKV> {
    const start = createCompositeKey(objectType, attributes);
    const end = start + MAX_RUNE;
    return this.ledger.range(start, end);
  }

  getTxTimestamp(): LedgerTimestamp {
    return { ...this.timestamp };
  }

  getTxID(): string {
    return this.txId;
  }

  setEvent(name: string, payload: Uint8Array): void {
    if (typeof name !== 'string' || name.length === 0)
      throw new Error('event name must be a non-empty string');
    this.event = { name, payload: payload.slice() };
  }
}

export const DEFAULT_IDENTITY: MemoryIdentity = { mspId: 'Org1MSP' };

/** A world state with Fabric-like transactions over it. */
/** The key of `key` of `collection` in `MemoryLedger.privateState`. */
export function privateKey(collection: string, key: string): string {
  return `${collection}${NS}${key}`;
}

export class MemoryLedger {
  readonly state = new Map<string, Uint8Array>();
  /** Private data of every collection (this peer is a member of all), by `privateKey`. */
  readonly privateState = new Map<string, Uint8Array>();
  /** Events of committed transactions, in commit order. */
  readonly events: (MemoryEvent & { txId: string })[] = [];
  private sortedKeys: string[] | undefined;
  private txCount = 0;
  private clockMs = Date.parse('2025-01-01T00:00:00.000Z');

  /** Sets the clock used for transactions that do not pass their own time. */
  setTime(time: string | Date): void {
    this.clockMs = new Date(time).getTime();
  }

  /**
   * Runs `call` as one transaction: it commits the buffered writes if `call` resolves and discards
   * them if it throws (the error is rethrown).
   */
  async invoke<T>(
    call: (ctx: LedgerContext) => Promise<T>,
    options: MemoryTxOptions = {},
  ): Promise<MemoryTxResult<T>> {
    this.txCount += 1;
    const txId = options.txId ?? this.txCount.toString(16).padStart(64, '0');
    let time: Date;
    if (options.time !== undefined) {
      time = new Date(options.time);
    } else {
      time = new Date(this.clockMs);
      this.clockMs += 1000;
    }
    const stub = new MemoryStub(this, txId, time, options);
    const ctx: LedgerContext = {
      stub,
      clientIdentity: new MemoryClientIdentity(options.identity ?? DEFAULT_IDENTITY),
    };
    const result = await call(ctx);
    this.commit(stub.writes);
    for (const [collection, key, value] of stub.privateWrites)
      this.privateState.set(privateKey(collection, key), value);
    if (stub.event) this.events.push({ ...stub.event, txId });
    return { result, txId, writes: stub.writes, privateWrites: stub.privateWrites, event: stub.event };
  }

  /** Evaluates `call` without committing anything, as a query on a peer does. */
  async query<T>(call: (ctx: LedgerContext) => Promise<T>, options: MemoryTxOptions = {}): Promise<T> {
    const stub = new MemoryStub(
      this,
      options.txId ?? 'query',
      new Date(options.time ?? this.clockMs),
      options,
    );
    return call({ stub, clientIdentity: new MemoryClientIdentity(options.identity ?? DEFAULT_IDENTITY) });
  }

  private commit(writes: [string, Uint8Array][]): void {
    for (const [key, value] of writes) {
      if (!this.state.has(key)) this.sortedKeys = undefined;
      this.state.set(key, value);
    }
  }

  async *range(start: string, end: string): AsyncGenerator<LedgerKV> {
    if (!this.sortedKeys) this.sortedKeys = [...this.state.keys()].sort(compareKeys);
    const keys = this.sortedKeys;
    // Binary search for the first key ≥ start, then walk until end (exclusive).
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(keys[mid]!, start) < 0) lo = mid + 1;
      else hi = mid;
    }
    const endBytes = encoder.encode(end);
    for (let i = lo; i < keys.length; i++) {
      const key = keys[i]!;
      if (Buffer.compare(Buffer.from(key, 'utf8'), endBytes) >= 0) break;
      yield { key, value: this.state.get(key)!.slice() };
    }
  }

  /** Total bytes of keys and values in state, for benchmarks. */
  stateBytes(): number {
    let n = 0;
    for (const [key, value] of this.state) n += Buffer.byteLength(key) + value.length;
    return n;
  }
}
