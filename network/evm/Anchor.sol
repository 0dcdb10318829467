// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title LianZheng checkpoint anchor
/// @notice Publishes (size, root) of a transparency log's checkpoints and keeps every root, so a
/// stranger can confirm an anchor with one eth_call (`rootAt`) instead of trusting whoever serves
/// the event logs. Each anchorer (the sending address) has its own append-only series per log
/// origin: a size that is not larger than the last one it anchored is refused, so the chain itself
/// shows the log never shrank or forked between anchors, and a stored root is never overwritten.
/// Keyed by sender so that nobody can block an operator's series by anchoring a huge size for its
/// origin first; a verifier pins the operator's address (published in the gateway's /v1/keys).
contract Anchor {
    /// The last size anchored by `anchorer` for the log whose origin hashes to `originHash`.
    mapping(address anchorer => mapping(bytes32 originHash => uint64 size)) public latestSize;

    /// The root `anchorer` anchored for that log at each size (zero: never anchored).
    mapping(address anchorer => mapping(bytes32 originHash => mapping(uint64 size => bytes32 root)))
        private roots;

    /// One anchored checkpoint. `originHash` is keccak256 of the checkpoint's origin line.
    event Anchored(address indexed anchorer, bytes32 indexed originHash, uint64 size, bytes32 root);

    /// The size is not larger than the one already anchored by this sender for this origin.
    error NotAppendOnly(uint64 latest, uint64 size);

    /// A zero root is refused: zero is what `rootAt` answers for a size never anchored.
    error ZeroRoot();

    function anchor(string calldata origin, uint64 size, bytes32 root) external {
        if (root == bytes32(0)) revert ZeroRoot();
        bytes32 originHash = keccak256(bytes(origin));
        uint64 latest = latestSize[msg.sender][originHash];
        if (size <= latest) revert NotAppendOnly(latest, size);
        latestSize[msg.sender][originHash] = size;
        roots[msg.sender][originHash][size] = root;
        emit Anchored(msg.sender, originHash, size, root);
    }

    /// The root `anchorer` anchored for `originHash` at `size`, or zero if it anchored none there.
    function rootAt(address anchorer, bytes32 originHash, uint64 size) external view returns (bytes32 root) {
        return roots[anchorer][originHash][size];
    }
}
