import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { certificateFingerprint, type PeerCertificate } from './client-certificates.ts';

/**
 * Client certificates passed on by a reverse proxy that terminates TLS (TLS_CLIENT_CERT_HEADER):
 * most deployments put nginx, an SLB or an ALB in front, and there the gateway never sees the
 * TLS handshake. A header anyone could send proves nothing, so it is read only on connections
 * from TRUSTED_PROXIES, and the certificate in it must still be one the client CA issued, be
 * within its dates and be meant for client authentication; then it is looked up by fingerprint
 * exactly as a certificate presented to the gateway directly. The proxy must verify the client's
 * possession of the key (the TLS handshake) and overwrite any copy of the header the client sent.
 *
 * Accepted encodings: URL-encoded PEM (nginx `$ssl_client_escaped_cert`, AWS ALB), PEM with its
 * line breaks turned into spaces (Apache), base64 DER (Traefik).
 */
const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** Parsed headers kept, so a partner's every request does not re-parse and re-verify its certificate. */
const CACHE_MAX = 1024;

type Checked = { fingerprint: string; notBefore: number; notAfter: number } | { refused: string };

export class ForwardedCertificates {
  private readonly proxies = new net.BlockList();
  private readonly checked = new Map<string, Checked>();

  constructor(
    readonly header: string,
    proxies: readonly string[],
    /** The client CA; undefined when its file is missing (every forwarded certificate is refused). */
    private readonly ca: X509Certificate | undefined,
    private readonly caFile: string,
  ) {
    for (const entry of proxies) {
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const family = net.isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.proxies.addAddress(address, family);
      else this.proxies.addSubnet(address, Number(bits), family);
    }
  }

  /** Whether a connection from `address` (as the socket reports it) comes from a trusted proxy. */
  trusts(address: string | undefined): boolean {
    if (!address) return false;
    // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
    const v4 = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : undefined;
    if (v4) return this.proxies.check(v4, 'ipv4');
    return this.proxies.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
  }

  /** The certificate a request's proxy passed on: `none` without the header. */
  read(
    headers: Record<string, string | string[] | undefined>,
    peerAddress: string | undefined,
  ): PeerCertificate {
    const value = headers[this.header];
    if (value === undefined) return { kind: 'none' };
    if (!this.trusts(peerAddress)) {
      return {
        kind: 'refused',
        reason: `a certificate in ${this.header} from ${peerAddress ?? 'an unknown address'}, which is not in TRUSTED_PROXIES`,
      };
    }
    if (Array.isArray(value)) return { kind: 'refused', reason: `more than one ${this.header} header` };
    let checked = this.checked.get(value);
    if (!checked) {
      checked = this.check(value);
      if (this.checked.size >= CACHE_MAX) this.checked.clear();
      this.checked.set(value, checked);
    }
    if ('refused' in checked) return { kind: 'refused', reason: checked.refused };
    const now = Date.now();
    if (now < checked.notBefore || now > checked.notAfter)
      return { kind: 'refused', reason: 'the certificate is outside its validity period' };
    return { kind: 'verified', fingerprint: checked.fingerprint };
  }

  private check(value: string): Checked {
    if (!this.ca) return { refused: `no client CA to check it against (${this.caFile} is missing)` };
    let cert: X509Certificate;
    try {
      const text = value.includes('%') ? decodeURIComponent(value) : value;
      const base64 = text.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return { refused: `${this.header} is not a certificate` };
      cert = new X509Certificate(Buffer.from(base64, 'base64'));
    } catch {
      return { refused: `${this.header} is not a certificate` };
    }
    if (!cert.checkIssued(this.ca) || !cert.verify(this.ca.publicKey))
      return { refused: 'the certificate was not issued by the client CA' };
    if (!cert.keyUsage?.includes(EKU_CLIENT_AUTH))
      return { refused: 'the certificate is not for TLS client authentication (EKU clientAuth)' };
    return {
      fingerprint: certificateFingerprint(cert.raw),
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
    };
  }
}
