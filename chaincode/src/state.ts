// The world-state key layout and the transaction's own view of state. Fabric does not let a
// transaction read its own writes, so later records in a batch see earlier ones through `pending`;
// every value goes through canonicalJson, so the same proposal writes the same bytes on any peer.
//
// On a Fabric peer every GetState, PutState and range scan is a gRPC round trip between chaincode
// and peer, and fabric-shim has no multi-key get or put. So the layout is shaped by the number of
// calls a RecordBatch makes, not by the number of records: a batch's records are one value, a
// project's rule state is one value, and the log's frontier is one value.

import { canonicalBytes } from '@lianzheng/proof';
import type { LedgerStub } from './ledger.ts';

/**
 * Composite-key object types. Attributes are ids validated against composite-key rules (no
 * U+0000, no U+10FFFF) and zero-padded numbers, so that range scans come back in log order.
 *
 * | key                       | value                                                          |
 * |---------------------------|----------------------------------------------------------------|
 * | config                    | LedgerConfig                                                   |
 * | project  · projectId      | ProjectBook: the registration, the rules' summary, and the     |
 * |                           | facts of each of its records, the batches that hold them       |
 * | batch    · fromSize16     | StoredBatch: the batch's records, result, leaves digest        |
 * | log                       | LogHead {size, root, hashes}                                   |
 * | checkpoint · size16       | Checkpoint {size, root}                                        |
 */
export const KEY = {
  config: 'config',
  project: 'project',
  batch: 'batch',
  log: 'log',
  checkpoint: 'checkpoint',
} as const;

/** Fixed-width decimal so that lexical key order is numeric order (2^53 has 16 digits). */
export function pad16(n: number): string {
  return n.toString().padStart(16, '0');
}

const decoder = new TextDecoder();

export function encodeValue(value: unknown): Uint8Array {
  return canonicalBytes(value);
}

export function decodeValue<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

export class StateView {
  readonly stub: LedgerStub;
  private readonly committed = new Map<string, unknown>();
  private readonly pending = new Map<string, unknown>();

  constructor(stub: LedgerStub) {
    this.stub = stub;
  }

  key(objectType: string, ...attributes: string[]): string {
    return this.stub.createCompositeKey(objectType, attributes);
  }

  /** This transaction's own write if there is one, else committed state. */
  async get<T>(key: string): Promise<T | undefined> {
    if (this.pending.has(key)) return this.pending.get(key) as T;
    if (this.committed.has(key)) return this.committed.get(key) as T | undefined;
    const bytes = await this.stub.getState(key);
    const value = bytes && bytes.length > 0 ? decodeValue<T>(bytes) : undefined;
    this.committed.set(key, value);
    return value;
  }

  set(key: string, value: unknown): void {
    this.pending.set(key, value);
  }

  get pendingWrites(): number {
    return this.pending.size;
  }

  /** Hands the writes to the stub in key order (the write set does not depend on code paths' order). */
  async flush(): Promise<number> {
    const keys = [...this.pending.keys()].sort();
    for (const key of keys) await this.stub.putState(key, encodeValue(this.pending.get(key)));
    const n = keys.length;
    this.pending.clear();
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
