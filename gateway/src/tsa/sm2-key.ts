// SM2 keys held as node:crypto KeyObjects (the PKI's PEM files) and signed with by proof/'s SM2:
// node:crypto makes plain ECDSA over the SM2 curve, not GB/T 32918.2 signatures
// (docs/gm-crypto.md), so the TSA (GM/T 0033 tokens) and the PKI (SM2-with-SM3 certificates) take
// the private scalar out of the key and sign with `sm2Sign` (Z over the default ID).
import type { KeyObject } from 'node:crypto';
import { sm2Sign } from '@lianzheng/proof';
import forge from 'node-forge';
import { type Asn1, fromDer, integer, seq, toDer } from './der.ts';
import { OID } from './oids.ts';

/** The 32-byte private scalar of an EC key (PKCS#8 → ECPrivateKey → privateKey OCTET STRING). */
export function ecPrivateScalar(key: KeyObject): Uint8Array {
  const pkcs8 = fromDer(key.export({ type: 'pkcs8', format: 'der' }));
  const ecPrivateKey = fromDer(Buffer.from((pkcs8.value as Asn1[])[2]!.value as string, 'binary'));
  return Buffer.from((ecPrivateKey.value as Asn1[])[1]!.value as string, 'binary');
}

/**
 * Whether a key is on the SM2 curve. A freshly generated one says so (`ec`, namedCurve `SM2`); one
 * read back from PEM is an OpenSSL "SM2" key that Node names no type at all, so the curve
 * parameter of its PrivateKeyInfo (or SubjectPublicKeyInfo) decides.
 */
export function isSm2Key(key: KeyObject): boolean {
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'SM2';
  if (key.asymmetricKeyType !== undefined) return false;
  try {
    const der =
      key.type === 'private'
        ? key.export({ type: 'pkcs8', format: 'der' })
        : key.export({ type: 'spki', format: 'der' });
    const parts = fromDer(der).value as Asn1[];
    // PKCS#8: version, algorithm, key; SPKI: algorithm, key.
    const algorithm = key.type === 'private' ? parts[1]! : parts[0]!;
    const params = (algorithm.value as Asn1[])[1];
    return params !== undefined && forge.asn1.derToOid(params.value as string) === OID.sm2Curve;
  } catch {
    return false;
  }
}

/** SM2's (r ‖ s) as X.509 and CMS carry it (GM/T 0009, GB/T 35276): SEQUENCE { INTEGER r, INTEGER s }. */
export function sm2SignatureDer(raw: Uint8Array): Buffer {
  const int = (b: Uint8Array) => integer(BigInt(`0x${Buffer.from(b).toString('hex')}`));
  return toDer(seq([int(raw.subarray(0, 32)), int(raw.subarray(32))]));
}

/** An SM2-with-SM3 signature (GB/T 32918.2, Z over ID 1234567812345678) of `data`, DER-encoded. */
export function sm2SignDer(key: KeyObject, data: Uint8Array): Buffer {
  return sm2SignatureDer(sm2Sign(ecPrivateScalar(key), data));
}
