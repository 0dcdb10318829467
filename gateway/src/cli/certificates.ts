import { createPublicKey } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ClientCertificateError,
  type ClientCertificateRole,
  registerClientCertificate,
  revokeClientCertificate,
} from '../auth/client-certificates.ts';
import {
  issueClientCertificate,
  issueServerCertificate,
  PkiError,
  pkiPaths,
  rotateTsaKey,
} from '../tsa/index.ts';
import { CliError, EXIT, loadCliConfig, type Out, withDatabase } from './common.ts';

export { localPkiOptions } from '../tsa/index.ts';

// `lianzheng pki server-cert`, `pki rotate-tsa` and `lianzheng clientcert …`: HTTPS for the
// gateway, the TSA keys, and partners' client certificates (mTLS), from the local PKI under
// DATA_DIR/pki or from an outside CA.

export const CERTIFICATES_HELP = `  lianzheng pki rotate-tsa [--ecdsa | --sm2]
      A new TSA key and certificate: the ECDSA one and, with CRYPTO_SUITE dual or gm, the SM2
      (GM/T 0033) one under the SM2 root, or only the one named. Old certificates stay published
      in certs.pem (tsa/retired/), so old tokens keep verifying; restart the gateway to sign with
      the new keys.
  lianzheng pki server-cert [--dns NAME]… [--ip ADDRESS]…
      Issue the gateway's TLS certificate from the local root (default names: localhost,
      127.0.0.1, ::1) into DATA_DIR/pki/server/; serve it with TLS_CERT_FILE and TLS_KEY_FILE.
  lianzheng clientcert create --org ORG --name NAME [--role partner|unit] [--public-key PEM-FILE]
      Issue a partner's client certificate from the local root (its key too, unless the partner
      sent a public key) and accept it for ORG in ROLE. Prints the files to hand over.
  lianzheng clientcert register --org ORG --name NAME --cert PEM-FILE [--role partner|unit]
      Accept a client certificate issued by the CA in TLS_CLIENT_CA_FILE.
  lianzheng clientcert revoke --name NAME
      Stop accepting it (within AUTH_CACHE_MS, default 30 s, on running gateways).`;

function refused(e: unknown): never {
  if (e instanceof ClientCertificateError || e instanceof PkiError) {
    throw new CliError(EXIT.USAGE, `${e.code}: ${e.message}`);
  }
  throw e;
}

function role(value: string | undefined): ClientCertificateRole {
  if (value === undefined || value === 'partner' || value === 'unit') return value ?? 'partner';
  throw new CliError(EXIT.USAGE, '--role is partner or unit');
}

/** `lianzheng pki rotate-tsa [--ecdsa | --sm2]`. */
export async function cmdRotateTsa(
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  const { values } = parseArgs({ args, options: { ecdsa: { type: 'boolean' }, sm2: { type: 'boolean' } } });
  if (values.ecdsa && values.sm2)
    throw new CliError(EXIT.USAGE, 'pki rotate-tsa takes --ecdsa or --sm2, not both');
  const dir = path.join(loadCliConfig(env).dataDir, 'pki');
  const hasSm2 = await fs.access(pkiPaths(dir).tsaSm2Key).then(
    () => true,
    () => false,
  );
  const which: ('ecdsa' | 'sm2')[] = values.sm2
    ? ['sm2']
    : values.ecdsa || !hasSm2
      ? ['ecdsa']
      : ['ecdsa', 'sm2'];
  for (const algorithm of which) {
    const { certificate, retired } = await rotateTsaKey(dir, { algorithm }).catch(refused);
    out.log(JSON.stringify({ algorithm, certificate, retired }));
  }
  out.error(
    'Rotated. The old certificates stay in certs.pem; restart the gateway to time-stamp with the new keys.',
  );
  return EXIT.OK;
}

export async function cmdServerCert(
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { dns: { type: 'string', multiple: true }, ip: { type: 'string', multiple: true } },
  });
  const given = (values.dns?.length ?? 0) + (values.ip?.length ?? 0) > 0;
  const config = loadCliConfig(env);
  const { certPath, keyPath } = await issueServerCertificate(path.join(config.dataDir, 'pki'), {
    dnsNames: given ? (values.dns ?? []) : ['localhost'],
    ipAddresses: given ? (values.ip ?? []) : ['127.0.0.1', '::1'],
  }).catch(refused);
  out.log(`TLS_CERT_FILE=${certPath}`);
  out.log(`TLS_KEY_FILE=${keyPath}`);
  out.log(`clients trust ${path.join(config.dataDir, 'pki', 'root', 'ca.cert.pem')}`);
  return EXIT.OK;
}

export async function cmdClientCert(
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      cert: { type: 'string' },
      'public-key': { type: 'string' },
    },
  });
  if (sub === 'revoke') {
    if (!values.name) throw new CliError(EXIT.USAGE, 'clientcert revoke needs --name');
    const done = await withDatabase(env, (pool) => revokeClientCertificate(pool, values.name!));
    if (!done) throw new CliError(EXIT.USAGE, `no client certificate named ${values.name} is accepted`);
    out.log(`revoked ${values.name}`);
    return EXIT.OK;
  }
  if (sub !== 'create' && sub !== 'register') {
    throw new CliError(EXIT.USAGE, 'usage: lianzheng clientcert create|register|revoke …');
  }
  if (!values.org || !values.name) throw new CliError(EXIT.USAGE, `clientcert ${sub} needs --org and --name`);
  const config = loadCliConfig(env);
  let certificate: Buffer;
  let files: string[] = [];
  if (sub === 'register') {
    if (!values.cert) throw new CliError(EXIT.USAGE, 'clientcert register needs --cert');
    certificate = await fs.readFile(values.cert).catch((e: Error) => {
      throw new CliError(EXIT.USAGE, `cannot read ${values.cert}: ${e.message}`);
    });
  } else {
    const publicKey = values['public-key']
      ? await fs.readFile(values['public-key'], 'utf8').catch((e: Error) => {
          throw new CliError(EXIT.USAGE, `cannot read ${values['public-key']}: ${e.message}`);
        })
      : undefined;
    const issued = await issueClientCertificate(path.join(config.dataDir, 'pki'), {
      name: values.name,
      organization: values.org,
      ...(publicKey ? { publicKey: createPublicKey(publicKey) } : {}),
    }).catch(refused);
    certificate = await fs.readFile(issued.certPath);
    files = [issued.certPath, ...(issued.keyPath ? [issued.keyPath] : [])];
  }
  const registered = await withDatabase(env, (pool) =>
    registerClientCertificate(pool, {
      name: values.name!,
      org: values.org!,
      role: role(values.role),
      certificate,
    }),
  ).catch(refused);
  out.log(
    `accepted ${registered.name} for ${registered.org} as ${registered.role} until ${registered.notAfter.toISOString()}`,
  );
  out.log(`fingerprint (SHA-256) ${registered.fingerprint}`);
  for (const f of files) out.log(f);
  return EXIT.OK;
}
