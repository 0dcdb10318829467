-- Partners' TLS client certificates (mTLS): a certificate is known by the SHA-256 of its DER
-- encoding, and stands for one organisation in one role, as an API key does. A certificate that
-- chains to the configured client CA but is not listed here (or is revoked) is refused.
create table client_certificates (
  fingerprint text primary key,         -- lowercase hex SHA-256 of the certificate's DER
  name text not null unique,            -- the operator's handle for it (revoke by name)
  org text not null,
  role text not null default 'partner' check (role in ('partner', 'unit')),
  subject text not null,                -- as the certificate says, for operators
  not_after timestamptz not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);
