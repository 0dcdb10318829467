/** Stable codes for everything that can go wrong while anchoring or reading an anchor. */
export type AnchorErrorCode =
  | 'BAD_KEY_FILE'
  | 'ARTEFACT_MISSING'
  | 'CHAIN_MISMATCH'
  | 'CONTRACT_MISSING'
  | 'FEE_CAP_TOO_LOW'
  | 'DEPLOY_FAILED'
  | 'BAD_CHECKPOINT';

export class AnchorError extends Error {
  constructor(
    readonly code: AnchorErrorCode,
    detail: string,
    /** The environment variable at fault, when there is one. */
    readonly variable?: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'AnchorError';
  }
}
