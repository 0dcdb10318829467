import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_NODE_FLAGS, withGatewayNodeFlags } from './node-flags.ts';

const saved = process.env.NODE_OPTIONS;
afterEach(() => {
  if (saved === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = saved;
});

describe('withGatewayNodeFlags', () => {
  it('puts the gateway flags before the given ones', () => {
    delete process.env.NODE_OPTIONS;
    expect(withGatewayNodeFlags(['--import', 'tsx', 'server.ts'])).toEqual([
      ...GATEWAY_NODE_FLAGS,
      '--import',
      'tsx',
      'server.ts',
    ]);
  });

  it('leaves out a flag the caller set, on the command line or in NODE_OPTIONS', () => {
    delete process.env.NODE_OPTIONS;
    expect(withGatewayNodeFlags(['--max-semi-space-size=8', 'x.ts'])).toEqual([
      '--max-semi-space-size=8',
      'x.ts',
    ]);
    process.env.NODE_OPTIONS = '--enable-source-maps --max-semi-space-size=64';
    expect(withGatewayNodeFlags(['x.ts'])).toEqual(['x.ts']);
  });
});
