// Compiles Anchor.sol with the pinned `solc` npm package into artifacts/Anchor.json (git-ignored):
// the ABI, creation bytecode and the compiler version. Run by scripts/build.sh; the gateway and
// tests read the artefact, so the contract's source is the only thing committed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const here = dirname(fileURLToPath(import.meta.url));
const source = readFileSync(join(here, 'Anchor.sol'), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'Anchor.sol': { content: source } },
  settings: {
    // Paris: no PUSH0, so the bytecode also deploys on EVM chains that lag behind Shanghai.
    evmVersion: 'paris',
    optimizer: { enabled: true, runs: 10_000 },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
for (const e of output.errors ?? []) process.stderr.write(`${e.formattedMessage}\n`);
if (errors.length > 0) process.exit(1);
const contract = output.contracts['Anchor.sol'].Anchor;
const artefact = {
  contractName: 'Anchor',
  compiler: `solc ${solc.version()}`,
  evmVersion: input.settings.evmVersion,
  abi: contract.abi,
  bytecode: `0x${contract.evm.bytecode.object}`,
  deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
};
mkdirSync(join(here, 'artifacts'), { recursive: true });
writeFileSync(join(here, 'artifacts', 'Anchor.json'), `${JSON.stringify(artefact, null, 2)}\n`);
process.stdout.write(`network/evm/artifacts/Anchor.json (${artefact.compiler})\n`);
