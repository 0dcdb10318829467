// The anchoring sub-commands of the `lianzheng` CLI (wired by the CLI's owner):
//   lianzheng anchor keygen <file>   → a new signer key file; prints its address (fund it)
//   lianzheng anchor deploy          → deploys Anchor.sol from ANCHOR_KEY_FILE's account on
//                                      ANCHOR_RPC_URL; prints ANCHOR_CONTRACT=0x…
import { formatEther } from 'ethers';
import { ConfigError } from '../config.ts';
import { createAnchorProvider } from './chain.ts';
import { type AnchorConfig, parseAnchorConfig } from './config.ts';
import { type DeployedAnchor, deployAnchorContract } from './deploy.ts';
import { AnchorError } from './errors.ts';
import { createAnchorKeyFile, loadAnchorKey } from './key.ts';

/** Deploys the contract with the configured key after checking the chain id and the balance. */
export async function deployAnchorFromConfig(config: AnchorConfig): Promise<DeployedAnchor> {
  const provider = createAnchorProvider(config);
  try {
    const reported = Number(BigInt(await provider.send('eth_chainId', [])));
    if (reported !== config.chainId) {
      throw new AnchorError(
        'CHAIN_MISMATCH',
        `node serves chain ${reported}, ANCHOR_CHAIN_ID is ${config.chainId}`,
      );
    }
    if (!config.keyFile)
      throw new ConfigError('ANCHOR_KEY_FILE', 'is required to deploy the anchor contract');
    const wallet = (await loadAnchorKey(config.keyFile)).connect(provider);
    if ((await provider.getBalance(wallet.address)) === 0n) {
      throw new AnchorError('DEPLOY_FAILED', `${wallet.address} has no funds to deploy with`);
    }
    return await deployAnchorContract(wallet, { confirmations: config.confirmations });
  } finally {
    provider.destroy();
  }
}

/** `lianzheng anchor deploy`: returns the lines to print. */
export async function runAnchorDeploy(env: Record<string, string | undefined>): Promise<string[]> {
  const config = parseAnchorConfig(env);
  if (!config) throw new ConfigError('ANCHOR_RPC_URL', 'is required to deploy the anchor contract');
  const deployed = await deployAnchorFromConfig(config);
  return [
    `Anchor contract deployed on eip155:${deployed.chainId} in block ${deployed.block} (tx ${deployed.txHash})`,
    `ANCHOR_CONTRACT=${deployed.address}`,
  ];
}

/** `lianzheng anchor keygen <file>`: returns the lines to print. */
export async function runAnchorKeygen(file: string, config?: AnchorConfig | null): Promise<string[]> {
  const address = await createAnchorKeyFile(file);
  const lines = [
    `anchor signer key written to ${file} (mode 0600)`,
    `address ${address}: fund it, then set ANCHOR_KEY_FILE`,
  ];
  if (config) {
    const provider = createAnchorProvider(config);
    try {
      lines.push(`balance on eip155:${config.chainId}: ${formatEther(await provider.getBalance(address))}`);
    } catch {
      // the node is optional here
    } finally {
      provider.destroy();
    }
  }
  return lines;
}
