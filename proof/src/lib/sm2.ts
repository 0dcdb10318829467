// SM2 digital signatures (GB/T 32918.2-2016 / GM/T 0003.2-2012) on the recommended curve
// (GB/T 32918.5-2017), with SM3 and the signer's Z value:
//   Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)     ENTL = bit length of ID, 2 bytes big-endian
//   e = SM3(Z ‖ M)
//   sign:   (x1, y1) = [k]G, r = (e + x1) mod n, s = (1 + d)⁻¹ · (k − r·d) mod n
//   verify: t = (r + s) mod n ≠ 0, (x1, y1) = [s]G + [t]P, accept iff (e + x1) mod n = r
// The curve arithmetic is @noble/curves' (audited) short-Weierstrass points; SM2's signature
// equations are not ECDSA's, so they are written out here. Signatures are r ‖ s, 32 bytes each
// (as JOSE writes ECDSA), public keys uncompressed 0x04 ‖ x ‖ y (65 bytes). Pure: Node and browser.
import { type WeierstrassOpts, weierstrass } from '@noble/curves/abstract/weierstrass.js';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { sm2BaseX, sm2Nonce } from '#sm2-base-impl';
import { concatBytes, toHex, utf8 } from './encoding.ts';
import { ProofError } from './errors.ts';
import { sm3 } from './sm3.ts';

/** The distinguishing identifier GM/T 0009-2012 §10 fixes when the parties agree on none. */
export const SM2_DEFAULT_ID = '1234567812345678';

/** The recommended 256-bit curve of GB/T 32918.5-2017 (OpenSSL's `SM2`, OID 1.2.156.10197.1.301). */
export const SM2_CURVE: WeierstrassOpts<bigint> = Object.freeze({
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  h: 1n,
  Gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  Gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
});

/** How an SM2 signature is made and checked: the signer's identifier (default `SM2_DEFAULT_ID`). */
export interface Sm2Options {
  id?: string | Uint8Array;
}

/** The operations on one curve; `SM2_CURVE` for everything real, other curves for the tests. */
export interface Sm2 {
  publicKey(privateKey: Uint8Array): Uint8Array;
  z(publicKey: Uint8Array, id?: string | Uint8Array): Uint8Array;
  sign(privateKey: Uint8Array, message: Uint8Array, options?: Sm2Options): Uint8Array;
  /**
   * The same signature, with the nonce's [k]G made off the calling thread where the platform can
   * (Node: OpenSSL on the thread pool); elsewhere, or if that fails, as `sign`.
   */
  signAsync(privateKey: Uint8Array, message: Uint8Array, options?: Sm2Options): Promise<Uint8Array>;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, options?: Sm2Options): boolean;
  /** Sign with a given nonce k: only for the standard's worked examples, never for real keys. */
  signWithNonce(privateKey: Uint8Array, message: Uint8Array, k: bigint, options?: Sm2Options): Uint8Array;
  randomPrivateKey(): Uint8Array;
  /** Throws `BAD_KEY` unless the bytes are 04 ‖ x ‖ y of a point of the curve. */
  assertPublicKey(publicKey: Uint8Array): void;
}

const SIZE = 32;
// ENTL is two bytes of bits, so an identifier is at most 8191 bytes.
const MAX_ID_BYTES = 8191;

function fail(why: string): never {
  throw new ProofError('BAD_KEY', why);
}

function idBytes(id: string | Uint8Array | undefined): Uint8Array {
  const bytes = id === undefined ? utf8(SM2_DEFAULT_ID) : typeof id === 'string' ? utf8(id) : id;
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_ID_BYTES)
    fail('an SM2 identifier is at most 8191 bytes');
  return bytes;
}

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/**
 * SM2 over the given curve parameters (32-byte field and order). `baseX`, where given, computes
 * the x of [k]G faster than @noble/curves (OpenSSL in Node) and must be for this curve.
 */
export function sm2OnCurve(
  curve: WeierstrassOpts<bigint>,
  baseX?: (k: bigint) => bigint,
  nonce?: () => Promise<{ k: bigint; x1: bigint }>,
): Sm2 {
  const Point = weierstrass(curve);
  const { n } = curve;
  const mod = (x: bigint) => ((x % n) + n) % n;
  const Fn = Point.Fn;
  const fixed = concatBytes(
    numberToBytesBE(curve.a, SIZE),
    numberToBytesBE(curve.b, SIZE),
    numberToBytesBE(curve.Gx, SIZE),
    numberToBytesBE(curve.Gy, SIZE),
  );

  // d must be in [1, n − 2]: 1 + d is inverted when signing.
  function scalar(privateKey: Uint8Array): bigint {
    if (!(privateKey instanceof Uint8Array) || privateKey.length !== SIZE)
      fail('an SM2 private key is 32 bytes');
    const d = bytesToNumberBE(privateKey);
    if (d < 1n || d > n - 2n) fail('the SM2 private key is out of range');
    return d;
  }

  function point(publicKey: Uint8Array) {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 2 * SIZE + 1 || publicKey[0] !== 0x04) {
      fail('an SM2 public key is 65 bytes, 0x04 ‖ x ‖ y');
    }
    try {
      return Point.fromBytes(publicKey); // checks that the point is on the curve and not infinity
    } catch {
      fail('the SM2 public key is not a point of the curve');
    }
  }

  function publicKey(privateKey: Uint8Array): Uint8Array {
    return Point.BASE.multiply(scalar(privateKey)).toBytes(false);
  }

  function zOf(publicKeyBytes: Uint8Array, id?: string | Uint8Array): Uint8Array {
    const ident = idBytes(id);
    const bits = ident.length * 8;
    const affine = point(publicKeyBytes).toAffine();
    return sm3(
      concatBytes(
        new Uint8Array([bits >>> 8, bits & 0xff]),
        ident,
        fixed,
        numberToBytesBE(affine.x, SIZE),
        numberToBytesBE(affine.y, SIZE),
      ),
    );
  }

  function digest(publicKeyBytes: Uint8Array, message: Uint8Array, id?: string | Uint8Array): bigint {
    if (!(message instanceof Uint8Array)) fail('the message is bytes');
    return bytesToNumberBE(sm3.create().update(zOf(publicKeyBytes, id)).update(message).digest());
  }

  // Z depends only on the key and the identifier: a signer signs many messages with one key, so
  // the last one's Z is kept (the gateway's signing key; it saves a scalar multiplication).
  let lastZ: { key: string; id: string; z: Uint8Array } | undefined;
  function signerZ(privateKey: Uint8Array, d: bigint, id: string | Uint8Array | undefined): Uint8Array {
    const key = toHex(privateKey);
    const idKey = typeof id === 'string' || id === undefined ? `s:${id ?? SM2_DEFAULT_ID}` : `b:${toHex(id)}`;
    if (lastZ?.key === key && lastZ.id === idKey) return lastZ.z;
    const z = zOf(Point.BASE.multiply(d).toBytes(false), id);
    lastZ = { key, id: idKey, z };
    return z;
  }

  function signerDigest(privateKey: Uint8Array, d: bigint, message: Uint8Array, id?: string | Uint8Array) {
    if (!(message instanceof Uint8Array)) fail('the message is bytes');
    return bytesToNumberBE(
      sm3
        .create()
        .update(signerZ(privateKey, d, id))
        .update(message)
        .digest(),
    );
  }

  function signWithNonce(privateKey: Uint8Array, message: Uint8Array, k: bigint, options: Sm2Options = {}) {
    const d = scalar(privateKey);
    const e = signerDigest(privateKey, d, message, options.id);
    const signature = attempt(d, e, k);
    if (signature === undefined) fail('this nonce gives no signature');
    return signature;
  }

  // (1 + d)⁻¹ depends only on the key: the last signer's is kept, as its Z is (the inversion
  // was ~20 µs of the ~30 µs an SM2 signature costs the event loop once [k]G is made elsewhere).
  let lastInverse: { d: bigint; inverse: bigint } | undefined;
  function onePlusDInverse(d: bigint): bigint {
    if (lastInverse?.d === d) return lastInverse.inverse;
    const inverse = Fn.inv(Fn.add(1n, d));
    lastInverse = { d, inverse };
    return inverse;
  }

  function attempt(d: bigint, e: bigint, k: bigint, knownX1?: bigint): Uint8Array | undefined {
    if (k < 1n || k >= n) return undefined;
    const x1 = knownX1 ?? (baseX ? baseX(k) : Point.BASE.multiply(k).toAffine().x);
    const r = mod(e + x1);
    if (r === 0n || r + k === n) return undefined;
    const s = Fn.mul(onePlusDInverse(d), mod(k - r * d));
    if (s === 0n) return undefined;
    return concatBytes(numberToBytesBE(r, SIZE), numberToBytesBE(s, SIZE));
  }

  function sign(privateKey: Uint8Array, message: Uint8Array, options: Sm2Options = {}): Uint8Array {
    const d = scalar(privateKey);
    const e = signerDigest(privateKey, d, message, options.id);
    for (;;) {
      // 48 random bytes reduced mod n − 1, plus 1: k uniform in [1, n − 1] up to a 2⁻¹²⁸ bias.
      const k = (bytesToNumberBE(randomBytes(48)) % (n - 1n)) + 1n;
      const signature = attempt(d, e, k);
      if (signature !== undefined) return signature;
    }
  }

  async function signAsync(privateKey: Uint8Array, message: Uint8Array, options: Sm2Options = {}) {
    const d = scalar(privateKey);
    const e = signerDigest(privateKey, d, message, options.id);
    if (nonce) {
      for (let tries = 0; tries < 4; tries++) {
        let pair: { k: bigint; x1: bigint };
        try {
          pair = await nonce();
        } catch {
          break; // the platform could not make one: sign on this thread
        }
        const signature = attempt(d, e, pair.k, pair.x1);
        if (signature !== undefined) return signature;
      }
    }
    return sign(privateKey, message, options);
  }

  // [t]P for a public key without a table is ~80% of a verification (1.6 of 2.1 ms here). A
  // verifier that checks many signatures by one key (lianzheng audit, the CLI over a package, a
  // page listing a project) gets that key a fixed-window table (W = 8, as noble uses for G): ~50 ms
  // once, then [t]P costs ~0.2 ms. Built only after TABLE_AFTER verifications with the key, so a
  // page checking one bundle never pays for it; at most KEPT keys are kept (~0.6 MB each), the
  // least used going first.
  // The table changes only how [t]P is computed, not its value (sm2.test.ts checks both paths).
  const TABLE_AFTER = 16;
  const KEPT = 4;
  const verifierKeys = new Map<string, { point: ReturnType<typeof point>; uses: number; table: boolean }>();
  function verifierPoint(publicKeyBytes: Uint8Array) {
    if (!(publicKeyBytes instanceof Uint8Array)) return point(publicKeyBytes);
    const hex = toHex(publicKeyBytes);
    let known = verifierKeys.get(hex);
    if (known === undefined) {
      known = { point: point(publicKeyBytes), uses: 0, table: false };
      if (verifierKeys.size >= KEPT) {
        // The least used key without a table goes, so a stream of one-off keys does not push
        // out the key an audit checks again and again; only when all have tables, one of those.
        let least: string | undefined;
        let fewest = Number.POSITIVE_INFINITY;
        for (const tables of [false, true]) {
          for (const [other, entry] of verifierKeys) {
            if (entry.table === tables && entry.uses < fewest) [least, fewest] = [other, entry.uses];
          }
          if (least !== undefined) break;
        }
        verifierKeys.delete(least!);
      }
      verifierKeys.set(hex, known);
    }
    if (++known.uses >= TABLE_AFTER && !known.table) {
      known.point.precompute(8, false);
      known.table = true;
    }
    return known.point;
  }

  function verify(
    publicKeyBytes: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
    options: Sm2Options = {},
  ) {
    if (!(signature instanceof Uint8Array) || signature.length !== 2 * SIZE) return false;
    const r = bytesToNumberBE(signature.subarray(0, SIZE));
    const s = bytesToNumberBE(signature.subarray(SIZE));
    if (r < 1n || r >= n || s < 1n || s >= n) return false;
    const t = mod(r + s);
    if (t === 0n) return false;
    const P = verifierPoint(publicKeyBytes);
    const e = digest(publicKeyBytes, message, options.id);
    // Two multiplications and an addition: faster here than noble's mulAddUnsafe (measured).
    const sum = Point.BASE.multiplyUnsafe(s).add(P.multiplyUnsafe(t));
    if (sum.is0()) return false;
    return mod(e + sum.toAffine().x) === r;
  }

  function randomPrivateKey(): Uint8Array {
    // d uniform in [1, n − 2] up to a 2⁻¹²⁸ bias.
    return numberToBytesBE((bytesToNumberBE(randomBytes(48)) % (n - 2n)) + 1n, SIZE);
  }

  const assertPublicKey = (publicKeyBytes: Uint8Array) => void point(publicKeyBytes);
  return { publicKey, z: zOf, sign, signAsync, verify, signWithNonce, randomPrivateKey, assertPublicKey };
}

const SM2 = sm2OnCurve(SM2_CURVE, sm2BaseX, sm2Nonce);

/** The uncompressed public key (65 bytes) of a 32-byte SM2 private key. */
export const sm2PublicKey = SM2.publicKey;
/** Z, the SM3 of the signer's identifier, the curve and the public key (GB/T 32918.2 §5.5). */
export const sm2Z = SM2.z;
/** An SM2 signature (r ‖ s, 64 bytes) of the message, with SM3 and Z; a fresh random nonce. */
export const sm2Sign = SM2.sign;
/** `sm2Sign`, with the nonce's [k]G made on Node's thread pool (elsewhere: as `sm2Sign`). */
export const sm2SignAsync = SM2.signAsync;
/** Whether an r ‖ s SM2 signature of the message verifies under the public key and identifier. */
export const sm2Verify = SM2.verify;
/** Throws `BAD_KEY` unless the bytes are an SM2 public key (04 ‖ x ‖ y, on the curve). */
export const assertSm2PublicKey = SM2.assertPublicKey;
/** A new random SM2 private key (32 bytes). */
export const sm2RandomPrivateKey = SM2.randomPrivateKey;
