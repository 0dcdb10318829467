import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

export interface AnchorArtefact {
  abi: InterfaceAbi;
  bytecode: string;
  deployedBytecode: string;
  compiler: string;
}

export async function readAnchorArtefact(path: string = ANCHOR_ARTEFACT_PATH): Promise<AnchorArtefact> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as AnchorArtefact;
  } catch {
    throw new AnchorError(
      'ARTEFACT_MISSING',
      `${path} missing: run scripts/build.sh (node network/evm/compile.mjs)`,
    );
  }
}

export interface DeployedAnchor {
  address: string; // lowercase
  txHash: string;
  block: number;
  chainId: number;
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
  const receipt = await tx.wait(options.confirmations ?? 1);
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
