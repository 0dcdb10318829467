// The chaincode's public surface: the contract list fabric-shim loads, and the pieces the gateway's
// embedded ledger needs to run the same contract in-process.

import { EvidenceContract } from './evidence-contract.ts';

export {
  BATCH_EVENT,
  type BatchEvent,
  type BatchRecord,
  type LogHead,
  type PrivateBatchValue,
  publicFlag,
  publicResolutions,
  type StoredBatch,
} from './batch.ts';
export {
  PAGE_MAX,
  type PrivateProjectValue,
  type ProjectBookValue,
  type RecordFact,
  ROOT_PAGE,
  type RuleDetails,
} from './book.ts';
export {
  CHAINCODE_ERROR_CODES,
  ChaincodeError,
  type ChaincodeErrorCode,
  chaincodeErrorCode,
  RECORD_REFUSAL_CODES,
} from './errors.ts';
export { CONTRACT_NAME, EvidenceContract } from './evidence-contract.ts';
export type { LedgerClientIdentity, LedgerContext, LedgerKV, LedgerStub, LedgerTimestamp } from './ledger.ts';
export {
  type BatchResult,
  type Checkpoint,
  type ContractTally,
  DEFAULT_ADVANCE_LIMIT_PERCENT,
  FEN_PATTERN,
  FLAG_CODES,
  type Flag,
  type FlagCode,
  type FlagResolution,
  type LedgerConfig,
  MAX_REFS,
  MAX_TEXT,
  MILESTONE_ID_PATTERN,
  type Milestone,
  PROJECT_ID_PATTERN,
  type Project,
  type ProjectLevel,
  type ProjectSummary,
  projectLevel,
  RECORD_ID_PATTERN,
  type RecordBatchArgs,
  type RecordBatchEntry,
  type RecordEntry,
  type Resolved,
  RULE_VERSIONS,
  type StoredProject,
  type StoredRecord,
  type Submitter,
} from './model.ts';
export {
  type EncodableEntry,
  type EncodedRecordBatch,
  encodeRecordBatch,
  type StoredEntryJson,
  TRANSIENT_DETAILS_KEY,
} from './protocol.ts';
export type { ProjectView, RecordView } from './queries.ts';
export {
  CHANGE_LIMIT_PERCENT,
  daysPastDue,
  emptySummary,
  evaluateRecord,
  isAdvanceOverLimit,
  isChangeOverLimit,
  isOverpaid,
  OVERDUE_DAYS,
  overdueMilestones,
  type RuleConfig,
  type RuleInput,
  type RuleOutcome,
  type RuleRecord,
  type RuleState,
  resolveContractChain,
} from './rules.ts';
export { KEY as STATE_KEYS, PRIVATE_COLLECTION, pad16, splitCompositeKey } from './state.ts';
export {
  checkEntry,
  type EntryCheck,
  type EntryDetails,
  type EntryField,
  type EntryLinks,
  type EntryProblem,
  type EntrySubject,
  type EntryView,
  kindProblems,
  type ProjectFacts,
  type RecordFacts,
  referencedIds,
  requireKindDetails,
  targetOf,
  validateEntry,
} from './validation.ts';

/** What fabric-shim's `server`/`start` commands look for in the module named by package.json#main. */
export const contracts = [EvidenceContract];
