// `lianzheng oidc discover ISSUER`: reads an identity provider's discovery document (OpenID
// Connect Discovery 1.0) and prints the OIDC_* lines the gateway needs (docs/identity-provider.md),
// so an operator copies endpoints rather than typing them. The gateway itself does not discover
// at start: it would then fail to start while the provider is down, and a changed document would
// change the gateway's trust without anyone seeing it.
//
// It also says what in the document stands in the workspace's way: no S256 PKCE, no public
// clients, no authorisation code, no end-session endpoint.

import { parseArgs } from 'node:util';
import { CliError, EXIT, type Out } from './common.ts';

export const OIDC_HELP = `  lianzheng oidc discover ISSUER [--timeout-ms N]
      Read ISSUER/.well-known/openid-configuration and print the OIDC_ISSUER, OIDC_JWKS_URL,
      OIDC_AUTHORIZATION_URL, OIDC_TOKEN_URL and OIDC_END_SESSION_URL lines for the gateway's
      environment; warn (stderr) where the provider lacks what the inspector's workspace needs.
      Exit 1 when the document names another issuer or lacks an endpoint the gateway needs.`;

/** A discovery document is a few KiB; more is not one. */
const MAX_BYTES = 1 << 20;

interface Discovery {
  issuer?: unknown;
  jwks_uri?: unknown;
  authorization_endpoint?: unknown;
  token_endpoint?: unknown;
  end_session_endpoint?: unknown;
  code_challenge_methods_supported?: unknown;
  token_endpoint_auth_methods_supported?: unknown;
  grant_types_supported?: unknown;
}

function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? value : undefined;
  } catch {
    return undefined;
  }
}

const list = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;

/** The lines to print and the warnings, from a document fetched for `issuer`. */
export function readDiscovery(issuer: string, doc: Discovery): { lines: string[]; warnings: string[] } {
  // Discovery §4.3: the document's issuer must be exactly the one asked about; tokens will carry it.
  if (doc.issuer !== issuer)
    throw new CliError(
      EXIT.VERIFICATION_FAILED,
      `the document names issuer ${JSON.stringify(doc.issuer)}, not ${JSON.stringify(issuer)} (tokens' iss must match OIDC_ISSUER exactly)`,
    );
  const lines = [`OIDC_ISSUER=${issuer}`];
  const warnings: string[] = [];
  const required: [string, unknown][] = [
    ['OIDC_JWKS_URL', doc.jwks_uri],
    ['OIDC_AUTHORIZATION_URL', doc.authorization_endpoint],
    ['OIDC_TOKEN_URL', doc.token_endpoint],
  ];
  for (const [name, value] of required) {
    const url = httpUrl(value);
    if (!url) throw new CliError(EXIT.VERIFICATION_FAILED, `the document has no http(s) URL for ${name}`);
    lines.push(`${name}=${url}`);
  }
  const endSession = httpUrl(doc.end_session_endpoint);
  if (endSession) lines.push(`OIDC_END_SESSION_URL=${endSession}`);
  else
    warnings.push(
      'no end_session_endpoint: sign-out will only forget the token in the page, and the provider will sign the next person at that computer straight back in',
    );
  const pkce = list(doc.code_challenge_methods_supported);
  if (pkce && !pkce.includes('S256'))
    warnings.push(`code_challenge_methods_supported is ${JSON.stringify(pkce)}: the workspace needs S256`);
  if (!pkce)
    warnings.push('the document does not say whether PKCE S256 is supported; the workspace needs it');
  const auth = list(doc.token_endpoint_auth_methods_supported);
  if (auth && !auth.includes('none'))
    warnings.push(
      `token_endpoint_auth_methods_supported is ${JSON.stringify(auth)}: the workspace is a public client (none)`,
    );
  const grants = list(doc.grant_types_supported);
  if (grants && !grants.includes('authorization_code'))
    warnings.push(
      `grant_types_supported is ${JSON.stringify(grants)}: the workspace needs authorization_code`,
    );
  for (const [name, value] of [
    ['OIDC_JWKS_URL', doc.jwks_uri],
    ['OIDC_TOKEN_URL', doc.token_endpoint],
  ] as const) {
    const u = new URL(value as string);
    if (u.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))
      warnings.push(
        `${name} is plain http across a network: keys and tokens could be read or changed on the way`,
      );
  }
  return { lines, warnings };
}

export async function cmdOidc(args: string[], out: Out, fetchImpl: typeof fetch = fetch): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'discover')
    throw new CliError(EXIT.USAGE, 'usage: lianzheng oidc discover ISSUER (lianzheng help)');
  const { values, positionals } = parseArgs({
    args: rest,
    options: { 'timeout-ms': { type: 'string' } },
    allowPositionals: true,
  });
  const issuer = positionals[0];
  if (positionals.length !== 1 || !issuer || !httpUrl(issuer))
    throw new CliError(EXIT.USAGE, 'usage: lianzheng oidc discover ISSUER (an http(s) URL)');
  const timeoutMs = Number(values['timeout-ms'] ?? 10_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000)
    throw new CliError(EXIT.USAGE, '--timeout-ms must be a whole number from 100 to 120000');
  // Discovery §4: the issuer with any trailing slash removed, then the well-known path.
  const where = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const res = await fetchImpl(where, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  if (!res.ok) throw new CliError(EXIT.NETWORK, `${where} answered ${res.status}`);
  if (Number(res.headers.get('content-length') ?? 0) > MAX_BYTES)
    throw new CliError(EXIT.VERIFICATION_FAILED, `${where} is not a discovery document (over 1 MiB)`);
  const text = await res.text();
  if (text.length > MAX_BYTES)
    throw new CliError(EXIT.VERIFICATION_FAILED, `${where} is not a discovery document (over 1 MiB)`);
  let doc: Discovery;
  try {
    doc = JSON.parse(text) as Discovery;
  } catch {
    throw new CliError(EXIT.VERIFICATION_FAILED, `${where} is not JSON`);
  }
  if (typeof doc !== 'object' || doc === null)
    throw new CliError(EXIT.VERIFICATION_FAILED, `${where} is not a discovery document`);
  const { lines, warnings } = readDiscovery(issuer, doc);
  for (const line of lines) out.log(line);
  for (const w of warnings) out.error(`warning: ${w}`);
  return EXIT.OK;
}
