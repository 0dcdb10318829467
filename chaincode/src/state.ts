// The world-state key layout and the transaction's own view of state. Fabric does not let a
// transaction read its own writes, so later records in a batch see earlier ones through `pending`;
// every value goes through canonicalJson, so the same proposal writes the same bytes on any peer.
//
// On a Fabric peer every GetState, PutState and range scan is a gRPC round trip between chaincode
// and peer, and fabric-shim has no multi-key get or put. So the layout is shaped by the number of
// calls a RecordBatch makes, not by the number of records: a batch's records are one value, a
// project's rule state is one value plus the few pages of facts the batch names, and the log's
// frontier is one value.

import { canonicalBytes } from '@lianzheng/proof';
import type { LedgerStub } from './ledger.ts';

/**
 * Composite-key object types. Attributes are ids validated against composite-key rules (no
 * U+0000, no U+10FFFF) and zero-padded numbers, so that range scans come back in log order.
 *
 * | key                       | value                                                          |
 * |---------------------------|----------------------------------------------------------------|
 * | config                    | LedgerConfig                                                   |
 * | project  · projectId      | the registration, the record count, public resolutions; the    |
 * |                           | rules' summary privately (book.ts)                             |
 * | facts · projectId · prefix| a page of the project's facts, or a split (book.ts)            |
 * | batch    · fromSize16     | StoredBatch: the batch's records, result, leaves digest        |
 * | log                       | LogHead {size, root, hashes}                                   |
 * | checkpoint · size16       | Checkpoint {size, root}                                        |
 */
export const KEY = {
  config: 'config',
  project: 'project',
  facts: 'facts',
  batch: 'batch',
  log: 'log',
  checkpoint: 'checkpoint',
} as const;

/**
 * The private data collection for what must not reach every peer's blocks: restricted records'
 * details, the facts behind flags and the rules' running totals. Its keys are composite keys of
 * the same object types (`batch · fromSize16`, `project · projectId`).
 */
export const PRIVATE_COLLECTION = 'restrictedDetails';

/** Fixed-width decimal so that lexical key order is numeric order (2^53 has 16 digits). */
export function pad16(n: number): string {
  return n.toString().padStart(16, '0');
}

const decoder = new TextDecoder();

/**
 * A value the contract has already written as its bytes: exactly `canonicalBytes` of the value it
 * stands for (whoever builds one guarantees it, as for a TrustedCanonicalFragment). RecordBatch
 * writes its batch value this way, straight from the records' strings (batch.ts).
 */
export class EncodedValue {
  constructor(readonly bytes: Uint8Array) {}
}

export function encodeValue(value: unknown): Uint8Array {
  return value instanceof EncodedValue ? value.bytes : canonicalBytes(value);
}

export function decodeValue<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

export class StateView {
  readonly stub: LedgerStub;
  private readonly committed = new Map<string, unknown>();
  private readonly pending = new Map<string, unknown>();
  private readonly privateCommitted = new Map<string, unknown>();
  private readonly privatePending = new Map<string, unknown>();

  constructor(stub: LedgerStub) {
    this.stub = stub;
  }

  key(objectType: string, ...attributes: string[]): string {
    return this.stub.createCompositeKey(objectType, attributes);
  }

  /** This transaction's own write if there is one, else committed state. */
  async get<T>(key: string): Promise<T | undefined> {
    if (this.pending.has(key)) {
      const value = this.pending.get(key);
      return (value instanceof EncodedValue ? decodeValue<T>(value.bytes) : value) as T;
    }
    if (this.committed.has(key)) return this.committed.get(key) as T | undefined;
    const bytes = await this.stub.getState(key);
    const value = bytes && bytes.length > 0 ? decodeValue<T>(bytes) : undefined;
    this.committed.set(key, value);
    return value;
  }

  set(key: string, value: unknown): void {
    this.pending.set(key, value);
  }

  /**
   * `get` for the private collection. Throws where the peer cannot read it (not a member): a
   * submit must fail there; a query catches it (`tryPrivate`).
   */
  async getPrivate<T>(key: string): Promise<T | undefined> {
    if (this.privatePending.has(key)) return this.privatePending.get(key) as T;
    if (this.privateCommitted.has(key)) return this.privateCommitted.get(key) as T | undefined;
    const bytes = await this.stub.getPrivateData(PRIVATE_COLLECTION, key);
    const value = bytes && bytes.length > 0 ? decodeValue<T>(bytes) : undefined;
    this.privateCommitted.set(key, value);
    return value;
  }

  /** `getPrivate`, with `readable: false` where this peer may not read the collection. */
  async tryPrivate<T>(key: string): Promise<{ readable: boolean; value?: T }> {
    try {
      const value = await this.getPrivate<T>(key);
      return value === undefined ? { readable: true } : { readable: true, value };
    } catch {
      return { readable: false };
    }
  }

  setPrivate(key: string, value: unknown): void {
    this.privatePending.set(key, value);
  }

  get pendingWrites(): number {
    return this.pending.size + this.privatePending.size;
  }

  /**
   * Hands the writes to the stub in key order, public then private (the write set does not
   * depend on code paths' order).
   */
  async flush(): Promise<number> {
    const keys = [...this.pending.keys()].sort();
    for (const key of keys) await this.stub.putState(key, encodeValue(this.pending.get(key)));
    const privateKeys = [...this.privatePending.keys()].sort();
    for (const key of privateKeys)
      await this.stub.putPrivateData(PRIVATE_COLLECTION, key, encodeValue(this.privatePending.get(key)));
    const n = keys.length + privateKeys.length;
    this.pending.clear();
    this.privatePending.clear();
    return n;
  }

  async *scan<T>(objectType: string, ...attributes: string[]): AsyncGenerator<{ key: string; value: T }> {
    for await (const kv of this.stub.getStateByPartialCompositeKey(objectType, attributes)) {
      yield { key: kv.key, value: decodeValue<T>(kv.value) };
    }
  }
}

/** The Fabric composite-key attributes of `key`, without the object type. */
export function splitCompositeKey(key: string): { objectType: string; attributes: string[] } {
  const parts = key.slice(1).split('\u0000');
  parts.pop();
  const [objectType = '', ...attributes] = parts;
  return { objectType, attributes };
}
