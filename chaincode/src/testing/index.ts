// `@lianzheng/chaincode/testing`: the in-memory ledger and record builders for tests and benchmarks.

export { ContractDriver, INSPECTOR, WRITER } from './driver.ts';
export {
  createCompositeKey,
  DEFAULT_IDENTITY,
  MemoryClientIdentity,
  type MemoryEvent,
  type MemoryIdentity,
  MemoryLedger,
  MemoryStub,
  type MemoryTxOptions,
  type MemoryTxResult,
  privateKey,
} from './memory-stub.ts';
export { buildEntry, type EntryOptions, testRecordId, villageRoadProject } from './records.ts';
