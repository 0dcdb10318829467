// What a verifier shows of a root certificate: the SHA-256 of its DER (its fingerprint, the value
// a trust file pins) and a name to call it by (subject CN, else O). Same DER reader as the token
// check, so it runs in the browser too.

import { sha256 } from '../lib/digest.ts';
import { toHex } from '../lib/encoding.ts';
import { children, content, ctx, expect, parseDer, pemCertificates, readOid, seqOf, TAG } from './_der.ts';

const CN = '2.5.4.3';
const O = '2.5.4.10';

export interface CertificateInfo {
  /** Lowercase hex SHA-256 of the certificate's DER. */
  sha256: string;
  /** The subject's common name, else its organisation, else ''. */
  name: string;
}

function stringValue(tag: number, bytes: Uint8Array): string {
  // BMPString (UCS-2, big-endian); every other directory string type here is ASCII or UTF-8.
  if (tag === 0x1e) {
    let out = '';
    for (let i = 0; i + 1 < bytes.length; i += 2)
      out += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return out;
  }
  return new TextDecoder().decode(bytes);
}

/** Subject attributes of a DER certificate, OID → first value. Throws DerError when malformed. */
function subjectAttributes(der: Uint8Array): Map<string, string> {
  const [tbsT] = seqOf(parseDer(der), 'Certificate');
  const tbs = seqOf(tbsT, 'TBSCertificate');
  const i = tbs[0]?.tag === ctx(0) ? 1 : 0;
  // serial, signature algorithm, issuer, validity, then the subject.
  const subject = expect(tbs[i + 4], TAG.SEQUENCE, 'subject');
  const out = new Map<string, string>();
  for (const rdn of children(subject)) {
    for (const atv of seqOf(rdn, 'RDN', TAG.SET)) {
      const [oid, value] = seqOf(atv, 'AttributeTypeAndValue');
      const key = readOid(oid);
      if (value && !out.has(key)) out.set(key, stringValue(value.tag, content(value)));
    }
  }
  return out;
}

/** Fingerprint and name of each certificate in a PEM text (unreadable ones are left out). */
export function certificateInfo(pem: string): CertificateInfo[] {
  const out: CertificateInfo[] = [];
  for (const der of pemCertificates(pem)) {
    let name = '';
    try {
      const attrs = subjectAttributes(der);
      name = attrs.get(CN) ?? attrs.get(O) ?? '';
    } catch {
      continue;
    }
    out.push({ sha256: toHex(sha256(der)), name });
  }
  return out;
}
