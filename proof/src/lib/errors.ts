/**
 * Every failure the library reports carries one of these stable codes, so callers (the gateway,
 * the page, the CLI) branch on `code` and never on message text.
 */
export type ProofErrorCode =
  | 'BAD_HEX'
  | 'BAD_BASE64'
  | 'BAD_LENGTH'
  | 'NOT_CANONICALISABLE'
  | 'BAD_RECORD'
  | 'BAD_FRONTIER'
  | 'INDEX_OUT_OF_RANGE'
  | 'BAD_PROOF'
  | 'BAD_SUBTREE'
  | 'MISSING_SUBTREE'
  | 'BAD_NOTE'
  | 'BAD_CHECKPOINT'
  | 'BAD_KEY'
  | 'BAD_SIGNATURE'
  | 'UNKNOWN_KEY'
  | 'BAD_RECEIPT'
  | 'BAD_BUNDLE';

export class ProofError extends Error {
  readonly code: ProofErrorCode;

  constructor(code: ProofErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'ProofError';
    this.code = code;
  }
}

export function isProofError(err: unknown): err is ProofError {
  return err instanceof ProofError;
}
