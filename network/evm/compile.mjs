// Compiles Anchor.sol with the pinned `solc` npm package into artifacts/Anchor.json (git-ignored):
// the ABI, creation bytecode and the compiler version. Run by scripts/build.sh (and by
// `lianzheng anchor deploy` when the artefact is missing); the gateway and tests read the
// artefact, so the contract's source is the only thing committed. AnchorV1.sol, the first contract
// (events only, not to be deployed), goes to artifacts/AnchorV1.json for the benchmark and tests.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const here = dirname(fileURLToPath(import.meta.url));
const names = ['Anchor', 'AnchorV1'];
const input = {
  language: 'Solidity',
  sources: Object.fromEntries(
    names.map((n) => [`${n}.sol`, { content: readFileSync(join(here, `${n}.sol`), 'utf8') }]),
  ),
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
mkdirSync(join(here, 'artifacts'), { recursive: true });
// Anchor.json last: whoever finds it finds AnchorV1.json too. Each records its source's SHA-256,
// so a reader can tell an artefact compiled from an older Anchor.sol (and compile again).
for (const name of [...names].reverse()) {
  const contract = output.contracts[`${name}.sol`][name];
  const artefact = {
    contractName: name,
    sourceSha256: createHash('sha256').update(input.sources[`${name}.sol`].content).digest('hex'),
    compiler: `solc ${solc.version()}`,
    evmVersion: input.settings.evmVersion,
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  };
  const file = join(here, 'artifacts', `${name}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(artefact, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  process.stdout.write(`network/evm/artifacts/${name}.json (${artefact.compiler})\n`);
}
