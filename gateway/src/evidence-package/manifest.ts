// manifest.json: every other member of the package with its size, SHA-256 and SM3 (GB/T
// 32905-2016, node:crypto's 'sm3'), so a changed byte anywhere is found and named. It is signed
// twice over, by things a reader can check without us:
// - manifest.jws — a compact JWS (RFC 7515, ES256) whose payload is manifest.json's exact bytes,
//   signed by the gateway's document-signing key; its `x5c` header carries that certificate and the
//   local root, so any JOSE library plus the root verifies it. (The document key, not the receipt
//   key: a manifest is not a receipt, and the document key is the one certified for documents.)
// - manifest.tst — an RFC 3161 token from the gateway's TSA over SHA-256(manifest.json): when the
//   package was made, checkable with `openssl ts -verify`.
import {
  createHash,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';

export const MANIFEST_FORMAT = 'lianzheng-evidence-package/1';
export const MANIFEST_JWS_TYPE = 'lianzheng-manifest+jws';

export interface ManifestFile {
  path: string;
  bytes: number;
  sha256: string;
  sm3: string;
  /** What the member is, in Chinese and English. */
  description: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  recordId: string;
  projectId: string;
  generatedAt: string;
  /** Whether restricted details (title, amount, …) are in this package. */
  restrictedDetails: boolean;
  gateway?: string;
  files: ManifestFile[];
}

export const fileDigests = (data: Uint8Array) => ({
  bytes: data.length,
  sha256: createHash('sha256').update(data).digest('hex'),
  sm3: createHash('sm3').update(data).digest('hex'),
});

export function manifestBytes(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

const b64url = (data: Uint8Array | string) => Buffer.from(data).toString('base64url');

/** A compact JWS over the manifest's exact bytes, ES256, with the certificate chain in x5c. */
export function signManifest(bytes: Uint8Array, key: KeyObject, chain: readonly Uint8Array[]): string {
  const header = {
    alg: 'ES256',
    typ: MANIFEST_JWS_TYPE,
    x5c: chain.map((c) => Buffer.from(c).toString('base64')),
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(bytes)}`;
  const signature = cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

export interface ManifestSignatureCheck {
  ok: boolean;
  code?:
    | 'MANIFEST_JWS_MALFORMED'
    | 'MANIFEST_JWS_PAYLOAD'
    | 'MANIFEST_JWS_SIGNATURE'
    | 'MANIFEST_JWS_UNTRUSTED';
  detail?: string;
  signer?: string;
}

/** The JWS is over exactly `manifest`, verifies with x5c[0], and x5c[0] chains to a root. */
export function verifyManifestSignature(
  jws: string,
  manifest: Uint8Array,
  rootsPem: string[],
): ManifestSignatureCheck {
  const parts = jws.trim().split('.');
  if (parts.length !== 3) return { ok: false, code: 'MANIFEST_JWS_MALFORMED', detail: 'not a compact JWS' };
  let header: { alg?: string; typ?: string; x5c?: string[] };
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, code: 'MANIFEST_JWS_MALFORMED', detail: 'the header is not JSON' };
  }
  if (
    header.alg !== 'ES256' ||
    header.typ !== MANIFEST_JWS_TYPE ||
    !Array.isArray(header.x5c) ||
    !header.x5c[0]
  ) {
    return {
      ok: false,
      code: 'MANIFEST_JWS_MALFORMED',
      detail: `header ${JSON.stringify({ alg: header.alg, typ: header.typ })}`,
    };
  }
  if (!Buffer.from(parts[1]!, 'base64url').equals(Buffer.from(manifest))) {
    return {
      ok: false,
      code: 'MANIFEST_JWS_PAYLOAD',
      detail: 'the JWS was made over other bytes than manifest.json',
    };
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(Buffer.from(header.x5c[0], 'base64'));
  } catch (err) {
    return { ok: false, code: 'MANIFEST_JWS_MALFORMED', detail: `x5c: ${(err as Error).message}` };
  }
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2]!, 'base64url');
  if (!cryptoVerify('sha256', signed, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, signature)) {
    return { ok: false, code: 'MANIFEST_JWS_SIGNATURE', detail: 'the signature does not verify' };
  }
  const roots = rootsPem.flatMap((pem) =>
    [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
      (m) => new X509Certificate(m[0]),
    ),
  );
  const now = Date.now();
  const trusted = roots.some((r) => leaf.checkIssued(r) && leaf.verify(r.publicKey));
  if (!trusted) {
    return {
      ok: false,
      code: 'MANIFEST_JWS_UNTRUSTED',
      detail: 'the signing certificate does not chain to a trusted root',
    };
  }
  const signer = /CN=([^\n]+)/.exec(leaf.subject)?.[1];
  // Validity is judged at the manifest's time-stamp (manifest.tst), not now: a package stays
  // checkable after the document certificate expires. Here only a certificate not yet valid fails.
  if (Date.parse(leaf.validFrom) > now) {
    return { ok: false, code: 'MANIFEST_JWS_UNTRUSTED', detail: 'the signing certificate is not valid yet' };
  }
  return { ok: true, ...(signer ? { signer } : {}) };
}
