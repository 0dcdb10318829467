// RFC 3161 time-stamp token verification, for proof bundles' `timestamp` step.
export {
  checkpointTimestampImprint,
  type TimestampCheck,
  type TimestampFailureCode,
  timestampImprintAlgorithm,
  type VerifyTimestampOptions,
  verifyCheckpointTimestamp,
  verifyTimestampToken,
} from './verify-timestamp.ts';
