import { parseUnits } from 'ethers';
import { ConfigError } from '../config-error.ts';

/** Anchoring settings, validated once at boot. Anchoring is off when `ANCHOR_RPC_URL` is unset. */
export interface AnchorConfig {
  rpcUrl: string;
  /** The EVM chain id; the node must report the same one or nothing is sent. */
  chainId: number;
  /** The Anchor contract's address; null until deployed (`lianzheng anchor deploy`). */
  contract: string | null;
  /**
   * A file holding the anchorer's secp256k1 private key as 0x-prefixed hex. Null only when
   * ANCHOR_ADDRESS stands in for it (an API-only process that publishes but never anchors).
   */
  keyFile: string | null;
  /** ANCHOR_ADDRESS: the anchoring address, lowercase; else derived from the key. */
  address?: string | null;
  /**
   * ANCHOR_RETIRED: earlier (chain, contract, anchoring address) triples whose anchors old
   * bundles carry, published in /v1/keys beside the current one (a contract move, a key rotation).
   */
  retired?: { chainId: number; contract: string; anchorer: string }[];
  /** ANCHOR_MAX_LAG_S: /readyz reports anchoring degraded when a recorded entry waits longer. */
  maxLagS?: number;
  /** Blocks on top of (and including) the anchoring block before an anchor counts. */
  confirmations: number;
  /** How often a new checkpoint is anchored (when the log grew). */
  intervalMs: number;
  /** How often an anchor in flight is checked (receipt, confirmations, replacement). */
  pollMs: number;
  /** An unmined transaction is replaced (same nonce, higher fees) after this long. */
  replaceAfterMs: number;
  /** EIP-1559 caps in wei: nothing is ever signed above them. */
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  /** Per JSON-RPC request. */
  rpcTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

function bad(variable: string, why: string): never {
  throw new ConfigError(variable, why);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) bad(name, 'must be a whole number');
  const n = Number(raw);
  if (n < min || n > max) bad(name, `must be between ${min} and ${max}`);
  return n;
}

function gwei(env: Env, name: string, fallback: string): bigint {
  const raw = env[name] || fallback;
  if (!/^\d+(\.\d{1,9})?$/.test(raw)) bad(name, 'must be a number of gwei (up to 9 decimals)');
  const wei = parseUnits(raw, 'gwei');
  if (wei <= 0n) bad(name, 'must be above zero');
  return wei;
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

/** `<chainId>:<contract>:<anchorer>[,…]`, e.g. `11155111:0xOldContract…:0xOldKeyAddress…`. */
function parseRetired(raw: string | undefined): NonNullable<AnchorConfig['retired']> {
  if (!raw) return [];
  return raw.split(',').map((entry) => {
    const m = /^(\d+):(0x[0-9a-fA-F]{40}):(0x[0-9a-fA-F]{40})$/.exec(entry.trim());
    const chainId = Number(m?.[1]);
    if (!m || !Number.isSafeInteger(chainId) || chainId < 1) {
      bad('ANCHOR_RETIRED', 'must be a comma-separated list of <chainId>:<contract>:<anchoring address>');
    }
    return { chainId, contract: m[2]!.toLowerCase(), anchorer: m[3]!.toLowerCase() };
  });
}

/**
 * Reads the ANCHOR_* variables. Returns null when ANCHOR_RPC_URL is unset (anchoring off); any
 * other variable that is present but wrong throws the gateway's ConfigError (code `BAD_CONFIG`)
 * naming it.
 */
export function parseAnchorConfig(env: Env): AnchorConfig | null {
  const rpcUrl = env.ANCHOR_RPC_URL;
  if (!rpcUrl) return null;
  let url: URL;
  try {
    url = new URL(rpcUrl);
  } catch {
    bad('ANCHOR_RPC_URL', 'is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') bad('ANCHOR_RPC_URL', 'must be http(s)');
  if (!env.ANCHOR_CHAIN_ID) bad('ANCHOR_CHAIN_ID', 'is required when ANCHOR_RPC_URL is set');
  const chainId = integer(env, 'ANCHOR_CHAIN_ID', 0, 1, Number.MAX_SAFE_INTEGER);
  const contract = env.ANCHOR_CONTRACT || null;
  if (contract !== null && !ADDRESS_RE.test(contract)) bad('ANCHOR_CONTRACT', 'must be a 0x address');
  const address = env.ANCHOR_ADDRESS || null;
  if (address !== null && !ADDRESS_RE.test(address)) bad('ANCHOR_ADDRESS', 'must be a 0x address');
  const keyFile = env.ANCHOR_KEY_FILE || null;
  if (!keyFile && !address)
    bad('ANCHOR_KEY_FILE', 'is required when ANCHOR_RPC_URL is set (or ANCHOR_ADDRESS, to publish only)');
  const maxFeePerGas = gwei(env, 'ANCHOR_MAX_FEE_GWEI', '100');
  const maxPriorityFeePerGas = gwei(env, 'ANCHOR_MAX_PRIORITY_FEE_GWEI', '2');
  if (maxPriorityFeePerGas > maxFeePerGas) {
    bad('ANCHOR_MAX_PRIORITY_FEE_GWEI', 'must not exceed ANCHOR_MAX_FEE_GWEI');
  }
  const intervalMs = integer(env, 'ANCHOR_INTERVAL_MS', 600_000, 100, 7 * 86_400_000);
  return {
    rpcUrl,
    chainId,
    contract: contract?.toLowerCase() ?? null,
    keyFile,
    address: address?.toLowerCase() ?? null,
    retired: parseRetired(env.ANCHOR_RETIRED),
    // Three intervals by default: an anchor is late once two whole intervals passed without one.
    maxLagS: integer(env, 'ANCHOR_MAX_LAG_S', Math.ceil((3 * intervalMs) / 1000), 1, 30 * 86_400),
    confirmations: integer(env, 'ANCHOR_CONFIRMATIONS', 3, 1, 1000),
    intervalMs,
    pollMs: integer(env, 'ANCHOR_POLL_MS', Math.min(intervalMs, 15_000), 50, 3_600_000),
    replaceAfterMs: integer(env, 'ANCHOR_REPLACE_AFTER_MS', 180_000, 100, 86_400_000),
    maxFeePerGas,
    maxPriorityFeePerGas,
    rpcTimeoutMs: integer(env, 'ANCHOR_RPC_TIMEOUT_MS', 10_000, 100, 300_000),
  };
}
