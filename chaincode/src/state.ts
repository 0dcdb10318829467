// The world-state key layout and the transaction's own view of state. Fabric does not let a
// transaction read its own writes, so later records in a batch see earlier ones through `pending`;
// every value goes through canonicalJson, so the same proposal writes the same bytes on any peer.

import { canonicalBytes } from '@lianzheng/proof';
import type { LedgerStub } from './ledger.ts';

/**
 * Composite-key object types. Attributes are ids validated against composite-key rules (no
 * U+0000, no U+10FFFF) and zero-padded numbers, so that range scans come back in log order.
 *
 * | key                                   | value                                  |
 * |---------------------------------------|----------------------------------------|
 * | config                                | LedgerConfig                           |
 * | project  · projectId                  | StoredProject                          |
 * | summary  · projectId                  | ProjectSummary (the rules' aggregates) |
 * | record   · recordId                   | StoredRecord                           |
 * | digest   · sha256 · index16 · recordId| recordId  (FindByDigest: prefix scan)  |
 * | trail    · projectId · fromSize16     | recordId[] of one batch (ProjectTrail) |
 * | flag     · projectId · index16 · n2   | Flag      (GetFlags: prefix scan)      |
 * | log                                   | LogHead {size, root, frontier}         |
 * | checkpoint · size16                   | Checkpoint {size, root}                |
 * | batch    · fromSize16                 | StoredBatch (the answer to a repeat)   |
 */
export const KEY = {
  config: 'config',
  project: 'project',
  summary: 'summary',
  record: 'record',
  digest: 'digest',
  trail: 'trail',
  flag: 'flag',
  log: 'log',
  checkpoint: 'checkpoint',
  batch: 'batch',
} as const;

/** Fixed-width decimal so that lexical key order is numeric order (2^53 has 16 digits). */
export function pad16(n: number): string {
  return n.toString().padStart(16, '0');
}

export function pad2(n: number): string {
  return n.toString().padStart(2, '0');
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
