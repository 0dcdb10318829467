// SM2 and SM3 proven, not assumed: the standards' worked examples, OpenSSL (node:crypto),
// sm-crypto-v2 (JavaScript, a dev dependency used here only) and Python's gmssl, both directions.
import { spawnSync } from 'node:child_process';
import {
  createHash,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { ecdsa, weierstrass } from '@noble/curves/abstract/weierstrass.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { sm2 as smCrypto, sm3 as smCryptoSm3 } from 'sm-crypto-v2';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './encoding.ts';
import {
  SM2_CURVE,
  SM2_DEFAULT_ID,
  sm2OnCurve,
  sm2PublicKey,
  sm2RandomPrivateKey,
  sm2Sign,
  sm2SignAsync,
  sm2Verify,
  sm2Z,
} from './sm2.ts';
import { sm2BaseX, sm2Nonce } from './sm2-base-node.ts';
import { sm3 } from './sm3.ts';

const hex = (h: string) => fromHex(h.replace(/\s+/g, ''));
const MESSAGE = utf8('message digest');

describe('SM3 (GB/T 32905-2016)', () => {
  it('gives the standard’s two examples (Annex A): "abc" and 64 bytes of "abcd"', () => {
    expect(toHex(sm3(utf8('abc')))).toBe('66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
    expect(toHex(sm3(utf8('abcd'.repeat(16))))).toBe(
      'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732',
    );
  });

  it('equals OpenSSL’s SM3 (node:crypto) at every length around the block and padding edges', () => {
    const data = new Uint8Array(300).map((_, i) => (i * 131 + 7) & 0xff);
    for (let length = 0; length <= 300; length++) {
      const part = data.subarray(0, length);
      expect(toHex(sm3(part)), `length ${length}`).toBe(createHash('sm3').update(part).digest('hex'));
    }
  });

  it('streams: any split into updates gives the one-shot digest', () => {
    const data = new Uint8Array(1000).map((_, i) => (i * 17) & 0xff);
    const whole = toHex(sm3(data));
    for (const cut of [1, 55, 56, 63, 64, 65, 128, 999]) {
      const h = sm3.create();
      for (let at = 0; at < data.length; at += cut) h.update(data.subarray(at, at + cut));
      expect(toHex(h.digest()), `chunks of ${cut}`).toBe(whole);
    }
  });

  it('equals sm-crypto-v2’s SM3', () => {
    for (const text of ['', 'a', 'message digest', '链证'.repeat(40)]) {
      expect(toHex(sm3(utf8(text)))).toBe(smCryptoSm3(utf8(text)));
    }
  });
});

describe('SM2 signatures: the standards’ worked examples', () => {
  // GB/T 32918.2-2016 Annex A (= GM/T 0003.2-2012 Annex A): the 256-bit *example* curve over Fp,
  // not the recommended one, with ID ALICE123@YAHOO.COM.
  const example = sm2OnCurve({
    p: 0x8542d69e4c044f18e8b92435bf6ff7de457283915c45517d722edb8b08f1dfc3n,
    a: 0x787968b4fa32c3fd2417842e73bbfeff2f3c848b6831d7e0ec65228b3937e498n,
    b: 0x63e4c6d3b23b0c849cf84241484bfe48f61d59a5b16ba06e6e12d1da27c5249an,
    n: 0x8542d69e4c044f18e8b92435bf6ff7dd297720630485628d5ae74ee7c32e79b7n,
    h: 1n,
    Gx: 0x421debd61b62eab6746434ebc3cc315e32220b3badd50bdc4c4e6c147fedd43dn,
    Gy: 0x0680512bcbb42c07d47349d2153b70c4e5d7fdfcbfa36ea1a85841b9e46e09a2n,
  });
  const d = hex('128B2FA8 BD433C6C 068C8D80 3DFF7979 2A519A55 171B1B65 0C23661D 15897263');
  const publicKey = hex(
    '04 0AE4C779 8AA0F119 471BEE11 825BE462 02BB79E2 A5844495 E97C04FF 4DF2548A' +
      '7C0240F8 8F1CD4E1 6352A73C 17B7F16F 07353E53 A176D684 A9FE0C6B B798E857',
  );
  const id = 'ALICE123@YAHOO.COM';
  const k = 0x6cb28d99385c175c94f94e934817663fc176d925dd72b727260dbaae1fb2f96fn;
  const signature = hex(
    '40F1EC59 F793D9F4 9E09DCEF 49130D41 94F79FB1 EED2CAA5 5BACDB49 C4E755D1' +
      '6FC6DAC3 2C5D5CF1 0C77DFB2 0F7C2EB6 67A45787 2FB09EC5 6327A67E C7DEEBE7',
  );

  it('GB/T 32918.2 Annex A (example curve): the public key, Z_A, e, and (r, s) from the given k', () => {
    expect(toHex(example.publicKey(d))).toBe(toHex(publicKey));
    const z = example.z(publicKey, id);
    expect(toHex(z)).toBe('f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a');
    expect(toHex(sm3(new Uint8Array([...z, ...MESSAGE])))).toBe(
      'b524f552cd82b8b028476e005c377fb19a87e6fc682d48bb5d42e3d9b9effe76',
    );
    expect(toHex(example.signWithNonce(d, MESSAGE, k, { id }))).toBe(toHex(signature));
    expect(example.verify(publicKey, MESSAGE, signature, { id })).toBe(true);
  });

  it('GB/T 32918.2 Annex A: the same signature is refused under another ID, message or (r, s)', () => {
    expect(example.verify(publicKey, MESSAGE, signature, { id: SM2_DEFAULT_ID })).toBe(false);
    expect(example.verify(publicKey, utf8('message digesT'), signature, { id })).toBe(false);
    const flipped = signature.slice();
    flipped[63]! ^= 1;
    expect(example.verify(publicKey, MESSAGE, flipped, { id })).toBe(false);
  });

  // GM/T 0003.5-2012 / GB/T 32918.5 Annex A: the *recommended* curve, the default ID.
  const d5 = hex('3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8');
  const pub5 = hex(
    '04 09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020' +
      'CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13',
  );
  const k5 = 0x59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21n;
  const sig5 = hex(
    'F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3' +
      'B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA',
  );

  it('GM/T 0003.5 Annex A (recommended curve, ID 1234567812345678): key, Z, e, (r, s)', () => {
    expect(toHex(sm2PublicKey(d5))).toBe(toHex(pub5));
    const z = sm2Z(pub5);
    expect(toHex(z)).toBe('b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3');
    expect(toHex(sm3(new Uint8Array([...z, ...MESSAGE])))).toBe(
      'f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640',
    );
    expect(toHex(sm2OnCurve(SM2_CURVE).signWithNonce(d5, MESSAGE, k5))).toBe(toHex(sig5));
    expect(sm2Verify(pub5, MESSAGE, sig5)).toBe(true);
    expect(sm2Verify(pub5, MESSAGE, sig5, { id: 'ALICE123@YAHOO.COM' })).toBe(false);
  });

  it('the Node fast path for [k]G (OpenSSL through ECDH) gives noble’s point', () => {
    const Point = weierstrass(SM2_CURVE);
    for (const k of [
      1n,
      2n,
      k5,
      SM2_CURVE.n - 1n,
      ...Array.from({ length: 8 }, () => bytesToNumberBE(sm2RandomPrivateKey())),
    ]) {
      expect(sm2BaseX(k), `k = ${k}`).toBe(Point.BASE.multiply(k).toAffine().x);
    }
  });

  it('the Node nonce off the event loop (OpenSSL key generation) is a k with the x of [k]G', async () => {
    const Point = weierstrass(SM2_CURVE);
    for (let i = 0; i < 4; i++) {
      const { k, x1 } = await sm2Nonce();
      expect(k > 0n && k < SM2_CURVE.n).toBe(true);
      expect(x1).toBe(Point.BASE.multiply(k).toAffine().x);
    }
  });

  it('sm2SignAsync makes standard signatures: ours and sm-crypto-v2 verify them, and each is fresh', async () => {
    const d = sm2RandomPrivateKey();
    const pub = sm2PublicKey(d);
    const a = await sm2SignAsync(d, MESSAGE);
    const b = await sm2SignAsync(d, MESSAGE, { id: 'lianzheng@example.cn' });
    expect(sm2Verify(pub, MESSAGE, a)).toBe(true);
    expect(smCrypto.doVerifySignature(MESSAGE, toHex(a), toHex(pub), { hash: true })).toBe(true);
    expect(sm2Verify(pub, MESSAGE, b, { id: 'lianzheng@example.cn' })).toBe(true);
    expect(sm2Verify(pub, MESSAGE, b)).toBe(false);
    expect(toHex(a)).not.toBe(toHex(await sm2SignAsync(d, MESSAGE)));
  });

  it('signers taking turns get their own Z and (1 + d)⁻¹ (kept for the last key only)', async () => {
    const keys = [sm2RandomPrivateKey(), sm2RandomPrivateKey(), sm2RandomPrivateKey()];
    for (let round = 0; round < 3; round++) {
      for (const d of [keys[0]!, keys[1]!, keys[0]!, keys[2]!]) {
        const pub = sm2PublicKey(d);
        const sync = sm2Sign(d, MESSAGE);
        const async = await sm2SignAsync(d, MESSAGE);
        expect(sm2Verify(pub, MESSAGE, sync)).toBe(true);
        expect(sm2Verify(pub, MESSAGE, async)).toBe(true);
        expect(smCrypto.doVerifySignature(MESSAGE, toHex(async), toHex(pub), { hash: true })).toBe(true);
        for (const other of keys) {
          if (other !== d) expect(sm2Verify(sm2PublicKey(other), MESSAGE, async)).toBe(false);
        }
      }
    }
  });

  it('refuses malformed signatures and keys with a clear code', () => {
    expect(sm2Verify(pub5, MESSAGE, sig5.subarray(0, 63))).toBe(false);
    expect(sm2Verify(pub5, MESSAGE, new Uint8Array(64))).toBe(false); // r = s = 0
    const rPlusSZero = new Uint8Array(64).fill(0xff); // r, s ≥ n
    expect(sm2Verify(pub5, MESSAGE, rPlusSZero)).toBe(false);
    const offCurve = pub5.slice();
    offCurve[64]! ^= 1;
    expect(() => sm2Verify(offCurve, MESSAGE, sig5)).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
    expect(() => sm2PublicKey(new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
    expect(() => sm2Sign(new Uint8Array(31), MESSAGE)).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
  });
});

describe('SM2 against an independent implementation', () => {
  it('sm-crypto-v2 (JavaScript) verifies ours, and we verify its signatures, with the default and another ID', () => {
    for (let i = 0; i < 8; i++) {
      const d = sm2RandomPrivateKey();
      const pub = sm2PublicKey(d);
      const message = utf8(`record ${i} 链证`);
      for (const id of [SM2_DEFAULT_ID, 'lianzheng@example.cn']) {
        const ours = sm2Sign(d, message, { id });
        expect(smCrypto.doVerifySignature(message, toHex(ours), toHex(pub), { hash: true, userId: id })).toBe(
          true,
        );
        const theirs = smCrypto.doSignature(message, toHex(d), {
          hash: true,
          userId: id,
          publicKey: toHex(pub),
        });
        expect(sm2Verify(pub, message, fromHex(theirs), { id })).toBe(true);
        expect(sm2Verify(pub, message, fromHex(theirs), { id: `${id}x` })).toBe(false);
      }
    }
  });

  it('a key verified many times (its fixed-window table built after 16) gives the same answers', () => {
    // Five keys, so the verifier's cache of four also evicts; sm-crypto-v2 signs, both paths judge.
    const keys = Array.from({ length: 5 }, () => {
      const d = sm2RandomPrivateKey();
      return { d, pub: sm2PublicKey(d) };
    });
    const plain = sm2OnCurve(SM2_CURVE); // a separate instance: no table for these keys
    for (let i = 0; i < 40; i++) {
      const signer = i % 3 === 0 ? i % 5 : 0;
      const { d, pub } = keys[signer]!;
      const message = utf8(`receipt ${i}`);
      const theirs = fromHex(smCrypto.doSignature(message, toHex(d), { hash: true, publicKey: toHex(pub) }));
      expect(sm2Verify(pub, message, theirs), `signature ${i}`).toBe(true);
      expect(sm2Verify(pub, utf8(`receipt ${i}!`), theirs)).toBe(false);
      const other = keys[(signer + 1) % 5]!.pub;
      expect(sm2Verify(other, message, theirs)).toBe(false);
      if (i % 8 === 0) expect(plain.verify(pub, message, theirs)).toBe(true);
    }
  });

  // Python's gmssl (pure Python, PyPI; installed by scripts/install-system-deps.sh). It knows only
  // the default ID. Its constructor strips any run of leading '0'/'4' characters from a public key
  // that starts "04", so the key is set after construction, without the 0x04 prefix.
  const GMSSL = `
import json, sys
from gmssl import sm2
cases = json.load(sys.stdin)
out = []
for c in cases:
    s = sm2.CryptSM2(private_key=c["d"], public_key="00")
    s.public_key = c["pub"]
    msg = bytes.fromhex(c["msg"])
    out.append({"theirsOk": bool(s.verify_with_sm3(c["sig"], msg)), "theirSig": s.sign_with_sm3(msg)})
print(json.dumps(out))
`;
  const gmssl =
    Boolean(process.env.CI) ||
    spawnSync('python3', ['-c', 'import gmssl'], { encoding: 'utf8' }).status === 0;

  it.skipIf(!gmssl)('Python gmssl verifies ours, and we verify its signatures (default ID)', () => {
    const cases = Array.from({ length: 6 }, (_, i) => {
      const d = sm2RandomPrivateKey();
      const pub = sm2PublicKey(d);
      const msg = utf8(`checkpoint ${i}\n`);
      return { d, pub, msg, sig: sm2Sign(d, msg) };
    });
    const run = spawnSync('python3', ['-c', GMSSL], {
      encoding: 'utf8',
      input: JSON.stringify(
        cases.map((c) => ({
          d: toHex(c.d),
          pub: toHex(c.pub.subarray(1)),
          msg: toHex(c.msg),
          sig: toHex(c.sig),
        })),
      ),
    });
    expect(run.status, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout) as { theirsOk: boolean; theirSig: string }[];
    results.forEach((r, i) => {
      const c = cases[i]!;
      expect(r.theirsOk, `gmssl verifies our signature ${i}`).toBe(true);
      expect(sm2Verify(c.pub, c.msg, fromHex(r.theirSig)), `we verify gmssl's signature ${i}`).toBe(true);
      expect(sm2Verify(c.pub, utf8('other'), fromHex(r.theirSig))).toBe(false);
    });
  });
});

describe('node:crypto (OpenSSL 3) and SM2: what it signs', () => {
  // The decision recorded in docs/gm-crypto.md: Node's generateKeyPair('ec', {namedCurve: 'SM2'})
  // makes an id-ecPublicKey key on the SM2 curve, and sign()/verify() with it compute plain ECDSA
  // over that curve — no Z, no SM2 equations — with SHA-256 unless 'sm3' is named. Node offers no
  // way to mark the key as SM2 or to pass a distinguishing ID, so this project never uses
  // node:crypto for SM2 signatures; node:crypto agrees with us on the curve and on SM3 only.
  function rawKeys(privateKey: KeyObject, publicKey: KeyObject) {
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const at = pkcs8.indexOf(Buffer.from([0x04, 0x20])) + 2; // ECPrivateKey's OCTET STRING of 32
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    return {
      d: new Uint8Array(pkcs8.subarray(at, at + 32)),
      pub: new Uint8Array(spki.subarray(spki.length - 65)),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'SM2' });
  const { d, pub } = rawKeys(privateKey, publicKey);
  const curve = weierstrass(SM2_CURVE);
  const ecdsaWith = { sm3: ecdsa(curve, sm3), sha256: ecdsa(curve, sha256) };

  it('agrees with our curve: the same public key from the same private key', () => {
    expect(toHex(sm2PublicKey(d))).toBe(toHex(pub));
  });

  it('signs plain ECDSA (no Z): SHA-256 when no digest is named, SM3 when it is; never SM2', () => {
    for (const [algorithm, ecdsaOf] of [
      [null, ecdsaWith.sha256],
      ['sm3', ecdsaWith.sm3],
    ] as const) {
      const signature = new Uint8Array(
        nodeSign(algorithm, MESSAGE, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
      );
      expect(sm2Verify(pub, MESSAGE, signature), `${algorithm}: SM2 with Z`).toBe(false);
      expect(sm2Verify(pub, MESSAGE, signature, { id: '' }), `${algorithm}: SM2, empty ID`).toBe(false);
      expect(ecdsaOf.verify(signature, MESSAGE, pub, { lowS: false }), `${algorithm}: ECDSA`).toBe(true);
    }
  });

  it('refuses a standard SM2 signature', () => {
    const ours = sm2Sign(d, MESSAGE);
    for (const algorithm of [null, 'sm3']) {
      expect(nodeVerify(algorithm, MESSAGE, { key: publicKey, dsaEncoding: 'ieee-p1363' }, ours)).toBe(false);
    }
  });
});
