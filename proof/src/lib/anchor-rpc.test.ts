// The chain read's decoding and its refusals, with JSON-RPC answers written out by hand (what a
// node sends). tests/e2e/anchor-geth.test.ts and tests/e2e/verifier-page-anchor.test.ts run the
// same code against a real geth node.
import { keccak_256 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import {
  ANCHORED_EVENT_TOPIC,
  AnchorReadError,
  JsonRpcError,
  ROOT_AT_SELECTOR,
  readAnchorFromChain,
  rootAtCallData,
} from './anchor-rpc.ts';
import { toHex } from './encoding.ts';

const keccakHex = (s: string) => `0x${toHex(keccak_256(new TextEncoder().encode(s)))}`;

const contract = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const sender = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const originHash = keccakHex('lianzheng.test/log');
const root = 'ab'.repeat(32);
const txHash = `0x${'cd'.repeat(32)}`;
const ref = { chainId: 'eip155:1337', contract, txHash };
const word = (hex: string) => hex.replace(/^0x/, '').padStart(64, '0');

function anchoredLog(opts: { address?: string; anchorerWord?: string; size?: number } = {}) {
  return {
    address: opts.address ?? contract,
    topics: [ANCHORED_EVENT_TOPIC, `0x${opts.anchorerWord ?? word(sender)}`, originHash],
    data: `0x${word((opts.size ?? 1234).toString(16))}${root}`,
  };
}

type Answers = Record<string, (params: unknown[]) => unknown>;

function node(overrides: Answers = {}, calls: string[] = []) {
  const answers: Answers = {
    eth_chainId: () => '0x539',
    eth_getTransactionReceipt: () => ({
      status: '0x1',
      from: sender,
      blockNumber: '0x10',
      logs: [anchoredLog()],
    }),
    eth_call: () => `0x${root}`,
    eth_blockNumber: () => '0x12',
    ...overrides,
  };
  return async (method: string, params: unknown[]) => {
    calls.push(method);
    const answer = answers[method];
    if (!answer) throw new JsonRpcError(-32601, 'method not found');
    return answer(params);
  };
}

describe('readAnchorFromChain', () => {
  it('uses the topic and selector of the contract’s ABI (keccak-256 of the signatures)', () => {
    expect(ANCHORED_EVENT_TOPIC).toBe(keccakHex('Anchored(address,bytes32,uint64,bytes32)'));
    expect(ROOT_AT_SELECTOR).toBe(keccakHex('rootAt(address,bytes32,uint64)').slice(0, 10));
    expect(rootAtCallData(sender, originHash, 1234)).toBe(
      `${ROOT_AT_SELECTOR}${word(sender)}${word(originHash)}${word('4d2')}`,
    );
  });

  it('decodes the event, the sender, the contract’s kept root and the confirmations', async () => {
    const calls: string[] = [];
    const seen: unknown[] = [];
    const rpc = node(
      {
        eth_call: (p) => {
          seen.push(p);
          return `0x${root}`;
        },
      },
      calls,
    );
    expect(await readAnchorFromChain(rpc, ref)).toEqual({
      size: 1234,
      root,
      block: 16,
      chainId: 'eip155:1337',
      contract,
      anchorer: sender,
      from: sender,
      originHash,
      confirmations: 3,
      storedRoot: root,
    });
    expect(calls).toEqual([
      'eth_chainId',
      'eth_getTransactionReceipt',
      'eth_call',
      'eth_blockNumber',
      'eth_getBlockByNumber',
    ]);
    expect(seen).toEqual([[{ to: contract, data: rootAtCallData(sender, originHash, 1234) }, 'latest']]);
  });

  it('tells a contract without rootAt (a revert) from an endpoint error', async () => {
    const reverts = node({
      eth_call: () => {
        throw new JsonRpcError(3, 'execution reverted');
      },
    });
    expect((await readAnchorFromChain(reverts, ref)).storedRoot).toBeNull();
    const broken = node({
      eth_call: () => {
        throw new JsonRpcError(-32603, 'internal');
      },
    });
    await expect(readAnchorFromChain(broken, ref)).rejects.toMatchObject({ code: 'ANCHOR_RPC_ERROR' });
  });

  it.each([
    ['ANCHOR_CHAIN_MISMATCH', { eth_chainId: () => '0x1' }],
    ['ANCHOR_TX_NOT_FOUND', { eth_getTransactionReceipt: () => null }],
    [
      'ANCHOR_TX_FAILED',
      { eth_getTransactionReceipt: () => ({ status: '0x0', from: sender, blockNumber: '0x10', logs: [] }) },
    ],
    [
      'ANCHOR_EVENT_MISSING',
      {
        eth_getTransactionReceipt: () => ({
          status: '0x1',
          from: sender,
          blockNumber: '0x10',
          // The same event from another contract, and one whose anchorer word is no address.
          logs: [
            anchoredLog({ address: `0x${'11'.repeat(20)}` }),
            anchoredLog({ anchorerWord: `ff${word(sender).slice(2)}` }),
          ],
        }),
      },
    ],
    ['ANCHOR_RPC_ERROR', { eth_blockNumber: () => 'sixteen' }],
    ['ANCHOR_RPC_ERROR', { eth_call: () => '0x1234' }],
    ['ANCHOR_NOT_CONFIRMED', { eth_blockNumber: () => '0xf' }],
  ] as [string, Answers][])('fails with %s', async (code, answers) => {
    const err = await readAnchorFromChain(node(answers), ref).catch((e) => e);
    expect(err).toBeInstanceOf(AnchorReadError);
    expect(err.code).toBe(code);
  });

  it('asks for more confirmations when told, and refuses malformed references before any call', async () => {
    await expect(readAnchorFromChain(node(), ref, { minConfirmations: 4 })).rejects.toMatchObject({
      code: 'ANCHOR_NOT_CONFIRMED',
    });
    const calls: string[] = [];
    for (const bad of [
      { ...ref, chainId: '1337' },
      { ...ref, txHash: '0x12' },
      { ...ref, contract: 'nope' },
    ]) {
      await expect(readAnchorFromChain(node({}, calls), bad)).rejects.toMatchObject({
        code: 'ANCHOR_BAD_REF',
      });
    }
    expect(calls).toEqual([]);
  });

  it('says whether the anchor is final, where the chain offers a finalized block', async () => {
    const finalizedAt = (n: string | null) =>
      node({ eth_getBlockByNumber: (p) => (p[0] === 'finalized' && n !== null ? { number: n } : null) });
    // Block 16 under a finalized 0x10: final (verifyBundle takes that for the published count;
    // a count asked for here stays a count).
    const final = await readAnchorFromChain(finalizedAt('0x10'), ref);
    expect(final).toMatchObject({ finalized: true, confirmations: 3 });
    await expect(
      readAnchorFromChain(finalizedAt('0x10'), ref, { minConfirmations: 4 }),
    ).rejects.toMatchObject({
      code: 'ANCHOR_NOT_CONFIRMED',
    });
    // Finalized only up to 15 (geth's dev mode keeps it at 0): not final, the count decides.
    expect(await readAnchorFromChain(finalizedAt('0xf'), ref)).toMatchObject({ finalized: false });
    await expect(readAnchorFromChain(finalizedAt('0x0'), ref, { minConfirmations: 4 })).rejects.toMatchObject(
      {
        code: 'ANCHOR_NOT_CONFIRMED',
      },
    );
    // No such tag on this chain (no block, or an error): nothing said about finality.
    expect(await readAnchorFromChain(finalizedAt(null), ref)).not.toHaveProperty('finalized');
    expect(await readAnchorFromChain(node(), ref)).not.toHaveProperty('finalized');
    const down = node({
      eth_getBlockByNumber: () => {
        throw new TypeError('Failed to fetch');
      },
    });
    await expect(readAnchorFromChain(down, ref)).rejects.toMatchObject({ code: 'ANCHOR_RPC_UNREACHABLE' });
  });

  it('reports no answer at all as ANCHOR_RPC_UNREACHABLE', async () => {
    const down = async () => {
      throw new TypeError('Failed to fetch');
    };
    await expect(readAnchorFromChain(down, ref)).rejects.toMatchObject({ code: 'ANCHOR_RPC_UNREACHABLE' });
  });
});
