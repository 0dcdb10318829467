// Every refusal carries a stable code in front of its message (`CODE: detail`), because a Fabric
// client only sees the message string: the gateway and the CLI read the code, never the prose.

export const CHAINCODE_ERROR_CODES = [
  'BAD_ARGUMENT',
  'BAD_RECORD',
  'UNKNOWN_KIND',
  'BAD_DIGEST',
  'BAD_CID',
  'BAD_DETAILS',
  'DETAILS_MISMATCH',
  'NO_SUCH_PROJECT',
  'BAD_REFERENCE',
  'BAD_SUPERSEDE',
  'BAD_MILESTONE',
  'RECORD_EXISTS',
  'LOG_GAP',
  'LOG_CONFLICT',
  'NOT_INITIALISED',
  'ALREADY_INITIALISED',
  'NOT_A_WRITER',
  'NOT_AN_ADMIN',
  'BAD_PROJECT',
  'PROJECT_EXISTS',
  'BAD_CONFIG',
  'NOT_FOUND',
] as const;

export type ChaincodeErrorCode = (typeof CHAINCODE_ERROR_CODES)[number];

/**
 * The codes that refuse one record of a batch (its shape, its digest, what it names) rather than
 * the batch or the caller: a client can drop that record and send the rest again.
 */
export const RECORD_REFUSAL_CODES: ReadonlySet<ChaincodeErrorCode> = new Set<ChaincodeErrorCode>([
  'BAD_RECORD',
  'UNKNOWN_KIND',
  'BAD_DIGEST',
  'BAD_CID',
  'BAD_DETAILS',
  'DETAILS_MISMATCH',
  'NO_SUCH_PROJECT',
  'BAD_REFERENCE',
  'BAD_SUPERSEDE',
  'BAD_MILESTONE',
  'RECORD_EXISTS',
]);

export class ChaincodeError extends Error {
  readonly code: ChaincodeErrorCode;

  constructor(code: ChaincodeErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'ChaincodeError';
    this.code = code;
  }
}

export function fail(code: ChaincodeErrorCode, detail: string): never {
  throw new ChaincodeError(code, detail);
}

const CODE_SET: ReadonlySet<string> = new Set(CHAINCODE_ERROR_CODES);

/**
 * The code of an error thrown by the contract, also after it crossed a process boundary as a bare
 * message (Fabric wraps it, e.g. `transaction returned with failure: LOG_GAP: …`).
 */
export function chaincodeErrorCode(error: unknown): ChaincodeErrorCode | undefined {
  if (error instanceof ChaincodeError) return error.code;
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  for (const match of message.matchAll(/\b([A-Z][A-Z_]+):/g)) {
    const code = match[1]!;
    if (CODE_SET.has(code)) return code as ChaincodeErrorCode;
  }
  return undefined;
}
