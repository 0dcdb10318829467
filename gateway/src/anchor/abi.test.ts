import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Interface } from 'ethers';
import { describe, expect, it } from 'vitest';
import { ANCHOR_ABI } from './abi.ts';
import { ANCHOR_ARTEFACT_PATH } from './deploy.ts';

describe('ANCHOR_ABI', () => {
  it('matches the ABI solc compiles from network/evm/Anchor.sol', () => {
    if (!existsSync(ANCHOR_ARTEFACT_PATH)) {
      execFileSync(process.execPath, [
        join(import.meta.dirname, '..', '..', '..', 'network', 'evm', 'compile.mjs'),
      ]);
    }
    const compiled = new Interface(JSON.parse(readFileSync(ANCHOR_ARTEFACT_PATH, 'utf8')).abi);
    const ours = new Interface(ANCHOR_ABI);
    const signatures = (i: Interface) => i.format(false).slice().sort();
    expect(signatures(ours)).toEqual(signatures(compiled));
  });
});
