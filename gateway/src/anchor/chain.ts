// The anchorer's side of the EVM chain: the provider, the checks of the chain and contract, the
// contract's own record of what this key anchored, signing and broadcasting an anchor, and the
// fees of a first transaction and of a replacement. Nothing here touches the database: the
// anchorer (anchorer.ts) writes each step to its outbox before it calls these.
import {
  FetchRequest,
  Interface,
  JsonRpcProvider,
  keccak256,
  Network,
  Transaction,
  type TransactionReceipt,
  toUtf8Bytes,
  type Wallet,
} from 'ethers';
import { ANCHOR_ABI } from './abi.ts';
import type { AnchorConfig } from './config.ts';
import { AnchorError } from './errors.ts';

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** What the node suggests: fees, and the base fee they were derived from. */
export type SuggestedFees = Fees & { baseFee: bigint };

/** The fee caps the operator set (ANCHOR_MAX_FEE_GWEI, ANCHOR_MAX_PRIORITY_FEE_GWEI). */
export type FeeCaps = Pick<AnchorConfig, 'maxFeePerGas' | 'maxPriorityFeePerGas'>;

interface Logger {
  warn(obj: object, msg?: string): void;
}

/** Replacements raise both fee fields by 12.5%; nodes require at least 10%. */
const BUMP_NUM = 9n;
const BUMP_DEN = 8n;
const MIN_BUMP_NUM = 11n;
const MIN_BUMP_DEN = 10n;

const anchorInterface = new Interface(ANCHOR_ABI);

/** The JSON-RPC provider the anchorer uses: fixed network (no detection loop), bounded requests. */
export function createAnchorProvider(
  config: Pick<AnchorConfig, 'rpcUrl' | 'chainId' | 'rpcTimeoutMs'>,
): JsonRpcProvider {
  const request = new FetchRequest(config.rpcUrl);
  request.timeout = config.rpcTimeoutMs;
  // No response cache (ethers' default keeps answers for 250 ms): a stale nonce is a wrong one.
  return new JsonRpcProvider(request, Network.from(config.chainId), {
    staticNetwork: true,
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
}

/** The node's fee suggestion: the latest base fee and its tip oracle (1 gwei when it has none). */
export async function nodeFees(provider: JsonRpcProvider): Promise<SuggestedFees> {
  const block = await provider.getBlock('latest');
  const baseFee = block?.baseFeePerGas ?? 0n;
  let tip: bigint;
  try {
    tip = BigInt(await provider.send('eth_maxPriorityFeePerGas', []));
  } catch {
    tip = 1_000_000_000n;
  }
  return { baseFee, maxPriorityFeePerGas: tip, maxFeePerGas: 2n * baseFee + tip };
}

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/**
 * The fees of a first transaction: the node's suggestion within the caps; null when the caps are
 * below what the current base fee needs (the anchor waits for cheaper blocks).
 */
export function firstFees(suggested: SuggestedFees, caps: FeeCaps): Fees | null {
  const fees = {
    maxPriorityFeePerGas: minBig(suggested.maxPriorityFeePerGas, caps.maxPriorityFeePerGas),
    maxFeePerGas: minBig(
      maxBig(suggested.maxFeePerGas, suggested.baseFee + suggested.maxPriorityFeePerGas),
      caps.maxFeePerGas,
    ),
  };
  return fees.maxFeePerGas < suggested.baseFee + fees.maxPriorityFeePerGas ? null : fees;
}

/**
 * The fees of a replacement (same nonce): both raised by 12.5%, at least to the node's current
 * suggestion, within the caps; null when the caps leave no room for a raise of 10%, the least a
 * node accepts for a replacement.
 */
export function replacementFees(old: Fees, suggested: SuggestedFees, caps: FeeCaps): Fees | null {
  const oldTip = old.maxPriorityFeePerGas;
  const oldMax = old.maxFeePerGas;
  const tip = minBig(
    maxBig(ceilDiv(oldTip * BUMP_NUM, BUMP_DEN), suggested.maxPriorityFeePerGas),
    caps.maxPriorityFeePerGas,
  );
  const max = minBig(
    maxBig(ceilDiv(oldMax * BUMP_NUM, BUMP_DEN), 2n * suggested.baseFee + tip),
    caps.maxFeePerGas,
  );
  if (tip * MIN_BUMP_DEN < oldTip * MIN_BUMP_NUM || max * MIN_BUMP_DEN < oldMax * MIN_BUMP_NUM) return null;
  return { maxFeePerGas: max, maxPriorityFeePerGas: tip };
}

/** The chain as one anchoring key sees it: one contract, one log origin. */
export class AnchorChain {
  readonly sender: string;
  private readonly wallet: Wallet;
  private readonly originHash: string;
  private checked = false;

  constructor(
    readonly provider: JsonRpcProvider,
    wallet: Wallet,
    private readonly config: { chainId: number; contract: string },
    private readonly origin: string,
    private readonly log?: Logger,
  ) {
    this.wallet = wallet.connect(provider);
    this.sender = this.wallet.address.toLowerCase();
    this.originHash = keccak256(toUtf8Bytes(origin));
  }

  /**
   * Once: the node serves the configured chain and the contract exists there. A contract without
   * `rootAt` (the first, events-only one) still anchors, with a warning.
   */
  async check(): Promise<void> {
    if (this.checked) return;
    const { chainId, contract } = this.config;
    const reported = Number(BigInt(await this.provider.send('eth_chainId', [])));
    if (reported !== chainId) {
      throw new AnchorError('CHAIN_MISMATCH', `node serves chain ${reported}, configured ${chainId}`);
    }
    if ((await this.provider.getCode(contract)) === '0x') {
      throw new AnchorError('CONTRACT_MISSING', `no contract at ${contract}`);
    }
    try {
      const data = anchorInterface.encodeFunctionData('rootAt', [this.sender, this.originHash, 0n]);
      await this.provider.call({ to: contract, data });
    } catch (e) {
      if ((e as { code?: string }).code !== 'CALL_EXCEPTION') throw e;
      // Still anchors (same anchor() and event), but verifiers cannot read a root back.
      this.log?.warn(
        { contract },
        'ANCHOR_CONTRACT keeps no roots (the first, events-only Anchor contract): deploy the current one and move to it (network/evm/README.md)',
      );
    }
    this.checked = true;
  }

  /** The size this sender last anchored for our origin, as the contract itself records it. */
  async latestSize(): Promise<number> {
    const data = anchorInterface.encodeFunctionData('latestSize', [this.sender, this.originHash]);
    const result = await this.provider.call({ to: this.config.contract, data });
    return Number(anchorInterface.decodeFunctionResult('latestSize', result)[0]);
  }

  /** Receipt of whichever of an anchor's transactions (`hashes`, oldest first) was mined, newest first. */
  async minedReceipt(hashes: readonly string[]): Promise<TransactionReceipt | null> {
    for (const hash of [...hashes].reverse()) {
      const receipt = await this.provider.getTransactionReceipt(hash);
      if (receipt) return receipt;
    }
    return null;
  }

  /** Blocks on top of `block`, itself included. */
  async confirmationsOf(block: number): Promise<number> {
    return (await this.provider.getBlockNumber()) - block + 1;
  }

  /** The sender's next nonce: of mined transactions (`latest`) or counting the pool's (`pending`). */
  nonce(tag: 'latest' | 'pending'): Promise<number> {
    return this.provider.getTransactionCount(this.sender, tag);
  }

  private anchorCall(size: bigint, root: string): string {
    return anchorInterface.encodeFunctionData('anchor', [this.origin, size, `0x${root}`]);
  }

  /** The gas limit of anchoring `size`/`root`: the node's estimate and a quarter more. */
  async gasLimit(size: bigint, root: string): Promise<bigint> {
    const estimate = await this.provider.estimateGas({
      from: this.sender,
      to: this.config.contract,
      data: this.anchorCall(size, root),
    });
    return estimate + estimate / 4n;
  }

  /** The signed anchor transaction of `size`/`root` and its hash (not sent). */
  async sign(
    size: bigint,
    root: string,
    nonce: number,
    fees: Fees,
    gasLimit: bigint,
  ): Promise<{ raw: string; hash: string }> {
    const raw = await this.wallet.signTransaction({
      type: 2,
      chainId: this.config.chainId,
      nonce,
      to: this.config.contract,
      data: this.anchorCall(size, root),
      value: 0n,
      gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const hash = Transaction.from(raw).hash;
    if (!hash) throw new Error('signed transaction has no hash');
    return { raw, hash };
  }

  /**
   * Sends a signed transaction; whether the node knows it afterwards is what counts, not the
   * send's error ("already known", "nonce too low" after it was mined, or a real failure), which
   * comes back for the record.
   */
  async broadcast(raw: string, hash: string): Promise<{ known: boolean; sendError: unknown }> {
    let sendError: unknown = null;
    try {
      await this.provider.send('eth_sendRawTransaction', [raw]);
    } catch (e) {
      sendError = e;
    }
    const known = Boolean(await this.provider.send('eth_getTransactionByHash', [hash]));
    return { known, sendError };
  }
}
