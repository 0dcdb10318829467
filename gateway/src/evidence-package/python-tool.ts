// tools/verify_tlog_proof.py in the package: the inclusion and checkpoint checks written again, in
// Python from the specifications (RFC 9162 §2.1.3.2, C2SP signed-note and tlog-checkpoint, RFC 8785
// for the record's canonical JSON), so a reader can repeat them without running our code. Python's
// standard library does the hashing; `cryptography` (if installed) checks the Ed25519 signature.
export const VERIFY_TLOG_PROOF_PY = `#!/usr/bin/env python3
"""Check record.tlog-proof: the record (bundle.json) is leaf INDEX of the signed checkpoint.

usage: python3 tools/verify_tlog_proof.py record.tlog-proof bundle.json [keys/keys.json]
With keys/keys.json (and the 'cryptography' package) the checkpoint's Ed25519 signature by the
log key is checked too (C2SP signed-note). Exit 0 when every check that ran passed.
"""
import base64, hashlib, json, sys


def canonical(value):
    # RFC 8785 for what records hold (strings, small integers, objects): sorted keys, no spaces.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def node(left, right):
    return hashlib.sha256(b"\\x01" + left + right).digest()


def root_from_inclusion(leaf, index, size, path):
    # RFC 9162 section 2.1.3.2
    if index >= size:
        raise ValueError("index beyond the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def main(argv):
    proof_text = open(argv[1], encoding="utf-8").read()
    bundle = json.load(open(argv[2], encoding="utf-8"))
    head, checkpoint = proof_text.split("\\n\\n", 1)
    lines = head.split("\\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1", "not a tlog-proof"
    i = 1
    if lines[i].startswith("extra "):
        i += 1
    assert lines[i].startswith("index "), "no index line"
    index = int(lines[i][6:])
    path = [base64.b64decode(x) for x in lines[i + 1:]]
    body, signatures = checkpoint.split("\\n\\n", 1)
    origin, size, root_b64 = body.split("\\n")[:3]
    leaf = hashlib.sha256(b"\\x00" + canonical(bundle["record"]).encode("utf-8")).digest()
    root = root_from_inclusion(leaf, index, int(size), path)
    ok = root == base64.b64decode(root_b64)
    print(f"inclusion: leaf {index} of {size} in {origin}: {'OK' if ok else 'FAILED'}")
    if len(argv) > 3:
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError:
            print("checkpoint signature: not checked (pip install cryptography)")
            return 0 if ok else 1
        keys = json.load(open(argv[3], encoding="utf-8"))["checkpointKeys"]
        signed = False
        for vkey in keys:
            name, key_hash, key_b64 = vkey.split("+", 2)
            raw = base64.b64decode(key_b64)
            if raw[0] != 1:
                continue  # not Ed25519 (e.g. an SM2 key)
            public = Ed25519PublicKey.from_public_bytes(raw[1:])
            for line in signatures.strip("\\n").split("\\n"):
                parts = line.split(" ")
                if len(parts) != 3 or parts[1] != name:
                    continue
                sig = base64.b64decode(parts[2])
                if sig[:4].hex() != key_hash:
                    continue
                public.verify(sig[4:], (body + "\\n").encode("utf-8"))
                signed = True
        print(f"checkpoint signature: {'OK' if signed else 'FAILED'}")
        ok = ok and signed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
`;
