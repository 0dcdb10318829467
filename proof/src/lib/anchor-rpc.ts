// Reads an anchored checkpoint back from an EVM chain with plain JSON-RPC, through a `rpc(method,
// params)` function the caller supplies: eth_chainId, eth_getTransactionReceipt (the Anchored event
// decoded from its logs, with the transaction's sender and the emitting contract), eth_call
// rootAt (the root the contract itself keeps for that size), eth_blockNumber (confirmations) and
// eth_getBlockByNumber("finalized") (whether the anchor is final, where the chain offers the tag).
// No I/O here and no ethers: the verifier page passes a `fetch` to the user's own node, the CLI and
// the gateway pass theirs, and all three decode the chain's answer the same way. What the answer
// must match (the operator's chain, contract, sender, origin; the bundle's size and root; the
// confirmations) is verifyBundle's anchor step, fed with what this returns.

import type { AnchorInfo } from './bundle.ts';

/** topic0 of `Anchored(address indexed anchorer, bytes32 indexed originHash, uint64 size, bytes32 root)`. */
export const ANCHORED_EVENT_TOPIC = '0x3d0c97912257c6ad70e8f6fc81ae518ad3e14734d308b512c2729cc637a4b0b1';

/** Selector of `rootAt(address anchorer, bytes32 originHash, uint64 size) view returns (bytes32)`. */
export const ROOT_AT_SELECTOR = '0xa8a320a6';

/**
 * One JSON-RPC call: resolves with the answer's `result`; rejects with a JsonRpcError when the
 * endpoint answered with a JSON-RPC `error`, and with any other error when there was no answer
 * (connection refused, timeout, HTTP error status, not JSON).
 */
export type JsonRpcCall = (method: string, params: unknown[]) => Promise<unknown>;

/** The endpoint answered, with a JSON-RPC error object. */
export class JsonRpcError extends Error {
  constructor(
    readonly rpcCode: number | undefined,
    readonly rpcMessage: string,
  ) {
    super(`JSON-RPC error ${rpcCode ?? '?'}: ${rpcMessage}`);
    this.name = 'JsonRpcError';
  }
}

export type AnchorReadErrorCode =
  | 'ANCHOR_BAD_REF' // the reference itself is malformed
  | 'ANCHOR_RPC_UNREACHABLE' // no answer: connection refused, timed out, or an HTTP error status
  | 'ANCHOR_RPC_ERROR' // the endpoint answered with a JSON-RPC error or nonsense
  | 'ANCHOR_CHAIN_MISMATCH' // the endpoint serves another chain than the reference names
  | 'ANCHOR_TX_NOT_FOUND' // no mined transaction with that hash
  | 'ANCHOR_TX_FAILED' // mined but reverted
  | 'ANCHOR_EVENT_MISSING' // mined, but no Anchored event from the named contract
  | 'ANCHOR_NOT_CONFIRMED'; // fewer confirmations than the caller asked for

export class AnchorReadError extends Error {
  constructor(
    readonly code: AnchorReadErrorCode,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'AnchorReadError';
  }
}

/** What a read needs from a bundle's anchor reference. */
export interface AnchorTxRef {
  chainId: string; // CAIP-2, `eip155:<id>`
  contract: string; // 0x address
  txHash: string; // 0x + 64 hex
}

/** The anchored checkpoint as the chain records it: every field verifyBundle's anchor step reads. */
export interface ChainAnchor extends Required<Omit<AnchorInfo, 'storedRoot' | 'finalized'>> {
  /** At or below the chain's finalized block; absent where the chain offers no `finalized` tag. */
  finalized?: boolean;
  /** Lowercase hex, no 0x. */
  root: string;
  /** Lowercase 0x addresses. */
  contract: string;
  anchorer: string;
  from: string;
  /**
   * The root the contract keeps for (anchorer, originHash, size), lowercase hex without 0x (all
   * zeros: none kept at that size); null when the contract has no `rootAt` (the first,
   * events-only one).
   */
  storedRoot: string | null;
}

export interface ReadAnchorOptions {
  /**
   * Refuse anchors with fewer confirmations (default 1: mined); a count, whatever the finality
   * (verifyBundle lets a finalized block meet the operator's published count).
   */
  minConfirmations?: number;
}

interface RpcLog {
  address?: unknown;
  topics?: unknown;
  data?: unknown;
}

const HASH_RE = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const WORD_RE = /^0x[0-9a-fA-F]{64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function quantity(hex: unknown, what: string): number {
  if (typeof hex !== 'string' || !/^0x[0-9a-fA-F]{1,16}$/.test(hex)) {
    throw new AnchorReadError('ANCHOR_RPC_ERROR', `bad ${what}`);
  }
  const n = Number.parseInt(hex, 16);
  if (!Number.isSafeInteger(n)) throw new AnchorReadError('ANCHOR_RPC_ERROR', `${what} out of range`);
  return n;
}

/** The ABI encoding of rootAt(anchorer, originHash, size): selector and three 32-byte words. */
export function rootAtCallData(anchorer: string, originHash: string, size: bigint | number): string {
  return (
    ROOT_AT_SELECTOR +
    anchorer.slice(2).toLowerCase().padStart(64, '0') +
    originHash.slice(2).toLowerCase() +
    BigInt(size).toString(16).padStart(64, '0')
  );
}

/** The Anchored event of `contract` among a receipt's logs, decoded; undefined if none is well formed. */
export function decodeAnchoredEvent(
  logs: unknown,
  contract: string,
): { anchorer: string; originHash: string; size: bigint; root: string } | undefined {
  if (!Array.isArray(logs)) return undefined;
  const want = contract.toLowerCase();
  for (const l of logs as RpcLog[]) {
    if (!isObject(l) || typeof l.address !== 'string' || l.address.toLowerCase() !== want) continue;
    const topics = l.topics;
    if (!Array.isArray(topics) || typeof topics[0] !== 'string') continue;
    if (topics[0].toLowerCase() !== ANCHORED_EVENT_TOPIC) continue;
    // Two indexed words (anchorer, originHash) and two data words (size, root): nothing else.
    if (topics.length !== 3 || !topics.every((t) => typeof t === 'string' && HASH_RE.test(t))) continue;
    if (typeof l.data !== 'string' || !/^0x[0-9a-fA-F]{128}$/.test(l.data)) continue;
    const anchorerWord = (topics[1] as string).toLowerCase();
    // An address is the low 20 bytes of its word; anything in the high 12 is not an address.
    if (!/^0x0{24}/.test(anchorerWord)) continue;
    return {
      anchorer: `0x${anchorerWord.slice(26)}`,
      originHash: (topics[2] as string).toLowerCase(),
      size: BigInt(`0x${l.data.slice(2, 66)}`),
      root: l.data.slice(66, 130).toLowerCase(),
    };
  }
  return undefined;
}

/**
 * Reads the anchor a bundle names from the chain behind `rpc`. Throws AnchorReadError (with a
 * stable code) when it cannot: the caller (verifyBundle's getAnchor) reports that as a failed
 * look-up, never as a pass.
 */
export async function readAnchorFromChain(
  rpc: JsonRpcCall,
  ref: AnchorTxRef,
  options: ReadAnchorOptions = {},
): Promise<ChainAnchor> {
  const minConfirmations = options.minConfirmations ?? 1;
  const m = /^eip155:(\d{1,19})$/.exec(ref?.chainId ?? '');
  if (!m || !ADDRESS_RE.test(ref.contract ?? '') || !HASH_RE.test(ref.txHash ?? '')) {
    throw new AnchorReadError('ANCHOR_BAD_REF', 'chainId, contract or txHash malformed');
  }
  const contract = ref.contract.toLowerCase();

  async function call(method: string, params: unknown[]): Promise<unknown> {
    try {
      return await rpc(method, params);
    } catch (e) {
      throw readError(method, e);
    }
  }

  const chainId = quantity(await call('eth_chainId', []), 'chain id');
  if (`eip155:${chainId}` !== ref.chainId) {
    throw new AnchorReadError('ANCHOR_CHAIN_MISMATCH', `the endpoint serves eip155:${chainId}`);
  }
  const receipt = await call('eth_getTransactionReceipt', [ref.txHash]);
  if (receipt === null || receipt === undefined) throw new AnchorReadError('ANCHOR_TX_NOT_FOUND', ref.txHash);
  if (!isObject(receipt)) throw new AnchorReadError('ANCHOR_RPC_ERROR', 'the receipt is not an object');
  if (receipt.status !== '0x1') throw new AnchorReadError('ANCHOR_TX_FAILED', ref.txHash);
  const block = quantity(receipt.blockNumber, 'block number');
  if (typeof receipt.from !== 'string' || !ADDRESS_RE.test(receipt.from)) {
    throw new AnchorReadError('ANCHOR_RPC_ERROR', 'the receipt names no sender');
  }
  const event = decodeAnchoredEvent(receipt.logs, contract);
  if (event === undefined) {
    throw new AnchorReadError('ANCHOR_EVENT_MISSING', `no Anchored event from ${contract}`);
  }
  if (event.size > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new AnchorReadError('ANCHOR_RPC_ERROR', 'size out of range');
  }
  const storedRoot = await rootAt(rpc, contract, event.anchorer, event.originHash, event.size);
  const head = quantity(await call('eth_blockNumber', []), 'block number');
  const confirmations = head - block + 1;
  const finalized = await finalizedBlock(rpc);
  if (confirmations < minConfirmations) {
    throw new AnchorReadError(
      'ANCHOR_NOT_CONFIRMED',
      `${confirmations} of ${minConfirmations} confirmations`,
    );
  }
  return {
    size: Number(event.size),
    root: event.root,
    block,
    chainId: ref.chainId,
    contract,
    anchorer: event.anchorer,
    from: receipt.from.toLowerCase(),
    originHash: event.originHash,
    confirmations,
    storedRoot,
    ...(finalized !== undefined ? { finalized: block <= finalized } : {}),
  };
}

/**
 * The number of the chain's finalized block, or undefined where the chain (or node) offers no
 * `finalized` tag: a JSON-RPC error or no block. A node that does not answer is unreachable.
 */
async function finalizedBlock(rpc: JsonRpcCall): Promise<number | undefined> {
  let result: unknown;
  try {
    result = await rpc('eth_getBlockByNumber', ['finalized', false]);
  } catch (e) {
    if (e instanceof JsonRpcError) return undefined;
    throw readError('eth_getBlockByNumber finalized', e);
  }
  if (result === null || result === undefined) return undefined;
  if (!isObject(result))
    throw new AnchorReadError('ANCHOR_RPC_ERROR', 'the finalized block is not an object');
  return quantity(result.number, 'finalized block number');
}

/** A failed call as the read reports it: the endpoint's error, or no answer at all. */
function readError(method: string, e: unknown): AnchorReadError {
  if (e instanceof AnchorReadError) return e;
  if (e instanceof JsonRpcError) {
    return new AnchorReadError('ANCHOR_RPC_ERROR', `${method}: ${e.rpcCode ?? '?'} ${e.rpcMessage}`);
  }
  return new AnchorReadError('ANCHOR_RPC_UNREACHABLE', `${method}: ${(e as Error)?.message ?? String(e)}`);
}

/** The contract's own root for the anchored size, or null if it keeps none (a revert, or no code). */
async function rootAt(
  rpc: JsonRpcCall,
  contract: string,
  anchorer: string,
  originHash: string,
  size: bigint,
): Promise<string | null> {
  const params = [{ to: contract, data: rootAtCallData(anchorer, originHash, size) }, 'latest'];
  let result: unknown;
  try {
    result = await rpc('eth_call', params);
  } catch (e) {
    // The first contract has no rootAt (and no fallback): the call reverts. Other errors are the
    // endpoint's, and go the same way as every other call's.
    if (e instanceof JsonRpcError && /revert/i.test(e.rpcMessage)) return null;
    throw readError('eth_call rootAt', e);
  }
  if (result === '0x') return null;
  if (typeof result !== 'string' || !WORD_RE.test(result)) {
    throw new AnchorReadError('ANCHOR_RPC_ERROR', 'eth_call rootAt: not one 32-byte word');
  }
  return result.slice(2).toLowerCase();
}
