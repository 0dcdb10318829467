/** The Anchor contract's interface (network/evm/Anchor.sol), as ethers human-readable ABI. */
export const ANCHOR_ABI = [
  'function anchor(string origin, uint64 size, bytes32 root)',
  'function latestSize(address anchorer, bytes32 originHash) view returns (uint64 size)',
  'function rootAt(address anchorer, bytes32 originHash, uint64 size) view returns (bytes32 root)',
  'event Anchored(address indexed anchorer, bytes32 indexed originHash, uint64 size, bytes32 root)',
  'error NotAppendOnly(uint64 latest, uint64 size)',
  'error ZeroRoot()',
] as const;

/** CAIP-2 chain id of an EVM chain: `eip155:<chainId>`. */
export function caip2(chainId: number): string {
  return `eip155:${chainId}`;
}
