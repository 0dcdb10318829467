import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ContractFactory, type InterfaceAbi, type Provider, type Signer } from 'ethers';
import { AnchorError } from './errors.ts';

/** Where `node network/evm/compile.mjs` (run by scripts/build.sh) writes the compiled contract. */
export const ANCHOR_ARTEFACT_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'network',
  'evm',
  'artifacts',
  'Anchor.json',
);

/** The first contract (events only, network/evm/AnchorV1.sol): for the benchmark and tests only. */
export const ANCHOR_V1_ARTEFACT_PATH = join(dirname(ANCHOR_ARTEFACT_PATH), 'AnchorV1.json');

export interface AnchorArtefact {
  /** SHA-256 of the .sol source it was compiled from (absent in artefacts of older builds). */
  sourceSha256?: string;
  abi: InterfaceAbi;
  bytecode: string;
  deployedBytecode: string;
  compiler: string;
}

/** network/evm/compile.mjs: Anchor.sol → artifacts/Anchor.json with the pinned solc npm package. */
const COMPILE_SCRIPT = join(dirname(ANCHOR_ARTEFACT_PATH), '..', 'compile.mjs');

/** Whether the artefact was compiled from the .sol file beside network/evm/compile.mjs as it is now. */
async function isCurrent(path: string, artefact: AnchorArtefact): Promise<boolean> {
  const name = basename(path, '.json');
  const source = await readFile(join(dirname(COMPILE_SCRIPT), `${name}.sol`)).catch(() => null);
  if (!source) return true; // not one of ours: nothing to compare with
  return artefact.sourceSha256 === createHash('sha256').update(source).digest('hex');
}

/**
 * The compiled contract. Ours (network/evm/artifacts/) are compiled on first use when missing (a
 * fresh clone: artifacts/ is git-ignored), so `lianzheng anchor deploy` works before
 * scripts/build.sh, and again when compiled from an older source (never deploy stale bytecode).
 */
export async function readAnchorArtefact(path: string = ANCHOR_ARTEFACT_PATH): Promise<AnchorArtefact> {
  const read = async () => JSON.parse(await readFile(path, 'utf8')) as AnchorArtefact;
  const ours = dirname(path) === dirname(ANCHOR_ARTEFACT_PATH);
  try {
    const artefact = await read();
    if (!ours || (await isCurrent(path, artefact))) return artefact;
  } catch {
    // compiled below when it is ours
  }
  if (ours) {
    try {
      await promisify(execFile)(process.execPath, [COMPILE_SCRIPT], { timeout: 120_000 });
      return await read();
    } catch {
      // reported below
    }
  }
  throw new AnchorError('ARTEFACT_MISSING', `${path} missing: run node network/evm/compile.mjs`);
}

export interface DeployedAnchor {
  address: string; // lowercase
  txHash: string;
  block: number;
  chainId: number;
}

/**
 * Polls for the receipt and its confirmations. Not `tx.wait()`: that subscribes to new blocks,
 * and a provider destroyed right after (the CLI) leaves its block poll rejecting unhandled.
 */
async function waitForReceipt(signer: Signer, hash: string, confirmations: number, timeoutMs = 300_000) {
  const provider = signer.provider;
  if (!provider) throw new AnchorError('DEPLOY_FAILED', 'the signer has no provider');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await provider.getTransactionReceipt(hash);
    if (receipt && (await provider.getBlockNumber()) - receipt.blockNumber + 1 >= confirmations)
      return receipt;
    if (Date.now() > deadline)
      throw new AnchorError('DEPLOY_FAILED', `deployment ${hash} not confirmed in time`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Deploys the Anchor contract from the signer's account and waits for `confirmations` blocks. */
export async function deployAnchorContract(
  signer: Signer,
  options: { confirmations?: number; artefact?: AnchorArtefact } = {},
): Promise<DeployedAnchor> {
  const artefact = options.artefact ?? (await readAnchorArtefact());
  const factory = new ContractFactory(artefact.abi, artefact.bytecode, signer);
  const contract = await factory.deploy();
  const tx = contract.deploymentTransaction();
  if (!tx) throw new AnchorError('DEPLOY_FAILED', 'no deployment transaction');
  const receipt = await waitForReceipt(signer, tx.hash, options.confirmations ?? 1);
  if (receipt?.status !== 1 || !receipt.contractAddress) {
    throw new AnchorError('DEPLOY_FAILED', `deployment ${tx.hash} failed`);
  }
  const network = await signer.provider?.getNetwork();
  return {
    address: receipt.contractAddress.toLowerCase(),
    txHash: tx.hash,
    block: receipt.blockNumber,
    chainId: Number(network?.chainId ?? tx.chainId),
  };
}

/** Throws CONTRACT_MISSING unless `address` holds the Anchor contract's runtime code. */
export async function checkAnchorContract(
  provider: Provider,
  address: string,
  artefact?: AnchorArtefact,
): Promise<void> {
  const code = await provider.getCode(address);
  if (code === '0x') throw new AnchorError('CONTRACT_MISSING', `no contract at ${address}`);
  if (artefact && code.toLowerCase() !== artefact.deployedBytecode.toLowerCase()) {
    throw new AnchorError('CONTRACT_MISSING', `the code at ${address} is not this Anchor contract`);
  }
}
