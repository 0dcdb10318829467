import { Interface, id, zeroPadValue } from 'ethers';
import { describe, expect, it } from 'vitest';
import { ANCHOR_ABI } from './abi.ts';
import {
  ANCHORED_EVENT_TOPIC,
  type AnchorTxRef,
  createRpcAnchorFetcher,
  ROOT_AT_SELECTOR,
} from './rpc-anchor-fetcher.ts';

// A fake JSON-RPC endpoint (unit test of the decoding; tests/e2e/anchor-geth.test.ts runs the
// fetcher against a real geth node).
const contract = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const anchorer = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const originHash = id('lianzheng.test/log');
const root = 'ab'.repeat(32);
const txHash = `0x${'cd'.repeat(32)}`;
const ref: AnchorTxRef = { chainId: 'eip155:1337', contract, txHash };

function eventLog(size: bigint, rootHex = root) {
  const iface = new Interface(ANCHOR_ABI);
  const encoded = iface.encodeEventLog('Anchored', [anchorer, originHash, size, `0x${rootHex}`]);
  return { address: contract, topics: encoded.topics, data: encoded.data };
}

/** JSON-RPC answers by method; a function answers from the params, and may return {error}. */
type Answer = unknown | ((params: unknown[]) => unknown);

function fakeRpc(
  answers: Record<string, Answer>,
  calls: { method: string; params: unknown[] }[] = [],
): typeof fetch {
  return (async (_url: string, init: { body: string }) => {
    const {
      method,
      id: reqId,
      params,
    } = JSON.parse(init.body) as {
      method: string;
      id: number;
      params: unknown[];
    };
    calls.push({ method, params });
    const answer = answers[method];
    if (typeof answer === 'function') {
      const out = answer(params) as { error?: unknown } | unknown;
      const body =
        typeof out === 'object' && out !== null && 'error' in out
          ? { jsonrpc: '2.0', id: reqId, error: (out as { error: unknown }).error }
          : { jsonrpc: '2.0', id: reqId, result: out };
      return new Response(JSON.stringify(body));
    }
    if (!(method in answers)) {
      return new Response(
        JSON.stringify({ jsonrpc: '2.0', id: reqId, error: { code: -32601, message: 'nope' } }),
      );
    }
    return new Response(JSON.stringify({ jsonrpc: '2.0', id: reqId, result: answers[method] }));
  }) as unknown as typeof fetch;
}

const sender = '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc';
const mined = (logs: unknown[], status = '0x1', from = sender): Record<string, Answer> => ({
  eth_chainId: '0x539',
  eth_blockNumber: '0x10',
  eth_getTransactionReceipt: { status, from, blockNumber: '0xe', logs },
  eth_call: `0x${root}`,
});

describe('createRpcAnchorFetcher', () => {
  it('uses the topic of the ABI event', () => {
    expect(ANCHORED_EVENT_TOPIC).toBe(new Interface(ANCHOR_ABI).getEvent('Anchored')?.topicHash);
    expect(ANCHORED_EVENT_TOPIC).toBe(id('Anchored(address,bytes32,uint64,bytes32)'));
  });

  it('decodes the Anchored event of the named contract', async () => {
    const getAnchor = createRpcAnchorFetcher({
      rpcUrl: 'http://rpc',
      fetch: fakeRpc(mined([eventLog(1234n)])),
    });
    expect(await getAnchor(ref)).toEqual({
      size: 1234,
      root,
      block: 14,
      chainId: 'eip155:1337',
      contract,
      anchorer,
      from: sender,
      originHash,
      confirmations: 3,
      storedRoot: root,
    });
  });

  it('asks the emitting contract for the root it keeps (rootAt) and tells a contract without one', async () => {
    const calls: { method: string; params: unknown[] }[] = [];
    const iface = new Interface(ANCHOR_ABI);
    expect(ROOT_AT_SELECTOR).toBe(iface.getFunction('rootAt')?.selector);
    const getAnchor = createRpcAnchorFetcher({
      rpcUrl: 'http://rpc',
      fetch: fakeRpc(mined([eventLog(1234n)]), calls),
    });
    await getAnchor(ref);
    const call = calls.find((c) => c.method === 'eth_call');
    expect(call?.params).toEqual([
      { to: contract, data: iface.encodeFunctionData('rootAt', [anchorer, originHash, 1234n]) },
      'latest',
    ]);
    const zero = { ...mined([eventLog(5n)]), eth_call: `0x${'00'.repeat(32)}` };
    expect((await createRpcAnchorFetcher({ rpcUrl: 'x', fetch: fakeRpc(zero) })(ref)).storedRoot).toBe(
      '00'.repeat(32),
    );
    // The first (events-only) contract has no rootAt: the call reverts.
    const v1 = {
      ...mined([eventLog(5n)]),
      eth_call: () => ({ error: { code: -32000, message: 'execution reverted' } }),
    };
    expect((await createRpcAnchorFetcher({ rpcUrl: 'x', fetch: fakeRpc(v1) })(ref)).storedRoot).toBeNull();
    const broken = {
      ...mined([eventLog(5n)]),
      eth_call: () => ({ error: { code: -32603, message: 'internal' } }),
    };
    await expect(createRpcAnchorFetcher({ rpcUrl: 'x', fetch: fakeRpc(broken) })(ref)).rejects.toMatchObject({
      code: 'ANCHOR_RPC_ERROR',
    });
  });

  it("returns the transaction's sender and the emitting contract as the chain has them", async () => {
    const upper = { ...eventLog(9n), address: contract.toUpperCase().replace('0X', '0x') };
    const getAnchor = createRpcAnchorFetcher({
      rpcUrl: 'http://rpc',
      fetch: fakeRpc(mined([upper], '0x1', `0x${'AB'.repeat(20)}`)),
    });
    expect(await getAnchor(ref)).toMatchObject({ contract, from: `0x${'ab'.repeat(20)}`, anchorer });
  });

  it('ignores the same event from another contract', async () => {
    const other = { ...eventLog(5n), address: `0x${'11'.repeat(20)}` };
    const getAnchor = createRpcAnchorFetcher({ rpcUrl: 'http://rpc', fetch: fakeRpc(mined([other])) });
    await expect(getAnchor(ref)).rejects.toMatchObject({ code: 'ANCHOR_EVENT_MISSING' });
  });

  it.each([
    ['ANCHOR_TX_NOT_FOUND', { eth_chainId: '0x539', eth_getTransactionReceipt: null }],
    ['ANCHOR_RPC_ERROR', { ...mined([eventLog(5n)]), eth_call: '0x12' }],
    ['ANCHOR_TX_FAILED', mined([eventLog(5n)], '0x0')],
    ['ANCHOR_CHAIN_MISMATCH', { ...mined([eventLog(5n)]), eth_chainId: '0x1' }],
    ['ANCHOR_RPC_ERROR', { eth_chainId: '0x539' }],
    ['ANCHOR_EVENT_MISSING', mined([{ ...eventLog(5n), data: '0x' }])],
    ['ANCHOR_RPC_ERROR', mined([eventLog(2n ** 60n)])],
    ['ANCHOR_RPC_ERROR', mined([eventLog(5n)], '0x1', 'nobody')],
  ])('fails with %s', async (code, answers) => {
    const getAnchor = createRpcAnchorFetcher({ rpcUrl: 'http://rpc', fetch: fakeRpc(answers) });
    await expect(getAnchor(ref)).rejects.toMatchObject({ code });
  });

  it('refuses too few confirmations and malformed references', async () => {
    const strict = createRpcAnchorFetcher({
      rpcUrl: 'http://rpc',
      fetch: fakeRpc(mined([eventLog(5n)])),
      minConfirmations: 4,
    });
    await expect(strict(ref)).rejects.toMatchObject({ code: 'ANCHOR_NOT_CONFIRMED' });
    const getAnchor = createRpcAnchorFetcher({ rpcUrl: 'http://rpc', fetch: fakeRpc(mined([eventLog(5n)])) });
    await expect(getAnchor({ ...ref, chainId: '1337' })).rejects.toMatchObject({ code: 'ANCHOR_BAD_REF' });
    await expect(getAnchor({ ...ref, txHash: '0x12' })).rejects.toMatchObject({ code: 'ANCHOR_BAD_REF' });
    await expect(getAnchor({ ...ref, contract: zeroPadValue('0x01', 32) })).rejects.toMatchObject({
      code: 'ANCHOR_BAD_REF',
    });
  });

  it('reports an unreachable endpoint as ANCHOR_RPC_UNREACHABLE', async () => {
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    const getAnchor = createRpcAnchorFetcher({ rpcUrl: 'http://rpc', fetch: down });
    await expect(getAnchor(ref)).rejects.toMatchObject({ code: 'ANCHOR_RPC_UNREACHABLE' });
  });
});
