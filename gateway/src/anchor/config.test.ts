import { describe, expect, it } from 'vitest';
import { parseAnchorConfig } from './config.ts';

const base = {
  ANCHOR_RPC_URL: 'http://127.0.0.1:8545',
  ANCHOR_CHAIN_ID: '1337',
  ANCHOR_KEY_FILE: '/keys/anchor.key',
};

function errorOf(env: Record<string, string>): { code?: string; variable?: string } {
  try {
    parseAnchorConfig(env);
  } catch (e) {
    return e as { code?: string; variable?: string };
  }
  return {};
}

describe('parseAnchorConfig', () => {
  it('is off (null) when ANCHOR_RPC_URL is unset', () => {
    expect(parseAnchorConfig({})).toBeNull();
    expect(parseAnchorConfig({ ANCHOR_CHAIN_ID: '1' })).toBeNull();
  });

  it('fills defaults: 10-minute interval, 3 confirmations, fee caps in wei', () => {
    const c = parseAnchorConfig(base);
    expect(c).toMatchObject({
      rpcUrl: base.ANCHOR_RPC_URL,
      chainId: 1337,
      contract: null,
      keyFile: base.ANCHOR_KEY_FILE,
      confirmations: 3,
      intervalMs: 600_000,
      pollMs: 15_000,
      replaceAfterMs: 180_000,
      maxFeePerGas: 100_000_000_000n,
      maxPriorityFeePerGas: 2_000_000_000n,
    });
  });

  it('reads every variable', () => {
    const c = parseAnchorConfig({
      ...base,
      ANCHOR_CONTRACT: '0xAbCdEf0123456789abcdef0123456789ABCDEF01',
      ANCHOR_CONFIRMATIONS: '12',
      ANCHOR_INTERVAL_MS: '2000',
      ANCHOR_MAX_FEE_GWEI: '30.5',
      ANCHOR_MAX_PRIORITY_FEE_GWEI: '0.001',
    });
    expect(c).toMatchObject({
      contract: '0xabcdef0123456789abcdef0123456789abcdef01',
      confirmations: 12,
      intervalMs: 2000,
      pollMs: 2000,
      maxFeePerGas: 30_500_000_000n,
      maxPriorityFeePerGas: 1_000_000n,
    });
  });

  it('reads the anchoring address and the retired sites that /v1/keys publishes', () => {
    const oldContract = `0x${'Aa'.repeat(20)}`;
    const oldKey = `0x${'bB'.repeat(20)}`;
    expect(
      parseAnchorConfig({
        ...base,
        ANCHOR_KEY_FILE: '',
        ANCHOR_ADDRESS: `0x${'C1'.repeat(20)}`,
        ANCHOR_RETIRED: `11155111:${oldContract}:${oldKey}, 1337:${oldContract}:${oldKey}`,
      }),
    ).toMatchObject({
      keyFile: null,
      address: `0x${'c1'.repeat(20)}`,
      retired: [
        { chainId: 11155111, contract: oldContract.toLowerCase(), anchorer: oldKey.toLowerCase() },
        { chainId: 1337, contract: oldContract.toLowerCase(), anchorer: oldKey.toLowerCase() },
      ],
    });
    expect(parseAnchorConfig(base)).toMatchObject({ address: null, retired: [], maxLagS: 1800 });
  });

  it.each([
    [{ ANCHOR_RPC_URL: 'not a url' }, 'ANCHOR_RPC_URL'],
    [{ ANCHOR_ADDRESS: '0x12' }, 'ANCHOR_ADDRESS'],
    [{ ANCHOR_RETIRED: '1337:0x12:0x34' }, 'ANCHOR_RETIRED'],
    [{ ANCHOR_RETIRED: `eip155:1:0x${'11'.repeat(20)}:0x${'22'.repeat(20)}` }, 'ANCHOR_RETIRED'],
    [{ ANCHOR_MAX_LAG_S: '0' }, 'ANCHOR_MAX_LAG_S'],
    [{ ANCHOR_RPC_URL: 'ftp://x' }, 'ANCHOR_RPC_URL'],
    [{ ANCHOR_CHAIN_ID: '' }, 'ANCHOR_CHAIN_ID'],
    [{ ANCHOR_CHAIN_ID: '0x1' }, 'ANCHOR_CHAIN_ID'],
    [{ ANCHOR_KEY_FILE: '' }, 'ANCHOR_KEY_FILE'],
    [{ ANCHOR_CONTRACT: '0x1234' }, 'ANCHOR_CONTRACT'],
    [{ ANCHOR_CONFIRMATIONS: '0' }, 'ANCHOR_CONFIRMATIONS'],
    [{ ANCHOR_INTERVAL_MS: 'soon' }, 'ANCHOR_INTERVAL_MS'],
    [{ ANCHOR_MAX_FEE_GWEI: '-1' }, 'ANCHOR_MAX_FEE_GWEI'],
    [{ ANCHOR_MAX_FEE_GWEI: '0' }, 'ANCHOR_MAX_FEE_GWEI'],
    [{ ANCHOR_MAX_FEE_GWEI: '1', ANCHOR_MAX_PRIORITY_FEE_GWEI: '2' }, 'ANCHOR_MAX_PRIORITY_FEE_GWEI'],
  ])('refuses %o naming %s', (override, variable) => {
    expect(errorOf({ ...base, ...override })).toMatchObject({ code: 'BAD_CONFIG', variable });
  });
});
