// RFC 3161 time-stamp token verification, for proof bundles' `timestamp` step.
export {
  type TimestampCheck,
  type TimestampFailureCode,
  type VerifyTimestampOptions,
  verifyCheckpointTimestamp,
  verifyTimestampToken,
} from './verify-timestamp.ts';
