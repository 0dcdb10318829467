import { Interface } from 'ethers';
import { describe, expect, it } from 'vitest';
import { ANCHOR_ABI } from './abi.ts';
import { readAnchorArtefact } from './deploy.ts';

describe('ANCHOR_ABI', () => {
  it('matches the ABI solc compiles from network/evm/Anchor.sol', async () => {
    // Compiled here when missing or older than Anchor.sol (a fresh clone, an edited contract).
    const compiled = new Interface((await readAnchorArtefact()).abi);
    const ours = new Interface(ANCHOR_ABI);
    const signatures = (i: Interface) => i.format(false).slice().sort();
    expect(signatures(ours)).toEqual(signatures(compiled));
  });
});
