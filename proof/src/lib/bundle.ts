// The proof bundle and its verification: digest → details → record → leaf → inclusion proof →
// signed checkpoint → receipt → ledger transaction → anchor → time-stamp → witnesses' cosignatures.
// Every step reports
// pass, fail (with a code) or skipped (with a code); nothing passes silently and bad bundle
// content never throws. Network look-ups are injected, so the page, the CLI and tests decide how.

import { base64urlDecode } from '#codec-impl';
import { verifyCheckpointTimestamp } from '../timestamp/verify-timestamp.ts';
import { canonicalJson } from './canonical-json.ts';
import { type Checkpoint, parseCheckpoint, verifyCheckpoint } from './checkpoint.ts';
import { type Cosignature, checkWitnessQuorum } from './cosignature.ts';
import { sha256 } from './digest.ts';
import { fromHex, hashFromHex, isSha256Hex, toHex } from './encoding.ts';
import { ProofError } from './errors.ts';
import { assertConsistency, rootFromInclusionProof } from './merkle-proof.ts';
import { type JSONWebKeySet, RECEIPT_SM2_ALG, verifyReceipt } from './receipt.ts';
import {
  detailsDigest,
  type EvidenceRecord,
  type RecordDetails,
  recordLeafHash,
  validateRecord,
} from './record.ts';
import { checkWitnessed, isWitnessedShape, type WitnessedRef } from './witnessed.ts';

export const BUNDLE_VERSION = 'lianzheng-bundle/1';

export interface InclusionRef {
  index: number;
  size: number;
  /** Hex hashes, leaf first. */
  path: string[];
  /** The signed checkpoint note whose tree the proof is for. */
  checkpoint: string;
}

export interface LedgerRef {
  network: 'embedded' | 'fabric';
  channel?: string;
  chaincode?: string;
  txId: string;
  block: number;
  size: number;
  root: string;
  /** Fabric: the transaction's validation code (`VALID`). */
  validation?: string;
  /** Fabric: the MSP ids of the organisations whose peers endorsed the transaction. */
  endorsers?: string[];
  note?: string;
}

export interface AnchorRef {
  /** CAIP-2 chain id, e.g. `eip155:31337`. */
  chainId: string;
  contract: string;
  txHash: string;
  block: number;
  size: number;
  root: string;
  /** Hex consistency proof from `inclusion.size` to `size`. */
  consistency: string[];
}

export interface TimestampRef {
  /**
   * Base64 DER RFC 3161 TimeStampToken over the inclusion checkpoint's root hash: the root itself
   * as a SHA-256 imprint, or (CRYPTO_SUITE gm) SM3 of the root as an SM3 imprint.
   */
  token: string;
}

export interface ProofBundle {
  version: typeof BUNDLE_VERSION;
  record: EvidenceRecord;
  details?: RecordDetails;
  receipt: string;
  /** CRYPTO_SUITE dual: the same claims signed with SM2 (`RECEIPT_SM2_ALG`), same form as `receipt`. */
  receiptSm2?: string;
  inclusion?: InclusionRef;
  ledger?: LedgerRef;
  anchor?: AnchorRef;
  timestamp?: TimestampRef;
  /**
   * C2SP tlog-cosignature lines (cosignature/v1, `— <witness> <base64>`, no newline) by outside
   * witnesses over `inclusion.checkpoint`'s body. Optional: bundles from before witnesses, or
   * made before any witness answered, have none.
   */
  cosignatures?: string[];
  /**
   * A later checkpoint (size ≥ `inclusion.size`) that witnesses cosigned, with their lines and
   * the consistency proof from `inclusion.checkpoint` to it: for a record whose own checkpoint
   * was made while a witness was down. Optional; its cosignatures count for the record once the
   * later checkpoint's signature and the consistency proof verify.
   */
  witnessed?: WitnessedRef;
}

export type VerifyStepName =
  | 'digest'
  | 'details'
  | 'leaf'
  | 'inclusion'
  | 'checkpoint'
  | 'receipt'
  | 'ledger'
  | 'anchor'
  | 'timestamp'
  | 'witnesses';

export const VERIFY_STEPS: readonly VerifyStepName[] = [
  'digest',
  'details',
  'leaf',
  'inclusion',
  'checkpoint',
  'receipt',
  'ledger',
  'anchor',
  'timestamp',
  'witnesses',
];

export interface StepResult {
  step: VerifyStepName;
  status: 'pass' | 'fail' | 'skipped';
  code?: string;
  detail?: string;
}

export interface LedgerTxInfo {
  valid: boolean;
  block: number;
  size: number;
  root: string;
}

/**
 * The anchored checkpoint as a chain look-up reads it. `size`, `root` and `block` are all an old
 * look-up gave; the rest lets the anchor step check who anchored it, where, and how deep.
 */
export interface AnchorInfo {
  size: number;
  /** Lowercase hex, no 0x. */
  root: string;
  block: number;
  /** CAIP-2 id of the chain the look-up asked (`eip155:<id>`). */
  chainId?: string;
  /** The address of the contract that emitted the Anchored event (0x, any case). */
  contract?: string;
  /** The transaction's sender (`from`). */
  from?: string;
  /** The event's `anchorer` (the contract's msg.sender): the key of its append-only series. */
  anchorer?: string;
  /** The event's `originHash` (0x keccak256 of the checkpoint origin line). */
  originHash?: string;
  /** Blocks on top of and including the anchoring block. */
  confirmations?: number;
  /**
   * Whether the anchoring block is at or below the chain's `finalized` block, where the chain
   * offers that tag (absent where it does not). A finalized anchor needs no confirmation count.
   */
  finalized?: boolean;
  /**
   * The root the contract keeps for (anchorer, originHash, size), read with `rootAt` (eth_call):
   * lowercase hex; `null` when the contract keeps no roots (the first contract, events only);
   * absent when the look-up did not ask.
   */
  storedRoot?: string | null;
}

/** One (chain, contract, anchoring address) the operator anchors, or anchored, from. */
export interface AnchorSite {
  /** CAIP-2, `eip155:<id>`. */
  chainId: string;
  /** 0x address of the Anchor contract. */
  contract: string;
  /** 0x address that sends (and signs) every anchor transaction. */
  anchorer: string;
}

/**
 * The operator's anchoring identity, as GET /v1/keys publishes it under `anchor`. Pinned (given
 * in `keys.anchor`), the anchor step refuses an anchor of the right (size, root) sent by another
 * address, on another contract or on another chain.
 */
export interface AnchorIdentity extends AnchorSite {
  /** The checkpoint origin line the anchors are for. */
  origin?: string;
  /** 0x keccak256(origin): the event's and the contract's key for the log. */
  originHash?: string;
  /** Confirmations the operator waits for before a record counts as anchored. */
  confirmations?: number;
  /** Earlier sites (before a contract move or a key rotation) whose anchors still count. */
  retired?: AnchorSite[];
}

export interface VerifyBundleOptions {
  /** The document's SHA-256 (hex or 32 bytes), or the document itself as `bytes`. */
  sha256?: string | Uint8Array;
  bytes?: Uint8Array;
  /**
   * The document's SM3 (GB/T 32905-2016), 64 hex, where the caller can compute it (node:crypto
   * has it; browsers do not): checked against the record's `digests.sm3` when the record has one.
   */
  sm3?: string;
  keys: {
    jwks: JSONWebKeySet;
    checkpointKeys: string[];
    tsaRoots?: string[];
    /** The operator's anchoring identity (GET /v1/keys `anchor`); unpinned anchors are not passed. */
    anchor?: AnchorIdentity;
    /** Witness verifier keys (cosignature/v1, type 0x04) the verifier trusts. */
    witnesses?: string[];
    /** How many of `witnesses` must have cosigned; default all of them. */
    witnessQuorum?: number;
  };
  /** Fail the witnesses step (not skip it) when fewer than the quorum cosigned. */
  requireWitnessQuorum?: boolean;
  /** Looks the ledger transaction up; report an unknown transaction as `valid: false`. */
  getLedgerTx?: (ref: LedgerRef) => Promise<LedgerTxInfo>;
  /** Reads the anchored checkpoint from the chain. */
  getAnchor?: (ref: AnchorRef) => Promise<AnchorInfo>;
  /**
   * Confirmations the anchor needs; defaults to `keys.anchor.confirmations`, else 1. An anchor in a
   * block the chain reports finalized (`AnchorInfo.finalized`) meets the default, not a number
   * given here.
   */
  anchorConfirmations?: number;
  verifyTimestamp?: (token: string, rootHash: Uint8Array, tsaRoots: string[]) => Promise<StepResult>;
}

export interface BundleVerification {
  ok: boolean;
  steps: StepResult[];
}

/** Steps that must pass for a bundle to be `ok`; the others may be skipped but must not fail. */
const REQUIRED: readonly VerifyStepName[] = ['digest', 'leaf', 'inclusion', 'checkpoint', 'receipt'];

type Outcome = Omit<StepResult, 'step'>;

const pass = (detail?: string): Outcome =>
  detail === undefined ? { status: 'pass' } : { status: 'pass', detail };
const fail = (code: string, detail?: string): Outcome =>
  detail === undefined ? { status: 'fail', code } : { status: 'fail', code, detail };
const skip = (code: string, detail?: string): Outcome =>
  detail === undefined ? { status: 'skipped', code } : { status: 'skipped', code, detail };

/** A ProofError becomes a fail with its code; anything else thrown by bad input is BAD_BUNDLE. */
function failFrom(err: unknown, fallback = 'BAD_BUNDLE'): Outcome {
  if (err instanceof ProofError) return fail(err.code, err.message);
  return fail(fallback, err instanceof Error ? err.message : String(err));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function hexList(value: unknown, what: string): Uint8Array[] {
  if (!Array.isArray(value) || !value.every(isSha256Hex)) {
    throw new ProofError('BAD_BUNDLE', `${what} must be a list of 64-digit lowercase hex hashes`);
  }
  return value.map(hashFromHex);
}

function documentDigest(options: VerifyBundleOptions): Uint8Array | undefined {
  if (options.bytes !== undefined) {
    if (!(options.bytes instanceof Uint8Array))
      throw new ProofError('BAD_LENGTH', 'bytes must be a Uint8Array');
    return sha256(options.bytes);
  }
  const given = options.sha256;
  if (given === undefined) return undefined;
  if (given instanceof Uint8Array) {
    if (given.length !== 32) throw new ProofError('BAD_LENGTH', 'a SHA-256 digest is 32 bytes');
    return given;
  }
  if (typeof given !== 'string' || !/^[0-9a-fA-F]{64}$/.test(given)) {
    throw new ProofError('BAD_HEX', 'sha256 must be 64 hex digits');
  }
  return fromHex(given);
}

/** What earlier steps established, for later steps to build on. */
interface Context {
  record?: EvidenceRecord;
  leaf?: Uint8Array;
  checkpoint?: Checkpoint;
  inclusionOk: boolean;
}

function checkDigest(bundle: Record<string, unknown>, options: VerifyBundleOptions): Outcome {
  let digest: Uint8Array | undefined;
  try {
    digest = documentDigest(options);
  } catch (err) {
    return failFrom(err, 'BAD_INPUT');
  }
  if (digest === undefined) return skip('NO_DOCUMENT', 'no document or digest was given to compare');
  const claimed =
    isObject(bundle.record) && isObject(bundle.record.digests) ? bundle.record.digests.sha256 : undefined;
  if (!isSha256Hex(claimed)) return fail('BAD_RECORD', 'the record carries no SHA-256 digest');
  const actual = toHex(digest);
  if (actual !== claimed) return fail('DIGEST_MISMATCH', `document ${actual}, record ${claimed}`);
  if (options.sm3 === undefined) return pass(actual);
  const sm3 = options.sm3.toLowerCase();
  if (!isSha256Hex(sm3)) return fail('BAD_INPUT', 'the SM3 digest to compare must be 64 hex digits');
  const claimedSm3 = (bundle.record as { digests: { sm3?: unknown } }).digests.sm3;
  if (claimedSm3 === undefined) return pass(`${actual} (the record carries no SM3 digest)`);
  return sm3 === claimedSm3
    ? pass(`${actual}, SM3 ${sm3}`)
    : fail('DIGEST_MISMATCH', `SM3: document ${sm3}, record ${String(claimedSm3)}`);
}

function checkDetails(bundle: Record<string, unknown>): Outcome {
  if (bundle.details === undefined) return skip('NO_DETAILS', 'the details are not disclosed');
  if (!isObject(bundle.details) || !isObject(bundle.record))
    return fail('BAD_BUNDLE', 'details must be an object');
  const digest = detailsDigest(bundle.details as unknown as RecordDetails);
  return digest === bundle.record.detailsDigest
    ? pass(digest)
    : fail('DETAILS_MISMATCH', 'the details do not match the record');
}

function checkLeaf(bundle: Record<string, unknown>, ctx: Context): Outcome {
  const record = validateRecord(bundle.record);
  ctx.record = record;
  ctx.leaf = recordLeafHash(record);
  return pass(toHex(ctx.leaf));
}

function checkInclusion(bundle: Record<string, unknown>, ctx: Context): Outcome {
  const inclusion = bundle.inclusion;
  if (inclusion === undefined) return skip('NOT_RECORDED', 'the record is not in the log yet');
  if (!isObject(inclusion) || !isCount(inclusion.index) || !isCount(inclusion.size)) {
    return fail('BAD_BUNDLE', 'inclusion needs index and size');
  }
  if (typeof inclusion.checkpoint !== 'string') return fail('BAD_BUNDLE', 'inclusion needs a checkpoint');
  const path = hexList(inclusion.path, 'inclusion.path');
  const checkpoint = parseCheckpoint(inclusion.checkpoint);
  ctx.checkpoint = checkpoint;
  if (ctx.leaf === undefined) return skip('NO_LEAF', 'the record is invalid, so there is no leaf to prove');
  if (checkpoint.size !== inclusion.size) {
    return fail('SIZE_MISMATCH', `proof for size ${inclusion.size}, checkpoint of size ${checkpoint.size}`);
  }
  const root = rootFromInclusionProof(ctx.leaf, inclusion.index, inclusion.size, path);
  if (toHex(root) !== toHex(checkpoint.rootHash))
    return fail('BAD_PROOF', 'the proof leads to a different root');
  ctx.inclusionOk = true;
  return pass(`leaf ${inclusion.index} of ${inclusion.size}`);
}

async function checkCheckpoint(
  bundle: Record<string, unknown>,
  options: VerifyBundleOptions,
): Promise<Outcome> {
  const inclusion = bundle.inclusion;
  if (inclusion === undefined) return skip('NOT_RECORDED', 'no checkpoint before the record is in the log');
  if (!isObject(inclusion) || typeof inclusion.checkpoint !== 'string') {
    return fail('BAD_BUNDLE', 'inclusion needs a checkpoint');
  }
  const { checkpoint, verifiedBy, algorithms } = await verifyCheckpoint(
    inclusion.checkpoint,
    options.keys?.checkpointKeys,
  );
  if (checkpoint.size !== inclusion.size) {
    return fail('CHECKPOINT_MISMATCH', 'the signed checkpoint is for another tree size');
  }
  // Every signature by a published key was checked; name the algorithms (Ed25519, SM2) that were.
  return pass(`signed by ${verifiedBy.join(', ')} (${algorithms.join(' + ')})`);
}

async function checkReceipt(
  bundle: Record<string, unknown>,
  options: VerifyBundleOptions,
  ctx: Context,
): Promise<Outcome> {
  if (typeof bundle.receipt !== 'string') return fail('BAD_RECEIPT', 'the bundle has no receipt');
  const claims = await verifyReceipt(bundle.receipt, options.keys?.jwks);
  // CRYPTO_SUITE dual: an SM2 receipt beside the ES256 one. Every signature present is checked,
  // and both must state the same claims.
  const algorithms = [receiptAlg(bundle.receipt)];
  if (bundle.receiptSm2 !== undefined) {
    if (typeof bundle.receiptSm2 !== 'string') return fail('BAD_BUNDLE', 'receiptSm2 is a string');
    if (receiptAlg(bundle.receiptSm2) !== RECEIPT_SM2_ALG)
      return fail('BAD_RECEIPT', `receiptSm2 is not signed ${RECEIPT_SM2_ALG}`);
    const sm2Claims = await verifyReceipt(bundle.receiptSm2, options.keys?.jwks);
    if (canonicalJson(sm2Claims) !== canonicalJson(claims))
      return fail('RECEIPT_MISMATCH', 'the SM2 receipt states other claims than the receipt');
    algorithms.push(RECEIPT_SM2_ALG);
  }
  const record = ctx.record;
  if (record === undefined || ctx.leaf === undefined) {
    return skip('NO_LEAF', 'the receipt is signed, but the record is invalid so nothing can be compared');
  }
  const mismatched: string[] = [];
  if (claims.sub !== record.id) mismatched.push('sub');
  if (claims.sha256 !== record.digests.sha256) mismatched.push('sha256');
  if (claims.cid !== record.cid) mismatched.push('cid');
  if (claims.projectId !== record.projectId) mismatched.push('projectId');
  if (claims.kind !== record.kind) mismatched.push('kind');
  if (claims.leaf !== toHex(ctx.leaf)) mismatched.push('leaf');
  if (mismatched.length > 0) return fail('RECEIPT_MISMATCH', `receipt differs in ${mismatched.join(', ')}`);
  return pass(`issued by ${claims.iss} (${algorithms.join(' + ')})`);
}

/** The `alg` a receipt (plain or group) is signed with, as its header says. */
function receiptAlg(receipt: string): string {
  try {
    const header = JSON.parse(
      new TextDecoder().decode(base64urlDecode(receipt.slice(0, Math.max(0, receipt.indexOf('.'))))),
    );
    return typeof header.alg === 'string' ? header.alg : '?';
  } catch {
    return '?';
  }
}

async function checkLedger(
  bundle: Record<string, unknown>,
  options: VerifyBundleOptions,
  ctx: Context,
): Promise<Outcome> {
  const ref = bundle.ledger;
  if (ref === undefined) return skip('NO_LEDGER_REF', 'the record is not on the ledger yet');
  if (
    !isObject(ref) ||
    typeof ref.txId !== 'string' ||
    !isCount(ref.block) ||
    !isCount(ref.size) ||
    !isSha256Hex(ref.root)
  ) {
    return fail('BAD_BUNDLE', 'ledger needs txId, block, size and a hex root');
  }
  const checkpoint = ctx.checkpoint;
  if (checkpoint === undefined) return skip('NOT_RECORDED', 'no checkpoint to compare the ledger with');
  // The ledger transaction that recorded the batch carries the same tree as the bundle's proof.
  if (ref.size !== checkpoint.size || ref.root !== toHex(checkpoint.rootHash)) {
    return fail('LEDGER_MISMATCH', 'the ledger reference names another tree than the checkpoint');
  }
  if (options.getLedgerTx === undefined) return skip('NO_LEDGER_LOOKUP', 'the ledger was not asked');
  let tx: LedgerTxInfo;
  try {
    tx = await options.getLedgerTx(ref as unknown as LedgerRef);
  } catch (err) {
    return fail('LEDGER_LOOKUP_FAILED', err instanceof Error ? err.message : String(err));
  }
  if (!isObject(tx) || tx.valid !== true)
    return fail('LEDGER_TX_INVALID', 'the ledger does not hold a valid transaction');
  if (tx.size !== checkpoint.size || tx.root !== ref.root || tx.block !== ref.block) {
    return fail('LEDGER_MISMATCH', 'the ledger transaction records another tree');
  }
  return pass(`block ${tx.block}, transaction ${ref.txId}`);
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const CAIP2_RE = /^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}$/;

function isSite(value: unknown): value is AnchorSite {
  return (
    isObject(value) &&
    typeof value.chainId === 'string' &&
    CAIP2_RE.test(value.chainId) &&
    typeof value.contract === 'string' &&
    ADDRESS_RE.test(value.contract) &&
    typeof value.anchorer === 'string' &&
    ADDRESS_RE.test(value.anchorer)
  );
}

/** The pinned sites, lowercase, current first; throws BAD_KEY on a malformed identity. */
function pinnedSites(identity: unknown): AnchorSite[] {
  const retired = isObject(identity) ? (identity.retired ?? []) : [];
  if (!isSite(identity) || !Array.isArray(retired) || !retired.every(isSite)) {
    throw new ProofError('BAD_KEY', 'keys.anchor needs chainId, contract and anchorer (0x addresses)');
  }
  return [identity, ...retired].map((site) => ({
    chainId: site.chainId,
    contract: site.contract.toLowerCase(),
    anchorer: site.anchorer.toLowerCase(),
  }));
}

const lower = (value: unknown): string | undefined =>
  typeof value === 'string' ? value.toLowerCase() : undefined;

async function checkAnchor(
  bundle: Record<string, unknown>,
  options: VerifyBundleOptions,
  ctx: Context,
): Promise<Outcome> {
  const ref = bundle.anchor;
  if (ref === undefined) return skip('NO_ANCHOR_REF', 'the log has not been anchored since this record');
  if (
    !isObject(ref) ||
    typeof ref.txHash !== 'string' ||
    typeof ref.chainId !== 'string' ||
    typeof ref.contract !== 'string' ||
    !isCount(ref.block) ||
    !isCount(ref.size) ||
    !isSha256Hex(ref.root)
  ) {
    return fail('BAD_BUNDLE', 'anchor needs chainId, contract, txHash, block, size and a hex root');
  }
  const checkpoint = ctx.checkpoint;
  if (checkpoint === undefined) return skip('NOT_RECORDED', 'no checkpoint to link the anchor to');
  const proof = hexList(ref.consistency, 'anchor.consistency');
  assertConsistency(checkpoint.size, ref.size, proof, checkpoint.rootHash, fromHex(ref.root));

  // Who may have anchored it: the operator's published sites, when the caller pinned them.
  const identity = options.keys?.anchor;
  const sites = identity === undefined ? null : pinnedSites(identity);
  const where = (chainId: string | undefined, contract: string | undefined): Outcome | AnchorSite[] => {
    const onChain = (sites ?? []).filter((s) => s.chainId === chainId);
    if (onChain.length === 0) {
      return fail(
        'ANCHOR_FOREIGN_CHAIN',
        `anchored on ${chainId}, the operator anchors on ${sites?.[0]?.chainId}`,
      );
    }
    const atContract = onChain.filter((s) => s.contract === contract);
    if (atContract.length === 0) {
      return fail(
        'ANCHOR_FOREIGN_CONTRACT',
        `anchored on contract ${contract}, the operator's is ${onChain[0]?.contract}`,
      );
    }
    return atContract;
  };
  if (sites) {
    const claimed = where(ref.chainId, ref.contract.toLowerCase());
    if (!Array.isArray(claimed)) return claimed;
    if (isObject(identity) && typeof identity.origin === 'string' && identity.origin !== checkpoint.origin) {
      return fail(
        'ANCHOR_FOREIGN_ORIGIN',
        `the operator anchors the log ${identity.origin}, this checkpoint is of ${checkpoint.origin}`,
      );
    }
  }
  if (options.getAnchor === undefined) {
    return skip('NO_ANCHOR_LOOKUP', 'the anchored tree extends this one; the chain was not asked');
  }
  let onChain: AnchorInfo;
  try {
    onChain = await options.getAnchor(ref as unknown as AnchorRef);
  } catch (err) {
    return fail('ANCHOR_LOOKUP_FAILED', err instanceof Error ? err.message : String(err));
  }
  if (!isObject(onChain)) return fail('ANCHOR_LOOKUP_FAILED', 'the chain look-up gave no answer');
  if (onChain.size !== ref.size || onChain.root !== ref.root) {
    return fail('ANCHOR_MISMATCH', 'the chain holds another checkpoint');
  }

  const notes: string[] = [];
  if (sites) {
    // The look-up's own reading of chain and contract, not the bundle's claim, decides.
    const found = where(
      typeof onChain.chainId === 'string' ? onChain.chainId : ref.chainId,
      lower(onChain.contract) ?? ref.contract.toLowerCase(),
    );
    if (!Array.isArray(found)) return found;
    const senders = [lower(onChain.from), lower(onChain.anchorer)].filter((a) => a !== undefined);
    if (senders.length === 0) {
      return fail('ANCHOR_SENDER_UNKNOWN', 'the chain look-up did not say who sent the anchor');
    }
    const foreign = senders.find((a) => !found.some((s) => s.anchorer === a));
    if (foreign !== undefined) {
      return fail(
        'ANCHOR_FOREIGN_SENDER',
        `anchored by ${foreign}, the operator anchors from ${found.map((s) => s.anchorer).join(', ')}`,
      );
    }
    const originHash = isObject(identity) ? lower(identity.originHash) : undefined;
    if (
      originHash !== undefined &&
      lower(onChain.originHash) !== undefined &&
      lower(onChain.originHash) !== originHash
    ) {
      return fail('ANCHOR_FOREIGN_ORIGIN', `the anchor is for origin hash ${String(onChain.originHash)}`);
    }
  }
  if (typeof onChain.storedRoot === 'string') {
    if (onChain.storedRoot.toLowerCase() !== ref.root) {
      return fail(
        'ANCHOR_ROOT_NOT_STORED',
        `the contract keeps ${onChain.storedRoot} for size ${ref.size}, not the anchored root`,
      );
    }
    notes.push('root read back from the contract');
  } else if (onChain.storedRoot === null) {
    notes.push('the contract keeps no roots: checked against its event only');
  }
  const pinnedConfirmations = isObject(identity) ? identity.confirmations : undefined;
  const needed = options.anchorConfirmations ?? (isCount(pinnedConfirmations) ? pinnedConfirmations : 1);
  // Final by the chain's own consensus stands in for the operator's published count; a count the
  // caller asks for itself (`anchorConfirmations`, the CLI's --confirmations) is held as a count.
  if (onChain.finalized === true && options.anchorConfirmations === undefined) {
    notes.push(
      `in a finalized block${isCount(onChain.confirmations) ? ` (${onChain.confirmations} confirmations)` : ''}`,
    );
  } else if (needed > 1 || onChain.confirmations !== undefined) {
    if (!isCount(onChain.confirmations)) {
      return fail('ANCHOR_NOT_CONFIRMED', `${needed} confirmations needed; the look-up gave no count`);
    }
    if (onChain.confirmations < needed) {
      return fail('ANCHOR_NOT_CONFIRMED', `${onChain.confirmations} of ${needed} confirmations`);
    }
    notes.push(`${onChain.confirmations} confirmations`);
  }
  const detail = `block ${onChain.block}, transaction ${ref.txHash}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`;
  if (!sites) {
    return skip(
      'ANCHOR_NOT_PINNED',
      `${detail}; the chain holds this checkpoint, but no anchoring address or contract was pinned, so anyone may have sent it`,
    );
  }
  return pass(`${detail}; sent by ${lower(onChain.from) ?? lower(onChain.anchorer)}`);
}

async function checkTimestamp(
  bundle: Record<string, unknown>,
  options: VerifyBundleOptions,
  ctx: Context,
): Promise<Outcome> {
  const ts = bundle.timestamp;
  if (ts === undefined) return skip('NO_TIMESTAMP', 'no RFC 3161 time-stamp');
  if (!isObject(ts) || typeof ts.token !== 'string') return fail('BAD_BUNDLE', 'timestamp needs a token');
  // The built-in RFC 3161 check runs everywhere (DER reader + WebCrypto); a caller may swap it.
  const verifyTimestamp = options.verifyTimestamp ?? verifyCheckpointTimestamp;
  if ((options.keys?.tsaRoots ?? []).length === 0 && options.verifyTimestamp === undefined)
    return skip('NO_TSA_ROOTS', 'no trusted time-stamp authority root was given');
  if (ctx.checkpoint === undefined)
    return skip('NOT_RECORDED', 'no checkpoint root to check the time-stamp against');
  try {
    const result = await verifyTimestamp(ts.token, ctx.checkpoint.rootHash, options.keys?.tsaRoots ?? []);
    if (!isObject(result) || !['pass', 'fail', 'skipped'].includes(result.status as string)) {
      return fail('TIMESTAMP_VERIFY_FAILED', 'the time-stamp verifier gave no result');
    }
    const { status, code, detail } = result;
    return { status, ...(code === undefined ? {} : { code }), ...(detail === undefined ? {} : { detail }) };
  } catch (err) {
    return fail('TIMESTAMP_VERIFY_FAILED', err instanceof Error ? err.message : String(err));
  }
}

/** Cap on cosignature lines read from a bundle (C2SP witnesses are a handful per log). */
const MAX_COSIGNATURES = 64;

async function checkWitnesses(
  bundle: Record<string, unknown>,
  options: VerifyBundleOptions,
  ctx: Context,
): Promise<Outcome> {
  const lines = bundle.cosignatures;
  const keys = options.keys?.witnesses ?? [];
  if (lines !== undefined) {
    if (
      !Array.isArray(lines) ||
      lines.length > MAX_COSIGNATURES ||
      !lines.every((l) => typeof l === 'string' && l.startsWith('\u2014 ') && !l.includes('\n'))
    ) {
      return fail('BAD_BUNDLE', `cosignatures are at most ${MAX_COSIGNATURES} signature lines`);
    }
  }
  if (bundle.witnessed !== undefined && !isWitnessedShape(bundle.witnessed)) {
    return fail('BAD_BUNDLE', 'witnessed needs a checkpoint, cosignature lines and a hex consistency proof');
  }
  if (keys.length === 0) return skip('NO_WITNESSES', 'no trusted witness keys were given');
  const inclusion = bundle.inclusion;
  if (!isObject(inclusion) || typeof inclusion.checkpoint !== 'string') {
    return skip('NOT_RECORDED', 'no checkpoint for witnesses to have cosigned');
  }
  const quorum = options.keys.witnessQuorum ?? keys.length;
  // The witnesses' lines join the checkpoint's own signature block, as on /v1/log/checkpoint.
  const note = `${inclusion.checkpoint}${((lines as string[] | undefined) ?? []).map((l) => `${l}\n`).join('')}`;
  const r = checkWitnessQuorum(note, keys, quorum);
  if (r.invalid.length > 0) {
    return fail(
      'BAD_COSIGNATURE',
      `a cosignature by ${r.invalid.join(', ')} does not verify over this checkpoint`,
    );
  }
  const at = (c: Cosignature) => `${c.name} at ${new Date(c.time * 1000).toISOString()}`;
  const own = r.cosignatures;
  // A later checkpoint's cosignatures count for this record only once the later checkpoint is
  // shown to be the log's (its signature) and to extend the record's (the consistency proof).
  let later: { size: number; cosignatures: Cosignature[] } | undefined;
  if (bundle.witnessed !== undefined) {
    const recordCheckpoint = ctx.checkpoint ?? parseCheckpoint(inclusion.checkpoint);
    const w = checkWitnessed(recordCheckpoint, bundle.witnessed, keys);
    if (!w.ok) return fail(w.code, w.detail);
    try {
      await verifyCheckpoint((bundle.witnessed as WitnessedRef).checkpoint, options.keys?.checkpointKeys);
    } catch (err) {
      return fail(
        'WITNESSED_BAD_CHECKPOINT',
        `the witnessed checkpoint of size ${w.checkpoint.size} is not signed by the log's keys: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (w.check.invalid.length > 0) {
      return fail(
        'BAD_COSIGNATURE',
        `a cosignature by ${w.check.invalid.join(', ')} does not verify over the witnessed checkpoint of size ${w.checkpoint.size}`,
      );
    }
    // A witness that cosigned both counts once, for its cosignature over the record's own tree.
    later = {
      size: w.checkpoint.size,
      cosignatures: w.check.cosignatures.filter((c) => !own.some((o) => o.vkey === c.vkey)),
    };
  }
  const count = own.length + (later?.cosignatures.length ?? 0);
  const met = count >= r.quorum;
  const parts = [own.length > 0 ? own.map(at).join(', ') : ''];
  if (later !== undefined && later.cosignatures.length > 0) {
    parts.push(
      `cosigned at size ${later.size}, consistent with the record's checkpoint (size ${ctx.checkpoint?.size ?? inclusion.size}): ${later.cosignatures.map(at).join(', ')}`,
    );
  }
  const named = parts.filter((p) => p !== '').join('; ');
  const detail = `${count} of ${r.of} witnesses cosigned (quorum ${r.quorum})${named !== '' ? `: ${named}` : ''}`;
  if (met) return pass(detail);
  return options.requireWitnessQuorum
    ? fail('WITNESS_QUORUM_NOT_MET', detail)
    : skip('WITNESS_QUORUM_NOT_MET', detail);
}

async function run(step: () => Outcome | Promise<Outcome>): Promise<Outcome> {
  try {
    return await step();
  } catch (err) {
    return failFrom(err);
  }
}

/**
 * Re-does every check a proof bundle allows and reports one result per step, in VERIFY_STEPS
 * order. `ok` means no step failed and digest, leaf, inclusion, checkpoint and receipt passed.
 */
export async function verifyBundle(
  bundle: unknown,
  options: VerifyBundleOptions,
): Promise<BundleVerification> {
  if (!isObject(bundle) || bundle.version !== BUNDLE_VERSION) {
    const detail = isObject(bundle) ? `unsupported version ${String(bundle.version)}` : 'not a bundle';
    return {
      ok: false,
      steps: VERIFY_STEPS.map((step) => ({ step, status: 'fail', code: 'BAD_BUNDLE', detail })),
    };
  }
  const ctx: Context = { inclusionOk: false };
  const outcomes: Record<VerifyStepName, Outcome> = {
    digest: await run(() => checkDigest(bundle, options)),
    details: await run(() => checkDetails(bundle)),
    leaf: await run(() => checkLeaf(bundle, ctx)),
    inclusion: await run(() => checkInclusion(bundle, ctx)),
    checkpoint: await run(() => checkCheckpoint(bundle, options)),
    receipt: await run(() => checkReceipt(bundle, options, ctx)),
    ledger: await run(() => checkLedger(bundle, options, ctx)),
    anchor: await run(() => checkAnchor(bundle, options, ctx)),
    timestamp: await run(() => checkTimestamp(bundle, options, ctx)),
    witnesses: await run(() => checkWitnesses(bundle, options, ctx)),
  };
  const steps = VERIFY_STEPS.map((step) => ({ step, ...outcomes[step] }));
  const ok =
    steps.every((s) => s.status !== 'fail') && REQUIRED.every((name) => outcomes[name].status === 'pass');
  return { ok, steps };
}
