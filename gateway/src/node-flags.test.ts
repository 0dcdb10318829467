import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_NODE_FLAGS, SEALING_NODE_FLAGS, withGatewayNodeFlags } from './node-flags.ts';

const saved = process.env.NODE_OPTIONS;
afterEach(() => {
  if (saved === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = saved;
});

describe('withGatewayNodeFlags', () => {
  it('puts the gateway flags before the given ones', () => {
    delete process.env.NODE_OPTIONS;
    expect(withGatewayNodeFlags(['--import', 'tsx', 'server.ts'], 'api')).toEqual([
      ...GATEWAY_NODE_FLAGS,
      '--import',
      'tsx',
      'server.ts',
    ]);
  });

  it("gives a process that seals the sealer's larger young generation, an api process 32 MiB, a supervisor none", () => {
    delete process.env.NODE_OPTIONS;
    expect(GATEWAY_NODE_FLAGS).toEqual(['--max-semi-space-size=32']);
    expect(SEALING_NODE_FLAGS).toEqual(['--max-semi-space-size=64', '--initial-old-space-size=512']);
    expect(withGatewayNodeFlags(['x.ts'], 'sealer')).toEqual([...SEALING_NODE_FLAGS, 'x.ts']);
    expect(withGatewayNodeFlags(['x.ts'], 'all')).toEqual([...SEALING_NODE_FLAGS, 'x.ts']);
    expect(withGatewayNodeFlags(['x.ts'], 'api')).toEqual([...GATEWAY_NODE_FLAGS, 'x.ts']);
    expect(withGatewayNodeFlags(['x.ts'], 'supervisor')).toEqual(['x.ts']);
    // No role given: GATEWAY_ROLE's, where unset means `all`.
    const role = process.env.GATEWAY_ROLE;
    try {
      delete process.env.GATEWAY_ROLE;
      expect(withGatewayNodeFlags(['x.ts'])).toEqual([...SEALING_NODE_FLAGS, 'x.ts']);
      process.env.GATEWAY_ROLE = 'api';
      expect(withGatewayNodeFlags(['x.ts'])).toEqual([...GATEWAY_NODE_FLAGS, 'x.ts']);
    } finally {
      if (role === undefined) delete process.env.GATEWAY_ROLE;
      else process.env.GATEWAY_ROLE = role;
    }
  });

  it('leaves out a flag the caller set, on the command line or in NODE_OPTIONS', () => {
    delete process.env.NODE_OPTIONS;
    // Each flag by itself: the caller's semi-space, the gateway's old-generation floor.
    expect(withGatewayNodeFlags(['--max-semi-space-size=8', 'x.ts'], 'sealer')).toEqual([
      '--initial-old-space-size=512',
      '--max-semi-space-size=8',
      'x.ts',
    ]);
    process.env.NODE_OPTIONS = '--enable-source-maps --max-semi-space-size=64 --initial-old-space-size=0';
    expect(withGatewayNodeFlags(['x.ts'])).toEqual(['x.ts']);
  });
});
