#!/usr/bin/env python3
"""Checks a LianZheng bundle's anchor on an EVM chain with plain JSON-RPC, Python standard library only.

    python3 network/evm/check_anchor.py --rpc http://127.0.0.1:8545 \
        --bundle bundle.json --identity identity.json

bundle.json: a record's proof bundle (GET /v1/verify/{sha256} -> records[i].bundle); only its
`anchor` is read: {chainId, contract, txHash, size, root}. identity.json: the operator's anchoring
identity, GET /v1/keys -> .anchor, better a copy you trust: {chainId, contract, anchorer,
originHash, confirmations}.

The same four calls as network/evm/README.md's shell check, written apart from the project's
TypeScript (proof/src/lib/anchor-rpc.ts): eth_chainId, eth_getTransactionReceipt (the Anchored
event, its sender and contract), eth_call rootAt (the root the contract itself keeps) and
eth_blockNumber (confirmations). It counts confirmations only: the chain's finalized block, which
verifyBundle also takes for the operator's published count, is not asked, so this is the stricter.

Keccak-256 is not in Python's standard library (hashlib.sha3_256 is FIPS 202 SHA3-256, whose
padding differs: its digests are not Keccak's). So this script computes no hash: the event topic
and the rootAt selector are written out below (keccak-256 of the signatures, as the README lists
them), and the log's origin hash is compared with the `originHash` the operator publishes. That
`originHash` = keccak256(origin line) is a separate check, with any Keccak tool (e.g.
`cast keccak "$ORIGIN"`, or ethers' keccak256(toUtf8Bytes(origin))).

What this does not check is that your record is in the anchored tree: that is the bundle's
inclusion proof plus `anchor.consistency` (lianzheng verify, or proof's verifyBundle).

Exit codes: 0 the anchor checks out; 1 it does not (the line says which check); 3 the node could
not be asked (network, HTTP or JSON-RPC error); 2 bad arguments or files.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.request

# keccak256("Anchored(address,bytes32,uint64,bytes32)")
ANCHORED_TOPIC = "0x3d0c97912257c6ad70e8f6fc81ae518ad3e14734d308b512c2729cc637a4b0b1"
# first 4 bytes of keccak256("rootAt(address,bytes32,uint64)")
ROOT_AT_SELECTOR = "0xa8a320a6"

HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
CAIP2 = re.compile(r"^eip155:[0-9]{1,19}$")


class Unreachable(Exception):
    """The node gave no usable answer: exit 3, not a verdict on the anchor."""


class Refused(Exception):
    """The chain's answer does not vouch for the anchor: exit 1."""

    def __init__(self, code, detail):
        super().__init__(f"{code}: {detail}")
        self.code = code


def rpc(url, method, params, timeout):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as res:
            # A JSON-RPC answer for these calls is small; a node that sends more is not answering.
            answer = json.loads(res.read(4 * 1024 * 1024))
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Unreachable(f"{method}: {e}") from e
    if not isinstance(answer, dict):
        raise Unreachable(f"{method}: not a JSON-RPC answer")
    if answer.get("error"):
        raise Unreachable(f"{method}: JSON-RPC error {answer['error']}")
    return answer.get("result")


def quantity(value, what):
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{1,16}", value):
        raise Unreachable(f"bad {what}: {value!r}")
    return int(value, 16)


def check(url, anchor, identity, timeout):
    """Prints one line per check; raises Refused or Unreachable at the first that fails."""
    contract = identity["contract"].lower()
    anchorer = identity["anchorer"].lower()
    origin_hash = identity["originHash"].lower()
    needed = int(identity.get("confirmations") or 1)

    # 1. The node serves the chain the operator publishes (and the bundle names).
    chain = f"eip155:{quantity(rpc(url, 'eth_chainId', [], timeout), 'chain id')}"
    if chain != identity["chainId"]:
        raise Refused("FOREIGN_CHAIN", f"the node serves {chain}, the operator anchors on {identity['chainId']}")
    if anchor["chainId"] != chain:
        raise Refused("FOREIGN_CHAIN", f"the bundle's anchor is on {anchor['chainId']}")
    if anchor["contract"].lower() != contract:
        raise Refused("FOREIGN_CONTRACT", f"the bundle names contract {anchor['contract']}, the operator's is {contract}")
    print(f"PASS chain {chain}")

    # 2. The transaction succeeded, was sent by the operator, and carries the contract's Anchored
    #    event for the operator's origin with the bundle's size and root.
    receipt = rpc(url, "eth_getTransactionReceipt", [anchor["txHash"]], timeout)
    if receipt is None:
        raise Refused("TX_NOT_FOUND", anchor["txHash"])
    if receipt.get("status") != "0x1":
        raise Refused("TX_FAILED", anchor["txHash"])
    sender = str(receipt.get("from", "")).lower()
    if sender != anchorer:
        raise Refused("FOREIGN_SENDER", f"sent by {sender}, the operator anchors from {anchorer}")
    event = None
    for log in receipt.get("logs") or []:
        topics = [str(t).lower() for t in log.get("topics") or []]
        if str(log.get("address", "")).lower() == contract and topics[:1] == [ANCHORED_TOPIC]:
            event = (topics, str(log.get("data", "")))
            break
    if event is None:
        raise Refused("EVENT_MISSING", f"no Anchored event from {contract}")
    topics, data = event
    if len(topics) != 3 or not re.fullmatch(r"0x[0-9a-fA-F]{128}", data):
        raise Refused("EVENT_MISSING", "the Anchored event is malformed")
    # An indexed address is the low 20 bytes of its 32-byte topic.
    if topics[1] != "0x" + "0" * 24 + anchorer[2:]:
        raise Refused("FOREIGN_SENDER", f"the event's anchorer is 0x{topics[1][26:]}")
    if topics[2] != origin_hash:
        raise Refused("FOREIGN_ORIGIN", f"the event is for origin hash {topics[2]}")
    size, root = int(data[2:66], 16), data[66:130].lower()
    if size != anchor["size"] or root != anchor["root"].lower():
        raise Refused("MISMATCH", f"the chain holds size {size}, root {root}")
    block = quantity(receipt.get("blockNumber"), "block number")
    print(f"PASS event size {size} root {root} sent by {sender} in block {block}")

    # 3. The contract itself keeps that root for (anchorer, originHash, size): no trust in logs.
    call_data = ROOT_AT_SELECTOR + anchorer[2:].rjust(64, "0") + origin_hash[2:] + format(size, "064x")
    kept = rpc(url, "eth_call", [{"to": contract, "data": call_data}, "latest"], timeout)
    if not isinstance(kept, str) or not HEX32.match(kept):
        raise Unreachable(f"eth_call rootAt: not one 32-byte word: {kept!r}")
    if kept[2:].lower() != root:
        raise Refused("ROOT_NOT_STORED", f"the contract keeps {kept} for size {size}")
    print(f"PASS rootAt({size}) = {root}")

    # 4. Deep enough: head - block + 1 confirmations, at least what the operator waits for.
    head = quantity(rpc(url, "eth_blockNumber", [], timeout), "block number")
    confirmations = head - block + 1
    if confirmations < needed:
        raise Refused("NOT_CONFIRMED", f"{confirmations} of {needed} confirmations")
    print(f"PASS {confirmations} confirmations (at least {needed})")


def load(path, what):
    with open(path, encoding="utf-8") as f:
        value = json.load(f)
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rpc", required=True, help="a JSON-RPC endpoint you trust")
    parser.add_argument("--bundle", required=True, help="the record's proof bundle (JSON)")
    parser.add_argument("--identity", required=True, help="the operator's anchoring identity (/v1/keys .anchor)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per call (default 15)")
    args = parser.parse_args(argv)
    try:
        anchor = load(args.bundle, "the bundle").get("anchor")
        identity = load(args.identity, "the identity")
        if not isinstance(anchor, dict):
            raise ValueError("the bundle has no anchor (the log was not anchored since this record)")
        for key, pattern in (("chainId", CAIP2), ("contract", ADDRESS), ("txHash", HEX32)):
            if not isinstance(anchor.get(key), str) or not pattern.match(anchor[key]):
                raise ValueError(f"anchor.{key} is malformed")
        if not isinstance(anchor.get("size"), int) or not re.fullmatch(r"[0-9a-fA-F]{64}", str(anchor.get("root"))):
            raise ValueError("anchor.size or anchor.root is malformed")
        for key, pattern in (
            ("chainId", CAIP2),
            ("contract", ADDRESS),
            ("anchorer", ADDRESS),
            ("originHash", HEX32),
        ):
            if not isinstance(identity.get(key), str) or not pattern.match(identity[key]):
                raise ValueError(f"identity.{key} is malformed")
    except (OSError, ValueError) as e:
        print(f"ERROR {e}", file=sys.stderr)
        return 2
    try:
        check(args.rpc, anchor, identity, args.timeout)
    except Refused as e:
        print(f"FAIL {e}")
        return 1
    except Unreachable as e:
        print(f"NETWORK {e}")
        return 3
    print("OK the anchor is on the operator's chain and contract, from its address, kept and confirmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
