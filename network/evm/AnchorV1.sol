// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title LianZheng checkpoint anchor, first version (events only)
/// @notice Kept for reference, NOT to deploy: the contract operators deployed before Anchor.sol
/// kept each anchored root. The benchmark measures both side by side, and the tests check that
/// anchors on it (roots in event logs only) still verify after a move to Anchor.sol.
/// (The original notice follows.) Publishes (size, root) of a transparency log's checkpoints. Each anchorer (the sending
/// address) has its own append-only series per log origin: a size that is not larger than the
/// last one it anchored is refused, so the chain itself shows the log never shrank or forked
/// between anchors. Keyed by sender so that nobody can block an operator's series by anchoring
/// a huge size for its origin first.
contract AnchorV1 {
    /// The last size anchored by `anchorer` for the log whose origin hashes to `originHash`.
    mapping(address anchorer => mapping(bytes32 originHash => uint64 size)) public latestSize;

    /// One anchored checkpoint. `originHash` is keccak256 of the checkpoint's origin line.
    event Anchored(address indexed anchorer, bytes32 indexed originHash, uint64 size, bytes32 root);

    /// The size is not larger than the one already anchored by this sender for this origin.
    error NotAppendOnly(uint64 latest, uint64 size);

    function anchor(string calldata origin, uint64 size, bytes32 root) external {
        bytes32 originHash = keccak256(bytes(origin));
        uint64 latest = latestSize[msg.sender][originHash];
        if (size <= latest) revert NotAppendOnly(latest, size);
        latestSize[msg.sender][originHash] = size;
        emit Anchored(msg.sender, originHash, size, root);
    }
}
