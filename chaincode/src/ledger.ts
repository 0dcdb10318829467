// The part of Fabric's ChaincodeStub and ClientIdentity the contract uses, and nothing more, so the
// gateway's embedded ledger (PostgreSQL) and the in-memory test stub can stand in for a peer.
// Fabric's own objects satisfy these interfaces structurally.

export interface LedgerKV {
  key: string;
  value: Uint8Array;
}

/** Fabric's `Timestamp`: `seconds` is a `Long` there, a number or bigint elsewhere. */
export interface LedgerTimestamp {
  seconds: number | bigint | { toNumber(): number };
  nanos: number;
}

export interface LedgerStub {
  /** Committed state only: a transaction never reads its own writes. Empty array when absent. */
  getState(key: string): Promise<Uint8Array>;
  /** Buffered; applied when the transaction commits. */
  putState(key: string, value: Uint8Array): Promise<void>;
  createCompositeKey(objectType: string, attributes: string[]): string;
  /** Committed keys with this prefix, sorted by key (bytewise, as LevelDB does). */
  getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<LedgerKV>;
  getTxTimestamp(): LedgerTimestamp;
  /** The proposal's transient data: seen by the endorsing peers, never written to a block. */
  getTransient(): Map<string, Uint8Array>;
  /**
   * Committed private data of `collection` (empty array when absent). Throws on a peer that is not
   * a member of the collection.
   */
  getPrivateData(collection: string, key: string): Promise<Uint8Array>;
  /** Buffered like putState; only the hash of key and value reaches the block. */
  putPrivateData(collection: string, key: string, value: Uint8Array): Promise<void>;
  getTxID(): string;
  setEvent(name: string, payload: Uint8Array): void;
}

export interface LedgerClientIdentity {
  getMSPID(): string;
  /** Fabric form: `x509::<subject DN>::<issuer DN>`. */
  getID(): string;
  getAttributeValue(name: string): string | null;
}

/** What a transaction function receives; Fabric's `Context` has these two properties. */
export interface LedgerContext {
  stub: LedgerStub;
  clientIdentity: LedgerClientIdentity;
}
