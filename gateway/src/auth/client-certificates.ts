import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type pg from 'pg';
import { CredentialCache } from './credential-cache.ts';
import type { Principal } from './principal.ts';

/**
 * Partners' TLS client certificates (mTLS), the other credential partner systems use beside API
 * keys. TLS checks that a certificate chains to the configured client CA and that its holder has
 * the key; the gateway then looks its fingerprint up in `client_certificates`, which says which
 * organisation and role it stands for — so a certificate the CA issued for something else, or one
 * revoked here, is refused. Registered with `lianzheng clientcert create|register`.
 */
export type ClientCertificateRole = 'partner' | 'unit';

const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export class ClientCertificateError extends Error {
  constructor(
    readonly code: 'BAD_CERTIFICATE' | 'NOT_CLIENT_AUTH' | 'EXPIRED' | 'BAD_NAME' | 'DUPLICATE',
    message: string,
  ) {
    super(message);
    this.name = 'ClientCertificateError';
  }
}

/** Lowercase hex SHA-256 of a certificate's DER encoding. */
export function certificateFingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

export interface RegisteredClientCertificate {
  name: string;
  org: string;
  role: ClientCertificateRole;
  fingerprint: string;
  subject: string;
  notAfter: Date;
}

/** Lists a client certificate (PEM or DER) for `org` in `role`; it must be meant for clientAuth. */
export async function registerClientCertificate(
  db: pg.Pool,
  input: { name: string; org: string; role?: ClientCertificateRole; certificate: string | Buffer },
): Promise<RegisteredClientCertificate> {
  if (!NAME.test(input.name)) {
    throw new ClientCertificateError('BAD_NAME', 'a name is lowercase letters, digits, - and _ (up to 63)');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(input.certificate);
  } catch (e) {
    throw new ClientCertificateError('BAD_CERTIFICATE', `not an X.509 certificate: ${(e as Error).message}`);
  }
  // No extendedKeyUsage at all would mean "any purpose"; a partner's certificate says clientAuth.
  if (!cert.keyUsage?.includes(EKU_CLIENT_AUTH)) {
    throw new ClientCertificateError(
      'NOT_CLIENT_AUTH',
      'the certificate is not for TLS client authentication (EKU clientAuth)',
    );
  }
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() <= Date.now()) {
    throw new ClientCertificateError('EXPIRED', `the certificate expired on ${notAfter.toISOString()}`);
  }
  const registered: RegisteredClientCertificate = {
    name: input.name,
    org: input.org,
    role: input.role ?? 'partner',
    fingerprint: certificateFingerprint(cert.raw),
    subject: cert.subject.replaceAll('\n', ', '),
    notAfter,
  };
  try {
    await db.query(
      `insert into client_certificates (fingerprint, name, org, role, subject, not_after)
       values ($1, $2, $3, $4, $5, $6)`,
      [
        registered.fingerprint,
        registered.name,
        registered.org,
        registered.role,
        registered.subject,
        notAfter,
      ],
    );
  } catch (e) {
    if ((e as { code?: string }).code === '23505') {
      throw new ClientCertificateError(
        'DUPLICATE',
        `a certificate named ${input.name}, or this certificate, is listed already`,
      );
    }
    throw e;
  }
  return registered;
}

export async function revokeClientCertificate(db: pg.Pool, name: string): Promise<boolean> {
  const r = await db.query(
    'update client_certificates set revoked_at = now() where name = $1 and revoked_at is null',
    [name],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Resolves a listed, unrevoked, unexpired certificate's fingerprint to its principal. */
export class ClientCertificateVerifier {
  private readonly cache: CredentialCache;
  constructor(
    private readonly db: () => pg.Pool,
    ttlMs = 30_000,
  ) {
    this.cache = new CredentialCache(ttlMs);
  }

  /** As ApiKeyVerifier.verify: `beforeLookup` runs only when the database must be asked. */
  async verify(
    fingerprint: string,
    beforeLookup?: (wasKnown: boolean) => void,
  ): Promise<Principal | undefined> {
    return this.cache.resolve(fingerprint, async (wasKnown) => {
      beforeLookup?.(wasKnown);
      const { rows } = await this.db().query<{ name: string; org: string; role: ClientCertificateRole }>(
        `select name, org, role from client_certificates
          where fingerprint = $1 and revoked_at is null and not_after > now()`,
        [fingerprint],
      );
      const row = rows[0];
      return row ? { role: row.role, org: row.org, subject: `cert:${row.name}` } : undefined;
    });
  }
}

/** What the TLS layer says of a connection's client certificate. */
export type PeerCertificate =
  | { kind: 'none' }
  | { kind: 'refused'; reason: string }
  | { kind: 'verified'; fingerprint: string };

// The peer certificate is fixed for a connection: worked out once, not per request.
const peers = new WeakMap<TLSSocket, PeerCertificate>();

/** The client certificate of a request's connection; `none` on plain HTTP or without one. */
export function peerCertificate(socket: unknown): PeerCertificate {
  const tls = socket as Partial<TLSSocket> | undefined;
  if (!tls?.encrypted || typeof tls.getPeerCertificate !== 'function') return { kind: 'none' };
  const known = peers.get(tls as TLSSocket);
  if (known) return known;
  const peer = tls.getPeerCertificate();
  let answer: PeerCertificate;
  if (!peer?.raw) answer = { kind: 'none' };
  else if (!tls.authorized)
    answer = { kind: 'refused', reason: String(tls.authorizationError ?? 'not trusted') };
  else answer = { kind: 'verified', fingerprint: certificateFingerprint(peer.raw) };
  peers.set(tls as TLSSocket, answer);
  return answer;
}
