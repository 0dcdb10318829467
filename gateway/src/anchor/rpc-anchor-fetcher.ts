// Reads an anchored checkpoint back from any EVM JSON-RPC endpoint, with nothing but `fetch`. The
// reading and decoding (eth_chainId, the receipt's Anchored event with its sender and contract,
// eth_call rootAt, eth_blockNumber for the confirmations) is proof's readAnchorFromChain, the very
// code the verifier page runs against a node its reader chooses; this module only carries the
// JSON-RPC calls over HTTP. Trust lies with whoever runs the endpoint: the caller chooses it.

import {
  ANCHORED_EVENT_TOPIC,
  AnchorReadError,
  type AnchorReadErrorCode,
  type AnchorTxRef,
  type ChainAnchor,
  JsonRpcError,
  ROOT_AT_SELECTOR,
  readAnchorFromChain,
} from '@lianzheng/proof';

export type { AnchorTxRef };
/** The errors a read throws, each with a stable `code` (proof's AnchorReadError). */
export { ANCHORED_EVENT_TOPIC, AnchorReadError as AnchorFetchError, ROOT_AT_SELECTOR };
export type AnchorFetchErrorCode = AnchorReadErrorCode;
/** The anchored checkpoint as the chain records it. */
export type FetchedAnchor = ChainAnchor;

export interface RpcAnchorFetcherOptions {
  rpcUrl: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Refuse anchors with fewer confirmations (default 1: mined). */
  minConfirmations?: number;
  timeoutMs?: number;
}

/** Returns a `getAnchor(ref)` for proof's anchor step, reading from the given endpoint. */
export function createRpcAnchorFetcher(
  options: RpcAnchorFetcherOptions,
): (ref: AnchorTxRef) => Promise<FetchedAnchor> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = options.timeoutMs ?? 15_000;
  let nextId = 1;

  async function rpc(method: string, params: unknown[]): Promise<unknown> {
    let body: { result?: unknown; error?: { code?: number; message?: string } };
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
      throw new AnchorReadError(
        'ANCHOR_RPC_UNREACHABLE',
        `${method} at ${options.rpcUrl}: ${(e as Error).message}${cause ? ` (${cause})` : ''}`,
      );
    }
    if (typeof body !== 'object' || body === null)
      throw new AnchorReadError('ANCHOR_RPC_ERROR', `${method}: not a JSON-RPC answer`);
    if (body.error) throw new JsonRpcError(body.error.code, String(body.error.message ?? ''));
    return body.result;
  }

  return (ref) =>
    readAnchorFromChain(rpc, ref, {
      ...(options.minConfirmations !== undefined ? { minConfirmations: options.minConfirmations } : {}),
    });
}
