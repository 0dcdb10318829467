// Reads an anchored checkpoint back from any EVM JSON-RPC endpoint, with nothing but `fetch`:
// eth_chainId, then eth_getTransactionReceipt, then the Anchored event decoded from the receipt's
// logs (with the transaction's sender and the emitting contract, for the caller to hold against
// the operator's published identity), then the root the contract itself keeps for that size
// (eth_call rootAt), then eth_blockNumber for the confirmations. No ethers and no imports, so the
// verifier page and the CLI can use (or copy) it and stay small. Trust lies with whoever runs the
// endpoint: the caller chooses it.

/** topic0 of `Anchored(address indexed anchorer, bytes32 indexed originHash, uint64 size, bytes32 root)`. */
export const ANCHORED_EVENT_TOPIC = '0x3d0c97912257c6ad70e8f6fc81ae518ad3e14734d308b512c2729cc637a4b0b1';

/** Selector of `rootAt(address anchorer, bytes32 originHash, uint64 size) view returns (bytes32)`. */
export const ROOT_AT_SELECTOR = '0xa8a320a6';

export type AnchorFetchErrorCode =
  | 'ANCHOR_BAD_REF' // the reference itself is malformed
  | 'ANCHOR_RPC_UNREACHABLE' // no answer: connection refused, timed out, or an HTTP error status
  | 'ANCHOR_RPC_ERROR' // the endpoint answered with a JSON-RPC error or nonsense
  | 'ANCHOR_CHAIN_MISMATCH' // the endpoint serves another chain than the reference names
  | 'ANCHOR_TX_NOT_FOUND' // no mined transaction with that hash
  | 'ANCHOR_TX_FAILED' // mined but reverted
  | 'ANCHOR_EVENT_MISSING' // mined, but no Anchored event from the named contract
  | 'ANCHOR_NOT_CONFIRMED'; // fewer confirmations than the caller asked for

export class AnchorFetchError extends Error {
  constructor(
    readonly code: AnchorFetchErrorCode,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'AnchorFetchError';
  }
}

/** What a fetcher needs from a bundle's anchor reference. */
export interface AnchorTxRef {
  chainId: string; // CAIP-2, `eip155:<id>`
  contract: string; // 0x address
  txHash: string; // 0x + 64 hex
}

/** The anchored checkpoint as the chain records it. */
export interface FetchedAnchor {
  size: number;
  root: string; // lowercase hex, no 0x
  block: number;
  chainId: string;
  /** The address of the contract that emitted the event, lowercase. */
  contract: string;
  /** The event's `anchorer` (the contract's msg.sender), lowercase. */
  anchorer: string;
  /** The transaction's sender (`from` of the receipt), lowercase. */
  from: string;
  originHash: string; // keccak256 of the checkpoint origin, 0x hex
  confirmations: number;
  /**
   * The root the contract keeps for (anchorer, originHash, size), lowercase hex, no 0x (all zeros:
   * none kept at that size); null when the contract has no `rootAt` (the first, events-only one).
   */
  storedRoot: string | null;
}

export interface RpcAnchorFetcherOptions {
  rpcUrl: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Refuse anchors with fewer confirmations (default 1: mined). */
  minConfirmations?: number;
  timeoutMs?: number;
}

interface RpcLog {
  address: string;
  topics: string[];
  data: string;
}

interface RpcReceipt {
  status: string;
  from: string;
  blockNumber: string;
  logs: RpcLog[];
}

const HASH_RE = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

/** Returns a `getAnchor(ref)` for proof's anchor step, reading from the given endpoint. */
export function createRpcAnchorFetcher(
  options: RpcAnchorFetcherOptions,
): (ref: AnchorTxRef) => Promise<FetchedAnchor> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const minConfirmations = options.minConfirmations ?? 1;
  let nextId = 1;

  type RpcBody<T> = { result?: T; error?: { code?: number; message?: string; data?: unknown } };

  async function call<T>(method: string, params: unknown[]): Promise<T> {
    const body = await send<T>(method, params);
    if (body.error)
      throw new AnchorFetchError('ANCHOR_RPC_ERROR', `${method}: ${body.error.code} ${body.error.message}`);
    return body.result as T;
  }

  /** The contract's own root for the anchored size, or null if it keeps none (a revert). */
  async function storedRoot(contract: string, anchorer: string, originHash: string, size: bigint) {
    const data =
      ROOT_AT_SELECTOR +
      anchorer.slice(2).padStart(64, '0') +
      originHash.slice(2) +
      size.toString(16).padStart(64, '0');
    const body = await send<string>('eth_call', [{ to: contract, data }, 'latest']);
    if (body.error) {
      // A contract without rootAt (and without a fallback) reverts; anything else is the endpoint's.
      if (/revert/i.test(body.error.message ?? '')) return null;
      throw new AnchorFetchError(
        'ANCHOR_RPC_ERROR',
        `eth_call rootAt: ${body.error.code} ${body.error.message}`,
      );
    }
    if (body.result === '0x') return null;
    if (typeof body.result !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(body.result)) {
      throw new AnchorFetchError('ANCHOR_RPC_ERROR', 'eth_call rootAt: not one 32-byte word');
    }
    return body.result.slice(2).toLowerCase();
  }

  async function send<T>(method: string, params: unknown[]): Promise<RpcBody<T>> {
    let body: RpcBody<T>;
    try {
      const res = await doFetch(options.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = (await res.json()) as typeof body;
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new AnchorFetchError(
        'ANCHOR_RPC_UNREACHABLE',
        `${method} at ${options.rpcUrl}: ${(e as Error).message}${cause ? ` (${cause})` : ''}`,
      );
    }
    if (typeof body !== 'object' || body === null)
      throw new AnchorFetchError('ANCHOR_RPC_ERROR', `${method}: not a JSON-RPC answer`);
    return body;
  }

  function quantity(hex: unknown, what: string): number {
    if (typeof hex !== 'string' || !/^0x[0-9a-fA-F]+$/.test(hex)) {
      throw new AnchorFetchError('ANCHOR_RPC_ERROR', `bad ${what}`);
    }
    const n = Number.parseInt(hex, 16);
    if (!Number.isSafeInteger(n)) throw new AnchorFetchError('ANCHOR_RPC_ERROR', `${what} out of range`);
    return n;
  }

  return async function getAnchor(ref: AnchorTxRef): Promise<FetchedAnchor> {
    const m = /^eip155:(\d+)$/.exec(ref.chainId ?? '');
    if (!m || !ADDRESS_RE.test(ref.contract ?? '') || !HASH_RE.test(ref.txHash ?? '')) {
      throw new AnchorFetchError('ANCHOR_BAD_REF', 'chainId, contract or txHash malformed');
    }
    const contract = ref.contract.toLowerCase();
    const chainId = quantity(await call<string>('eth_chainId', []), 'chain id');
    if (`eip155:${chainId}` !== ref.chainId) {
      throw new AnchorFetchError('ANCHOR_CHAIN_MISMATCH', `endpoint serves eip155:${chainId}`);
    }
    const receipt = await call<RpcReceipt | null>('eth_getTransactionReceipt', [ref.txHash]);
    if (!receipt) throw new AnchorFetchError('ANCHOR_TX_NOT_FOUND', ref.txHash);
    if (receipt.status !== '0x1') throw new AnchorFetchError('ANCHOR_TX_FAILED', ref.txHash);
    const block = quantity(receipt.blockNumber, 'block number');
    if (typeof receipt.from !== 'string' || !ADDRESS_RE.test(receipt.from)) {
      throw new AnchorFetchError('ANCHOR_RPC_ERROR', 'the receipt names no sender');
    }
    const log = (receipt.logs ?? []).find(
      (l) => l.address?.toLowerCase() === contract && l.topics?.[0]?.toLowerCase() === ANCHORED_EVENT_TOPIC,
    );
    if (
      log === undefined ||
      log.topics.length !== 3 ||
      !log.topics.every((t) => HASH_RE.test(t)) ||
      !/^0x[0-9a-fA-F]{128}$/.test(log.data)
    ) {
      throw new AnchorFetchError('ANCHOR_EVENT_MISSING', `no Anchored event from ${contract}`);
    }
    const sizeWord = BigInt(`0x${log.data.slice(2, 66)}`);
    if (sizeWord > BigInt(Number.MAX_SAFE_INTEGER))
      throw new AnchorFetchError('ANCHOR_RPC_ERROR', 'size out of range');
    const anchorer = `0x${(log.topics[1] ?? '').slice(26).toLowerCase()}`;
    const originHash = (log.topics[2] ?? '').toLowerCase();
    const kept = await storedRoot(log.address.toLowerCase(), anchorer, originHash, sizeWord);
    const head = quantity(await call<string>('eth_blockNumber', []), 'block number');
    const confirmations = head - block + 1;
    if (confirmations < minConfirmations) {
      throw new AnchorFetchError(
        'ANCHOR_NOT_CONFIRMED',
        `${confirmations} of ${minConfirmations} confirmations`,
      );
    }
    return {
      size: Number(sizeWord),
      root: log.data.slice(66, 130).toLowerCase(),
      block,
      chainId: ref.chainId,
      contract: log.address.toLowerCase(),
      anchorer,
      from: receipt.from.toLowerCase(),
      originHash,
      confirmations,
      storedRoot: kept,
    };
  };
}
