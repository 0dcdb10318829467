import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  type AnchorIdentity,
  assuranceSummary,
  checkTrustWithRotations,
  createSha256,
  deriveAssurance,
  isSha256Hex,
  type KeyRotation,
  type Standing,
  standingOf,
  standingVerdict,
  toHex,
  VERDICT_EXIT_CODES,
  verifyBundle,
} from '@lianzheng/proof';
import { runAnchorDeploy, runAnchorKeygen } from '../anchor/commands.ts';
import { parseAnchorConfig } from '../anchor/config.ts';
import { AnchorFetchError, createRpcAnchorFetcher } from '../anchor/rpc-anchor-fetcher.ts';
import { auditDatabase } from '../audit/audit.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.ts';
import { issueDevToken, loadDevIssuerKey } from '../auth/dev-issuer.ts';
import { loadConfig } from '../config.ts';
import { createSm3 } from '../intake/sm3.ts';
import { KeyRing } from '../keys/key-ring.ts';
import { BackupError, backupDatabase, restoreDatabase } from '../storage/backup.ts';
import { initPki, pkiPaths } from '../tsa/index.ts';
import { AUDIT_HELP, cmdAudit, formatAuditReport, loadAuditKeys } from './audit.ts';
import {
  CERTIFICATES_HELP,
  cmdClientCert,
  cmdRotateTsa,
  cmdServerCert,
  localPkiOptions,
} from './certificates.ts';
import { CliError, defaultOut, EXIT, loadCliConfig, type Out, withDatabase } from './common.ts';
import { cmdMonitor, MONITOR_HELP } from './monitor.ts';
import { nameWithId, type ProjectNames, parseProjectNames, recordLine } from './names.ts';
import { cmdOidc, OIDC_HELP } from './oidc.ts';
import { cmdPackage, cmdVerifyPackage, PACKAGE_HELP } from './package.ts';
import { verifyOnFabric } from './verify-fabric.ts';
import { cmdWitness, WITNESS_HELP } from './witness.ts';

export { EXIT };

export const HELP = `lianzheng — the LianZheng 链证 command line

Usage:
  lianzheng serve
      Run the gateway (configuration from the environment, see README).
  lianzheng submit <file | --sha256 HEX [--sm3 HEX]> --project ID --kind KIND [--visibility public|restricted]
                   [--title T] [--amount FEN] [--milestone M] [--result passed|failed] [--reason R]
                   [--refs ID,ID] [--supersedes ID] [--idempotency-key K]
                   [--gateway URL] [--token JWT | --api-key KEY | --cert F --key F | --org ORG] [--cacert F]
      Notarise a document. A file is hashed locally (SHA-256 and SM3) and never uploaded.
      --cert/--key: a partner's client certificate is the credential (mTLS, https gateways);
      --cacert: trust this CA for the gateway's own certificate (the local PKI's root).
      Without a credential, --org mints a development unit token (local dev issuer only).
  lianzheng verify <file | --sha256 HEX [--sm3 HEX]> [--bundle b.json --keys keys.json] [--gateway URL] [--rpc URL]
                   [--confirmations N] [--trust trust.json] [--require-witnesses] [--cacert F] [--cert F --key F]
      Check a document's evidence (a file's SM3 too, where the record carries one). With
      --bundle and --keys (the JSON of GET /v1/keys) it runs fully offline; otherwise it fetches
      /v1/verify/{sha256} and /v1/keys from the gateway and asks it for the ledger transaction
      (add --gateway to an offline check for that step).
      The anchor step reads the EVM chain from --rpc (a JSON-RPC node you trust), or else through
      the gateway's read-only proxy (said in the output). It is pinned to the operator's anchoring
      identity in the keys (chain, contract, anchoring address; GET /v1/keys \`anchor\`): an anchor
      sent from another address, on another contract or chain fails. Keys without one leave the
      step "not pinned", never passed. --confirmations: blocks the anchor needs (default: the
      gateway's ANCHOR_CONFIRMATIONS from the keys, which a block the chain reports finalized also
      meets; else 3).
      Each record gets one line — VERIFIED, WITHDRAWN (by whom, when, why), SUPERSEDED BY <id>,
      or FAILED — then what its evidence is worth (assurance: ledger, anchoring, time, witnesses;
      docs/assurance.md), its rule flags and every step. Offline, standing is known only with
      --gateway. Exit 0 verified, 1 failed, 5 withdrawn, 6 superseded (below).
      Witness cosignatures are counted against the witnesses the keys (or --trust) name; below
      the quorum the witnesses step is skipped, with --require-witnesses it fails.
      --trust trust.json: pinned keys (save GET /v1/trust.json once, from a gateway you trust):
      when the keys the gateway (or --keys) publishes name a receipt key, checkpoint key, TSA root
      or anchoring identity the file does not, it prints TRUST MISMATCH with each difference and
      exits 7 without verifying.
  lianzheng verify <file | --sha256 HEX> --fabric PROFILE --identity DIR [--project ID] [--bundle b.json --keys keys.json]
      An inspector's check through their own organisation's Fabric peer, no gateway involved:
      the records of that digest on the ledger (--project narrows the search to one project's
      batches), the transaction of each (valid, block, endorsing organisations, the log size and
      root it recorded, a checkpoint the contract keeps). With --bundle/--keys the bundle is
      checked too, its ledger step answered by the peer. FABRIC_CHANNEL, FABRIC_CHAINCODE,
      FABRIC_MSP_ID and FABRIC_AS_LOCALHOST as for the gateway. Same verdicts and exit codes
      (WITHDRAWN 5, SUPERSEDED BY 6) from what the ledger says of each record.
  lianzheng pki init
      Create (or keep) the local root CA under DATA_DIR/pki and certify the TSA, receipt and
      checkpoint keys; with CRYPTO_SUITE dual or gm also the SM2 root, which certifies the SM2
      TSA key and the SM2 keys (those made by rotation too). The gateway does this on start too.
  lianzheng anchor keygen --key-file F | anchor deploy
      Create the anchorer's signing key (fund its address), or deploy the Anchor contract with
      the ANCHOR_* configuration (prints ANCHOR_CONTRACT=…).
  lianzheng token --role unit|partner|inspector|admin [--org ORG] [--region CODE] [--ttl SECONDS]
      Print a JWT from the local development identity provider (DATA_DIR/keys).
  lianzheng apikey create --org ORG [--role partner|unit|admin] [--label TEXT]
      Create a partner API key; the key is printed once, only its hash is stored.
  lianzheng apikey list [--org ORG] | apikey revoke --id ID
      The keys on record (ids, organisations, roles, labels; never the keys), or stop one
      (running gateways refuse it within AUTH_CACHE_MS, default 30 s).
  lianzheng project delegate --project ID --org ORG [--revoke]
                    [--gateway URL] [--token JWT | --api-key KEY | --cert F --key F | --as OWNER] [--cacert F]
      Let the partner organisation ORG submit for project ID (its owning unit or an admin), or
      take that back (--revoke). --as OWNER mints a development unit token for the owning
      organisation (local dev issuer only).
  lianzheng project delegates --project ID [--gateway URL] [credentials as above]
      The project's delegations, revoked ones included (the owner, inspectors of its region, admins).
  lianzheng project trail ID [--json | --csv] [--gateway URL] [credentials as above]
  lianzheng project flags ID [--json | --csv] [--gateway URL] [credentials as above]
      A project's records in acceptance order, or its rule flags. Without credentials what is
      public; an inspector's token (lianzheng token --role inspector --region CODE) or the owning
      unit's adds the restricted details they may read. --csv prints the gateway's export
      (records.csv / flags.csv, UTF-8 with BOM; needs credentials): > trail.csv opens in Excel.
  lianzheng keys rotate [--gateway URL [--token JWT] [--cacert F]]
      Make a new receipt key current; the old one stays published. With --gateway the running
      gateway rotates (admin token; minted from the dev issuer if not given); without, the key
      files under DATA_DIR/keys are rotated and a running gateway picks them up within a second.
  lianzheng keys rotate --sm2-checkpoint
      Make a new SM2 checkpoint key current (on the key files; CRYPTO_SUITE dual or gm). The old
      key stays published, and a note signed by both hands over (docs/gm-crypto.md).
${AUDIT_HELP}
${CERTIFICATES_HELP}
${PACKAGE_HELP}
${WITNESS_HELP}
${MONITOR_HELP}
${OIDC_HELP}
  lianzheng backup DIR
      Copy the database (every table, in one consistent snapshot; safe while the gateway runs)
      into the new folder DIR, with a manifest of sizes and SHA-256s. Keys are not in it: keep
      DATA_DIR/keys and DATA_DIR/pki apart, encrypted. Exit 2 if DIR is not empty.
  lianzheng restore DIR
      Load a backup into an empty database (DATA_DIR's or DATABASE_URL's; gateway stopped), after
      checking every file against the manifest, then audit it. Exit 1 if the backup is damaged
      or the audit finds differences, 2 if the database already holds data.

Options common to all: --gateway defaults to $LIANZHENG_GATEWAY, else http://localhost:$PORT (the
gateway \`npm start\` runs with the same PORT), else http://localhost:8080. DATA_DIR (dev tokens, API
keys, the embedded database) is the checkout's ./data, as for \`npm start\`, unless set.

Exit codes:
  0  success (for verify: every check passed or was skipped for a stated reason, and the record
     stands — or, for a digest with several records, at least one of them stands)
  1  verification failed, or the digest is not notarised (restore: damaged backup, or differences)
  2  usage or configuration error (backup: DIR not empty; restore: the database holds data)
  3  network error, the gateway answered 5xx, or the database cannot be reached
  4  the gateway refused the request (4xx problem+json; its code is printed)
  5  verify: the evidence is genuine but the record was WITHDRAWN (printed with who withdrew it,
     when and why); no record of the digest still stands
  6  verify: the evidence is genuine but the record was SUPERSEDED BY a newer version (printed
     with its id); no record of the digest still stands
  7  verify --trust: the published keys differ from the pinned ones (each difference printed)
`;

/** `--gateway`, else LIANZHENG_GATEWAY, else the gateway `npm start` runs here: localhost:$PORT (8080). */
export function gatewayUrl(value: string | undefined, env: Record<string, string | undefined>): string {
  let url = value ?? env.LIANZHENG_GATEWAY;
  if (url === undefined) {
    const port = env.PORT?.trim() || '8080';
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
      throw new CliError(EXIT.USAGE, `PORT must be a port number (1–65535), not ${JSON.stringify(env.PORT)}`);
    url = `http://localhost:${Number(port)}`;
  }
  return url.replace(/\/+$/, '');
}

/**
 * HTTPS particulars for a gateway the system's CAs do not vouch for (the local PKI's root) or that
 * wants the caller's client certificate (mTLS): `--cacert`, `--cert` and `--key`.
 */
interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const TLS_OPTIONS = {
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
} as const;

async function tlsFiles(values: {
  cacert?: string;
  cert?: string;
  key?: string;
}): Promise<TlsFiles | undefined> {
  if (!values.cacert && !values.cert && !values.key) return undefined;
  if (!values.cert !== !values.key) throw new CliError(EXIT.USAGE, '--cert and --key go together');
  const read = async (flag: string, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return await fs.readFile(file);
    } catch (e) {
      throw new CliError(EXIT.USAGE, `cannot read --${flag} ${file}: ${(e as Error).message}`);
    }
  };
  return {
    ca: await read('cacert', values.cacert),
    cert: await read('cert', values.cert),
    key: await read('key', values.key),
  };
}

/** One request with node:https, for the TLS particulars global fetch cannot take. */
function httpsText(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  tls: TlsFiles,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(init.body);
  });
}

async function http(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  tls?: TlsFiles,
): Promise<{ status: number; body: unknown }> {
  if (tls && !url.startsWith('https://'))
    throw new CliError(EXIT.USAGE, `--cacert, --cert and --key need an https:// gateway, not ${url}`);
  let status: number;
  let text: string;
  try {
    if (tls) ({ status, text } = await httpsText(url, init, tls));
    else {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
      status = res.status;
      text = await res.text();
    }
  } catch (e) {
    throw new CliError(EXIT.NETWORK, `cannot reach ${url}: ${(e as Error).message}`);
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  if (status >= 500) throw new CliError(EXIT.NETWORK, `${url} answered ${status}: ${text.slice(0, 300)}`);
  return { status, body };
}

function refused(status: number, body: unknown): CliError {
  const p = body as { code?: string; detail?: string };
  return new CliError(
    EXIT.REFUSED,
    `refused (${status} ${p.code ?? ''}): ${p.detail ?? JSON.stringify(body)}`,
  );
}

/** A file's SHA-256, and its SM3 where Node has it, in one read. */
async function hashFile(file: string): Promise<{ sha256: string; sm3?: string }> {
  const hasher = createSha256();
  const sm3 = createSm3();
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      hasher.update(chunk as Uint8Array);
      sm3?.update(chunk as Uint8Array);
    }
  } catch (e) {
    throw new CliError(EXIT.USAGE, `cannot read ${file}: ${(e as Error).message}`);
  }
  return { sha256: toHex(hasher.digest()), ...(sm3 ? { sm3: sm3.digest('hex') } : {}) };
}

/** The digests to submit or verify: of the file given, or as given (--sha256, --sm3). */
async function digestArgs(
  positional: string[],
  given: { sha256?: string; sm3?: string },
): Promise<{ sha256: string; sm3?: string }> {
  if (given.sha256 !== undefined) {
    const sha256 = given.sha256.trim().toLowerCase();
    if (!isSha256Hex(sha256)) throw new CliError(EXIT.USAGE, '--sha256 must be 64 hex characters');
    const sm3 = given.sm3?.trim().toLowerCase();
    if (sm3 !== undefined && !isSha256Hex(sm3))
      throw new CliError(EXIT.USAGE, '--sm3 must be 64 hex characters');
    return { sha256, ...(sm3 ? { sm3 } : {}) };
  }
  if (given.sm3 !== undefined)
    throw new CliError(EXIT.USAGE, '--sm3 goes with --sha256 (a file is hashed with both)');
  const file = positional[0];
  if (!file) throw new CliError(EXIT.USAGE, 'give a file or --sha256');
  return hashFile(file);
}

async function devToken(env: Record<string, string | undefined>, req: Parameters<typeof issueDevToken>[1]) {
  const config = loadCliConfig(env);
  if (config.oidc.issuer) {
    throw new CliError(
      EXIT.USAGE,
      'OIDC_ISSUER is set: tokens come from the identity provider, not the dev issuer',
    );
  }
  return issueDevToken(await loadDevIssuerKey(config.keysDir), { ...req, audience: config.oidc.audience });
}

async function cmdSubmit(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      sha256: { type: 'string' },
      sm3: { type: 'string' },
      project: { type: 'string' },
      kind: { type: 'string' },
      visibility: { type: 'string', default: 'public' },
      title: { type: 'string' },
      amount: { type: 'string' },
      milestone: { type: 'string' },
      result: { type: 'string' },
      reason: { type: 'string' },
      refs: { type: 'string' },
      supersedes: { type: 'string' },
      'idempotency-key': { type: 'string' },
      gateway: { type: 'string' },
      token: { type: 'string' },
      'api-key': { type: 'string' },
      org: { type: 'string' },
      ...TLS_OPTIONS,
    },
  });
  if (!values.project || !values.kind) throw new CliError(EXIT.USAGE, 'submit needs --project and --kind');
  const digests = await digestArgs(positionals, values);
  const tls = await tlsFiles(values);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (values['api-key']) headers['x-api-key'] = values['api-key'];
  else if (values.token) headers.authorization = `Bearer ${values.token}`;
  else if (values.org)
    headers.authorization = `Bearer ${await devToken(env, { role: 'unit', org: values.org, audience: '' })}`;
  // A client certificate is a credential of its own (mTLS).
  else if (!tls?.cert)
    throw new CliError(EXIT.USAGE, 'submit needs --token, --api-key, --cert and --key, or --org (dev token)');
  if (values['idempotency-key']) headers['idempotency-key'] = values['idempotency-key'];
  const body: Record<string, unknown> = {
    ...digests,
    projectId: values.project,
    kind: values.kind,
    visibility: values.visibility,
  };
  for (const k of ['title', 'amount', 'milestone', 'result', 'reason', 'supersedes'] as const) {
    if (values[k] !== undefined) body[k] = values[k];
  }
  if (values.refs)
    body.refs = values.refs
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const gw = gatewayUrl(values.gateway, env);
  const res = await http(`${gw}/v1/evidence`, { method: 'POST', headers, body: JSON.stringify(body) }, tls);
  if (res.status >= 400) throw refused(res.status, res.body);
  out.log(JSON.stringify(res.body, null, 2));
  return EXIT.OK;
}

interface Keys {
  jwks: { keys: object[] };
  checkpointKeys: string[];
  /** PEM roots for the RFC 3161 tokens (GET /v1/keys has them); absent → that step is skipped. */
  tsaRoots?: string[];
  /** The operator's anchoring identity; absent (older gateways, anchoring off) → not pinned. */
  anchor?: AnchorIdentity;
  /** SHA-256 of the gateway's own PKI root: a TSA under it vouches for the gateway's clock only. */
  operatorRoots?: string[];
  /** Receipt key rotation statements, oldest first: how a pinned key hands over to a newer one. */
  rotations?: KeyRotation[];
  /** Outside witnesses (vkeys, names) and the quorum: whose cosignatures count. */
  witnesses?: { vkey: string; displayName?: string; displayNameZh?: string }[];
  witnessQuorum?: number;
}

/** A record as GET /v1/verify or /v1/evidence/{id} answers it (what `verify` reads of it). */
interface GatewayRecord {
  id: string;
  bundle: unknown;
  standing?: Standing;
  supersededBy?: string;
  withdrawnBy?: string;
  flags?: FlagLine[];
}

interface FlagLine {
  code: string;
  rule?: string;
  refs?: string[];
  detail?: Record<string, unknown>;
  resolvedBy?: string;
  resolvedAt?: string;
}

/** The standing a gateway reports; an older gateway's links alone when it has no `standing`. */
function gatewayStanding(r: Partial<GatewayRecord>): Standing {
  const s = r.standing;
  if (s && typeof s === 'object' && ['standing', 'withdrawn', 'superseded'].includes(s.state)) return s;
  return standingOf({ supersededBy: r.supersededBy, withdrawnBy: r.withdrawnBy });
}

/** The verdict line of one record: its standing first, then the checks. */
function verdictLine(id: string, ok: boolean, standing: Standing | undefined): string {
  if (!ok) return `FAILED ${id}`;
  if (standing?.state === 'withdrawn') {
    const when = standing.at ? ` on ${standing.at}` : '';
    const why = standing.reason ? `; reason: ${standing.reason}` : '';
    return `WITHDRAWN ${id}: genuine, but withdrawn by ${standing.by}${when}${why}`;
  }
  if (standing?.state === 'superseded') {
    const when = standing.at ? ` (accepted ${standing.at})` : '';
    return `SUPERSEDED BY ${standing.by}: ${id} is genuine, but a newer version replaces it${when}`;
  }
  return `VERIFIED ${id}`;
}

function flagLine(f: FlagLine, names?: ProjectNames): string {
  const m = f.detail?.milestone;
  const milestone = typeof m === 'string' ? ` milestone ${nameWithId(names?.milestones[m], m)}` : '';
  const refs = f.refs?.length ? ` (rests on ${f.refs.join(', ')})` : '';
  const resolved = f.resolvedBy
    ? ` — resolved by ${f.resolvedBy}${f.resolvedAt ? ` at ${f.resolvedAt}` : ''}`
    : '';
  return `  FLAG ${f.rule ?? f.code}${milestone}${refs}${resolved}`;
}

/** Failures of a look-up that say "could not ask" (exit 3), not "the answer was wrong" (exit 1). */
const LOOKUP_FAILED = new Set(['LEDGER_LOOKUP_FAILED', 'ANCHOR_LOOKUP_FAILED']);

function isNetworkFailure(e: unknown): boolean {
  return (
    (e instanceof CliError && e.exitCode === EXIT.NETWORK) ||
    (e instanceof AnchorFetchError && e.code === 'ANCHOR_RPC_UNREACHABLE')
  );
}

function printSteps(out: Out, steps: { step: string; status: string; code?: string; detail?: string }[]) {
  for (const s of steps) {
    const mark = s.status === 'pass' ? 'PASS' : s.status === 'fail' ? 'FAIL' : 'skip';
    out.log(`  ${mark.padEnd(4)} ${s.step}${s.code ? ` (${s.code})` : ''}${s.detail ? `: ${s.detail}` : ''}`);
  }
}

async function cmdVerify(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      sha256: { type: 'string' },
      sm3: { type: 'string' },
      bundle: { type: 'string' },
      keys: { type: 'string' },
      gateway: { type: 'string' },
      rpc: { type: 'string' },
      json: { type: 'boolean', default: false },
      fabric: { type: 'string' },
      identity: { type: 'string' },
      project: { type: 'string' },
      confirmations: { type: 'string' },
      trust: { type: 'string' },
      'require-witnesses': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      ...TLS_OPTIONS,
    },
  });
  if (values.help) {
    out.log(HELP.slice(HELP.indexOf('  lianzheng verify'), HELP.indexOf('  lianzheng pki')).trimEnd());
    return EXIT.OK;
  }
  let confirmations: number | undefined;
  if (values.confirmations !== undefined) {
    confirmations = Number(values.confirmations);
    if (!/^\d+$/.test(values.confirmations) || confirmations < 1 || confirmations > 1000)
      throw new CliError(EXIT.USAGE, '--confirmations must be a whole number from 1 to 1000');
  }
  const { sha256, sm3 } = await digestArgs(positionals, values);
  if (values.fabric !== undefined || values.identity !== undefined)
    return verifyThroughFabric(sha256, values, env, out);
  const tls = await tlsFiles(values);
  let bundles: { id?: string; bundle: unknown; standing?: Standing; flags?: FlagLine[] }[];
  let keys: Keys;
  // Display names of the records' projects (their organisations and milestones), by project id.
  const names = new Map<string, ProjectNames>();
  const learnNames = async (gw: string, bundleList: { bundle: unknown }[]) => {
    const ids = new Set(
      bundleList.flatMap((b) => {
        const id = (b.bundle as { record?: { projectId?: unknown } })?.record?.projectId;
        return typeof id === 'string' ? [id] : [];
      }),
    );
    for (const id of ids) {
      // Names are a courtesy: a gateway that cannot give them leaves the ids, never fails the check.
      const res = await http(`${gw}/v1/projects/${encodeURIComponent(id)}`, {}, tls).catch(() => undefined);
      const parsed = res?.status === 200 ? parseProjectNames(res.body) : undefined;
      if (parsed) names.set(id, parsed);
    }
  };
  if (values.bundle) {
    if (!values.keys)
      throw new CliError(EXIT.USAGE, 'offline verification needs --keys (the JSON of GET /v1/keys)');
    const read = async (f: string) => {
      try {
        return JSON.parse(await fs.readFile(f, 'utf8'));
      } catch (e) {
        throw new CliError(EXIT.USAGE, `cannot read ${f}: ${(e as Error).message}`);
      }
    };
    bundles = [{ bundle: await read(values.bundle) }];
    keys = await read(values.keys);
    // A bundle does not say whether its record was withdrawn or superseded since: the gateway
    // does, when one is named.
    const id = (bundles[0]!.bundle as { record?: { id?: unknown } })?.record?.id;
    if (values.gateway && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id)) {
      const found = await http(`${gatewayUrl(values.gateway, env)}/v1/evidence/${id}`, {}, tls);
      if (found.status === 200) {
        const body = found.body as GatewayRecord;
        bundles[0] = {
          ...bundles[0]!,
          standing: gatewayStanding(body),
          ...(body.flags ? { flags: body.flags } : {}),
        };
      }
    }
  } else {
    const gw = gatewayUrl(values.gateway, env);
    const found = await http(`${gw}/v1/verify/${sha256}`, {}, tls);
    if (found.status === 404) {
      out.log(`${sha256}: not notarised`);
      return EXIT.VERIFICATION_FAILED;
    }
    if (found.status >= 400) throw refused(found.status, found.body);
    const records = (found.body as { records?: GatewayRecord[] }).records ?? [];
    if (records.length === 0) {
      out.log(`${sha256}: not notarised`);
      return EXIT.VERIFICATION_FAILED;
    }
    bundles = records.map((r) => ({
      id: r.id,
      bundle: r.bundle,
      standing: gatewayStanding(r),
      flags: r.flags ?? [],
    }));
    const k = await http(`${gw}/v1/keys`, {}, tls);
    if (k.status >= 400) throw refused(k.status, k.body);
    keys = k.body as Keys;
    if (!values.json) await learnNames(gw, bundles);
  }
  // Pinned keys: every key the gateway publishes now must be one the trust file names, or nothing
  // it signed is believed — whatever the bundles say.
  if (values.trust) {
    let pinned: unknown;
    try {
      pinned = JSON.parse(await fs.readFile(values.trust, 'utf8'));
    } catch (e) {
      throw new CliError(EXIT.USAGE, `cannot read --trust ${values.trust}: ${(e as Error).message}`);
    }
    // A key rotated in since the file was saved passes only through the published statements, each
    // signed by the key before it (proof's followRotations).
    const trust = await checkTrustWithRotations(pinned, keys);
    if (!trust.ok) {
      out.error(
        `TRUST MISMATCH: the keys differ from the ones pinned in ${values.trust}; nothing was verified`,
      );
      for (const d of trust.differences) out.error(`  ${d}`);
      return EXIT.TRUST_MISMATCH;
    }
    if (!values.json)
      out.log(
        trust.followed
          ? `keys pinned by ${values.trust}: every published key is one it names or one it reaches by following ${trust.followed} key rotation${trust.followed === 1 ? '' : 's'}, each signed by the key before it`
          : `keys pinned by ${values.trust}: every published key is one it names`,
      );
    // The witnesses the file pins are the ones that count (the operator's list may differ).
    const pinnedWitnesses = (pinned as { witnesses?: unknown }).witnesses;
    if (Array.isArray(pinnedWitnesses) && pinnedWitnesses.every((w) => typeof w === 'string')) {
      const quorum = (pinned as { witnessQuorum?: unknown }).witnessQuorum;
      keys.witnesses = pinnedWitnesses.map(
        (vkey) => keys.witnesses?.find((w) => w.vkey === vkey) ?? { vkey },
      );
      keys.witnessQuorum =
        Number.isSafeInteger(quorum) &&
        (quorum as number) >= 1 &&
        (quorum as number) <= pinnedWitnesses.length
          ? (quorum as number)
          : pinnedWitnesses.length;
    }
    if (!values.json && trust.anchorChange)
      out.log(
        `anchoring moved from ${trust.anchorChange.retired.anchorer} / ${trust.anchorChange.retired.contract} on ${trust.anchorChange.retired.chainId} (pinned) to ${trust.anchorChange.next.anchorer} / ${trust.anchorChange.next.contract}, as a statement signed by a trusted receipt key says`,
      );
  }
  // The ledger step asks the gateway for the transaction (GET /v1/ledger/tx/{txId}) unless the
  // check is offline; on Fabric an inspector can ask a peer directly instead.
  const ledgerGateway = values.bundle
    ? values.gateway
      ? gatewayUrl(values.gateway, env)
      : undefined
    : gatewayUrl(values.gateway, env);
  const getLedgerTx = ledgerGateway
    ? async (ref: { txId: string }) => {
        const tx = await http(`${ledgerGateway}/v1/ledger/tx/${encodeURIComponent(ref.txId)}`, {}, tls);
        if (tx.status !== 200) return { valid: false, block: -1, size: -1, root: '' };
        return tx.body as { valid: boolean; block: number; size: number; root: string };
      }
    : undefined;
  // A look-up that could not reach its endpoint ends the command with exit 3, not 1.
  let unreachable: string | undefined;
  const watched =
    <A extends unknown[], R>(lookup: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await lookup(...args);
      } catch (e) {
        if (isNetworkFailure(e)) unreachable ??= (e as Error).message;
        throw e;
      }
    };
  // The anchor step: a chain node the user trusts (--rpc), else the gateway's read-only proxy.
  let getAnchor:
    | ((ref: { chainId: string; contract: string; txHash: string }) => Promise<unknown>)
    | undefined;
  const anchored = bundles.some((b) => (b.bundle as { anchor?: unknown })?.anchor);
  if (values.rpc) {
    getAnchor = createRpcAnchorFetcher({ rpcUrl: values.rpc });
  } else if (ledgerGateway) {
    getAnchor = async (ref) => {
      const query = `?contract=${encodeURIComponent(ref.contract)}`;
      const a = await http(
        `${ledgerGateway}/v1/anchor/tx/${encodeURIComponent(ref.txHash)}${query}`,
        {},
        tls,
      );
      if (a.status !== 200) throw new Error(`the gateway could not read anchor ${ref.txHash} (${a.status})`);
      return a.body;
    };
    if (!values.json && anchored)
      out.log(
        `anchor read through the gateway's proxy (${ledgerGateway}); use --rpc URL to ask a chain node yourself`,
      );
  }
  const anchorConfirmations = confirmations ?? keys.anchor?.confirmations ?? 3;
  // The published count may be met by a block the chain reports finalized (proof's verifyBundle
  // decides); a count asked for with --confirmations, or the default without a published one, is
  // held as a count.
  const finalityCounts = confirmations === undefined && keys.anchor?.confirmations !== undefined;
  if (!values.json && anchored) {
    const pin = keys.anchor;
    out.log(
      pin
        ? `anchor pinned to ${pin.chainId}, contract ${pin.contract}, sent by ${pin.anchorer}${pin.retired?.length ? ` (or ${pin.retired.length} retired)` : ''}; ${anchorConfirmations} confirmation${anchorConfirmations === 1 ? '' : 's'}${finalityCounts ? ' or a finalized block' : ''}`
        : 'anchor not pinned: the keys name no anchoring identity (chain, contract, address), so an anchor found is not passed',
    );
  }
  if (!values.json && keys.witnesses?.length)
    out.log(
      `witnesses: cosignatures counted for ${keys.witnesses.length} witness key${keys.witnesses.length === 1 ? '' : 's'} (${values.trust ? `pinned by ${values.trust}` : 'as the keys name them'}), quorum ${keys.witnessQuorum ?? keys.witnesses.length}${values['require-witnesses'] ? ', required' : ''}`,
    );
  let ok = true;
  const results = [];
  for (const b of bundles) {
    const v = await verifyBundle(b.bundle, {
      sha256,
      ...(sm3 ? { sm3 } : {}),
      keys: {
        jwks: keys.jwks as never,
        checkpointKeys: keys.checkpointKeys,
        tsaRoots: keys.tsaRoots ?? [],
        ...(keys.anchor ? { anchor: keys.anchor } : {}),
        ...(keys.witnesses?.length
          ? {
              witnesses: keys.witnesses.map((w) => w.vkey),
              ...(keys.witnessQuorum ? { witnessQuorum: keys.witnessQuorum } : {}),
            }
          : {}),
      },
      ...(values['require-witnesses'] ? { requireWitnessQuorum: true } : {}),
      getLedgerTx: getLedgerTx ? watched(getLedgerTx) : undefined,
      ...(getAnchor ? { getAnchor: watched(getAnchor) as never } : {}),
      ...(finalityCounts ? {} : { anchorConfirmations }),
    });
    ok &&= v.ok;
    const id = b.id ?? (b.bundle as { record?: { id?: string } })?.record?.id ?? '';
    // What the evidence is worth, from the steps that passed: the same derivation as the page's.
    const assurance =
      typeof b.bundle === 'object' && b.bundle !== null
        ? deriveAssurance(b.bundle as never, keys, v.steps)
        : undefined;
    const recordVerdict = standingVerdict(v.ok, b.standing ? [b.standing] : []);
    results.push({
      id: b.id,
      verdict: recordVerdict,
      ...(b.standing ? { standing: b.standing } : {}),
      ...(assurance ? { assurance } : {}),
      ...(b.flags ? { flags: b.flags } : {}),
      ...v,
    });
    if (!values.json) {
      out.log(verdictLine(id, v.ok, b.standing));
      const projectId = (b.bundle as { record?: { projectId?: unknown } })?.record?.projectId;
      const projectNames = typeof projectId === 'string' ? names.get(projectId) : undefined;
      const about = recordLine(b.bundle, projectNames);
      if (about) out.log(about);
      if (!b.standing)
        out.log(
          '  standing: not known offline (add --gateway URL to ask whether it was withdrawn or superseded)',
        );
      if (assurance) out.log(`  assurance: ${assuranceSummary(assurance)}`);
      for (const f of b.flags ?? []) out.log(flagLine(f, projectNames));
      printSteps(out, v.steps);
    }
  }
  const known = bundles.flatMap((b) => (b.standing ? [b.standing] : []));
  const verdict = standingVerdict(ok, known.length === bundles.length ? known : []);
  if (values.json) out.log(JSON.stringify({ sha256, ok, verdict, results }, null, 2));
  // Nothing failed but look-ups that could not reach their endpoint: a network error, not a verdict.
  const failedCodes = results.flatMap((r) => r.steps.filter((s) => s.status === 'fail').map((s) => s.code));
  if (!ok && unreachable && failedCodes.every((c) => LOOKUP_FAILED.has(c ?? ''))) {
    out.error(`lianzheng verify: network error: ${unreachable}`);
    return EXIT.NETWORK;
  }
  return VERDICT_EXIT_CODES[verdict];
}

/** `verify --fabric PROFILE --identity DIR`: through the inspector's own peer, no gateway. */
async function verifyThroughFabric(
  sha256: string,
  values: {
    fabric?: string;
    identity?: string;
    project?: string;
    bundle?: string;
    keys?: string;
    json?: boolean;
  },
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  if (!values.fabric || !values.identity)
    throw new CliError(
      EXIT.USAGE,
      '--fabric (a connection profile) and --identity (a folder with cert.pem, key.pem, msp-id) go together',
    );
  if (values.bundle && !values.keys)
    throw new CliError(EXIT.USAGE, '--bundle needs --keys (the JSON of GET /v1/keys)');
  const read = async (f: string) => {
    try {
      return JSON.parse(await fs.readFile(f, 'utf8'));
    } catch (e) {
      throw new CliError(EXIT.USAGE, `cannot read ${f}: ${(e as Error).message}`);
    }
  };
  return verifyOnFabric(
    {
      sha256,
      connectionProfile: path.resolve(values.fabric),
      identityDir: path.resolve(values.identity),
      ...(env.FABRIC_MSP_ID ? { mspId: env.FABRIC_MSP_ID } : {}),
      channel: env.FABRIC_CHANNEL ?? 'evidence',
      chaincode: env.FABRIC_CHAINCODE ?? 'lianzheng',
      asLocalhost: (env.FABRIC_AS_LOCALHOST ?? 'true') === 'true',
      ...(values.project ? { project: values.project } : {}),
      ...(values.bundle ? { bundle: await read(values.bundle), keys: await read(values.keys!) } : {}),
      json: Boolean(values.json),
    },
    out,
  );
}

async function cmdToken(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      role: { type: 'string' },
      org: { type: 'string' },
      region: { type: 'string' },
      ttl: { type: 'string' },
      subject: { type: 'string' },
    },
  });
  const role = values.role;
  if (role !== 'unit' && role !== 'partner' && role !== 'inspector' && role !== 'admin') {
    throw new CliError(EXIT.USAGE, '--role must be unit, partner, inspector or admin');
  }
  if ((role === 'unit' || role === 'partner') && !values.org)
    throw new CliError(EXIT.USAGE, `a ${role} token needs --org`);
  if (role === 'inspector' && !/^[1-9]\d{5}$/.test(values.region ?? '')) {
    throw new CliError(EXIT.USAGE, 'an inspector token needs --region with a 6-digit code');
  }
  const ttl = values.ttl ? Number(values.ttl) : undefined;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0))
    throw new CliError(EXIT.USAGE, '--ttl must be seconds');
  out.log(
    await devToken(env, {
      role,
      org: values.org,
      region: values.region,
      subject: values.subject,
      ttl,
      audience: '',
    }),
  );
  return EXIT.OK;
}

async function cmdApiKey(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' },
      role: { type: 'string', default: 'partner' },
      label: { type: 'string' },
      id: { type: 'string' },
    },
  });
  if (sub === 'list') {
    const keys = await withDatabase(env, (pool) => listApiKeys(pool, values.org));
    out.log(JSON.stringify(keys, null, 2));
    return EXIT.OK;
  }
  if (sub === 'revoke') {
    if (!values.id || !/^[0-9a-f-]{36}$/i.test(values.id)) {
      throw new CliError(
        EXIT.USAGE,
        'apikey revoke needs --id (the id `apikey create` and `apikey list` print)',
      );
    }
    const done = await withDatabase(env, (pool) => revokeApiKey(pool, values.id!));
    if (!done) throw new CliError(EXIT.USAGE, `no unrevoked API key has the id ${values.id}`);
    out.log(`revoked ${values.id} (running gateways refuse it within AUTH_CACHE_MS)`);
    return EXIT.OK;
  }
  if (sub !== 'create') {
    throw new CliError(
      EXIT.USAGE,
      'usage: lianzheng apikey create --org ORG | apikey list [--org ORG] | apikey revoke --id ID',
    );
  }
  if (!values.org) throw new CliError(EXIT.USAGE, 'apikey create needs --org');
  const role = values.role;
  if (role !== 'partner' && role !== 'unit' && role !== 'admin')
    throw new CliError(EXIT.USAGE, '--role must be partner, unit or admin');
  const created = await withDatabase(env, (pool) =>
    createApiKey(pool, { org: values.org!, role, label: values.label }),
  );
  out.error('The key is shown once; only its SHA-256 is stored. Send it as "X-Api-Key: <key>".');
  out.log(JSON.stringify(created, null, 2));
  return EXIT.OK;
}

async function cmdProject(
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'trail' || sub === 'flags') return cmdProjectTrail(sub, rest, env, out);
  const usage =
    'usage: lianzheng project delegate --project ID --org ORG [--revoke] | project delegates --project ID | project trail|flags ID [--json|--csv]';
  if (sub !== 'delegate' && sub !== 'delegates') throw new CliError(EXIT.USAGE, usage);
  const { values } = parseArgs({
    args: rest,
    options: {
      project: { type: 'string' },
      org: { type: 'string' },
      revoke: { type: 'boolean', default: false },
      gateway: { type: 'string' },
      token: { type: 'string' },
      'api-key': { type: 'string' },
      as: { type: 'string' },
      ...TLS_OPTIONS,
    },
  });
  if (!values.project) throw new CliError(EXIT.USAGE, `project ${sub} needs --project`);
  if (sub === 'delegate' && !values.org)
    throw new CliError(EXIT.USAGE, 'project delegate needs --org (the partner)');
  const tls = await tlsFiles(values);
  const headers = await projectCredentials(values, env);
  if (Object.keys(headers).length === 0 && !tls?.cert)
    throw new CliError(
      EXIT.USAGE,
      `project ${sub} needs --token, --api-key, --cert and --key, or --as OWNER (a dev unit token of the owning organisation)`,
    );
  const base = `${gatewayUrl(values.gateway, env)}/v1/projects/${encodeURIComponent(values.project)}/delegates`;
  let res: { status: number; body: unknown };
  if (sub === 'delegates') res = await http(base, { headers }, tls);
  else if (values.revoke)
    res = await http(`${base}/${encodeURIComponent(values.org!)}`, { method: 'DELETE', headers }, tls);
  else {
    headers['content-type'] = 'application/json';
    res = await http(base, { method: 'POST', headers, body: JSON.stringify({ org: values.org }) }, tls);
  }
  if (res.status >= 400) throw refused(res.status, res.body);
  if (res.status === 204) out.log(`revoked: ${values.org} may no longer submit for ${values.project}`);
  else out.log(JSON.stringify(res.body, null, 2));
  return EXIT.OK;
}

/**
 * The credential headers of a `project …` command: --api-key, else --token, else --as OWNER (a dev
 * unit token of the owning organisation); none when none was given (a client certificate may be
 * the credential, or the command reads only what is public).
 */
async function projectCredentials(
  values: { 'api-key'?: string; token?: string; as?: string },
  env: Record<string, string | undefined>,
): Promise<Record<string, string>> {
  if (values['api-key']) return { 'x-api-key': values['api-key'] };
  if (values.token) return { authorization: `Bearer ${values.token}` };
  if (values.as)
    return {
      authorization: `Bearer ${await devToken(env, { role: 'unit', org: values.as, subject: 'cli-project', audience: '' })}`,
    };
  return {};
}

/** A submitter's text on one terminal line: line breaks and other control characters as spaces. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}

/**
 * `project trail|flags ID`: a project's records or flags, read from the gateway. Without
 * credentials only what is public; with an inspector's or the owning unit's, the restricted
 * details they may read. `--csv` prints the gateway's export as it is (with its byte-order mark,
 * so `> trail.csv` opens in Excel); `--json` the JSON answer (every page of the trail).
 */
async function cmdProjectTrail(
  sub: 'trail' | 'flags',
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      csv: { type: 'boolean', default: false },
      gateway: { type: 'string' },
      token: { type: 'string' },
      'api-key': { type: 'string' },
      as: { type: 'string' },
      ...TLS_OPTIONS,
    },
  });
  const id = positionals[0];
  if (!id || positionals.length > 1)
    throw new CliError(
      EXIT.USAGE,
      `usage: lianzheng project ${sub} ID [--json|--csv] [--gateway URL] [credentials]`,
    );
  if (values.json && values.csv) throw new CliError(EXIT.USAGE, '--json and --csv go one at a time');
  const tls = await tlsFiles(values);
  const headers = await projectCredentials(values, env);
  if (values.csv && Object.keys(headers).length === 0 && !tls?.cert)
    throw new CliError(
      EXIT.USAGE,
      `project ${sub} --csv needs --token (an inspector's or the owning unit's), --api-key, --cert and --key, or --as OWNER`,
    );
  const base = `${gatewayUrl(values.gateway, env)}/v1/projects/${encodeURIComponent(id)}`;
  const what = sub === 'trail' ? 'records' : 'flags';
  if (values.csv) {
    const res = await http(`${base}/${what}.csv`, { headers }, tls);
    if (res.status >= 400) throw refused(res.status, res.body);
    // fetch's text() drops the byte-order mark; put it back for spreadsheets. The last line
    // break is out.log's own.
    const text = String(res.body)
      .replace(/^\uFEFF/, '')
      .replace(/\r?\n$/, '');
    out.log(`\uFEFF${text}`);
    return EXIT.OK;
  }
  if (sub === 'flags') {
    const res = await http(`${base}/flags`, { headers }, tls);
    if (res.status >= 400) throw refused(res.status, res.body);
    const body = res.body as { projectId: string; flags: Record<string, unknown>[] };
    if (values.json) out.log(JSON.stringify(body, null, 2));
    else if (body.flags.length === 0) out.log(`project ${id}: no flags`);
    else
      for (const f of body.flags)
        out.log(
          [
            f.raisedAt ?? '',
            f.code,
            f.recordId,
            f.resolvedBy ? `resolved by ${f.resolvedBy}` : 'open',
            f.detail ? JSON.stringify(f.detail) : '',
          ]
            .join('  ')
            .trimEnd(),
        );
    return EXIT.OK;
  }
  // The trail, every page (at most 1,000 records a page).
  const records: Record<string, unknown>[] = [];
  let after: string | undefined;
  for (;;) {
    const res = await http(`${base}/records?limit=1000${after ? `&after=${after}` : ''}`, { headers }, tls);
    if (res.status >= 400) throw refused(res.status, res.body);
    const page = res.body as { records: Record<string, unknown>[]; next?: string };
    records.push(...page.records);
    if (!page.next) break;
    after = page.next;
  }
  // Who may submit for the project, and since when, belongs to its trail (who granted and
  // revoked a delegation only for those the gateway shows that to).
  const project = await http(base, { headers }, tls);
  if (project.status >= 400) throw refused(project.status, project.body);
  const delegates =
    (project.body as { delegates?: { org: string; grantedAt: string; revokedAt: string | null }[] })
      .delegates ?? [];
  if (values.json) {
    out.log(JSON.stringify({ projectId: id, delegates, records }, null, 2));
    return EXIT.OK;
  }
  for (const d of delegates)
    out.log(
      `delegated to ${d.org} from ${d.grantedAt}${d.revokedAt ? ` until ${d.revokedAt} (revoked)` : ' (active)'}`,
    );
  if (records.length === 0) out.log(`project ${id}: no records`);
  for (const r of records) {
    const d = r.details as { title?: string; amount?: string } | undefined;
    const flags = (r.flags as { code: string }[]).map((f) => f.code).join(',');
    out.log(
      [
        r.acceptedAt,
        r.status,
        r.kind,
        r.id,
        oneLine(d?.title ?? (r.visibility === 'restricted' ? '(restricted)' : '')),
        d?.amount ?? '',
        flags,
      ]
        .join('  ')
        .trimEnd(),
    );
  }
  return EXIT.OK;
}

async function cmdKeys(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'rotate')
    throw new CliError(EXIT.USAGE, 'usage: lianzheng keys rotate [--gateway URL [--token JWT] [--cacert F]]');
  const { values } = parseArgs({
    args: rest,
    options: {
      gateway: { type: 'string' },
      token: { type: 'string' },
      cacert: { type: 'string' },
      'sm2-checkpoint': { type: 'boolean' },
    },
  });
  if (values['sm2-checkpoint']) return rotateSm2CheckpointKey(values.gateway, env, out);
  if (values.gateway) {
    const token =
      values.token ?? (await devToken(env, { role: 'admin', subject: 'cli-keys-rotate', audience: '' }));
    const res = await http(
      `${gatewayUrl(values.gateway, env)}/v1/admin/keys/rotate`,
      { method: 'POST', headers: { authorization: `Bearer ${token}` } },
      await tlsFiles(values),
    );
    if (res.status >= 400) throw refused(res.status, res.body);
    out.log(JSON.stringify(res.body, null, 2));
    return EXIT.OK;
  }
  const config = loadCliConfig(env);
  const ring = await KeyRing.load(config.keysDir, { logOrigin: config.logOrigin });
  const kid = await ring.rotate();
  const rotations = ring.rotations().length;
  // The new SM2 receipt key gets its certificate under the SM2 root now, where there is a local
  // PKI (the gateway's next start, or `pki init`, would issue it too).
  const pkiReady =
    ring.sm2 &&
    (await fs.access(pkiPaths(path.join(config.dataDir, 'pki')).rootKey).then(
      () => true,
      () => false,
    ));
  const certified = pkiReady ? (await initPki(localPkiOptions(config, ring))).created : [];
  out.log(
    JSON.stringify(
      {
        kid,
        keys: ring.receiptKeys(),
        ...(ring.sm2 ? { sm2Keys: ring.sm2ReceiptKeys() } : {}),
        rotations,
        ...(certified.length ? { certificates: certified } : {}),
        keysDir: path.resolve(config.keysDir),
      },
      null,
      2,
    ),
  );
  out.error(
    `Rotated the key files; a running gateway on them signs with the new key within a second. ${ring.sm2 ? 'The SM2 receipt key was rotated too. ' : ''}The statements (each signed by the old and the new key) are published in GET /v1/keys.`,
  );
  return EXIT.OK;
}

/** `lianzheng keys rotate --sm2-checkpoint`: on the key files (a running gateway: POST /v1/admin/keys/rotate-checkpoint). */
async function rotateSm2CheckpointKey(
  gateway: string | undefined,
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  if (gateway)
    throw new CliError(
      EXIT.USAGE,
      'keys rotate --sm2-checkpoint works on the key files: run it without --gateway',
    );
  const config = loadCliConfig(env);
  const ring = await KeyRing.load(config.keysDir, { logOrigin: config.logOrigin });
  if (!ring.sm2)
    throw new CliError(EXIT.USAGE, `no SM2 key in ${config.keysDir}: CRYPTO_SUITE dual or gm makes one`);
  const { vkey } = await ring.rotateSm2CheckpointKey();
  const pkiReady = await fs.access(pkiPaths(path.join(config.dataDir, 'pki')).rootKey).then(
    () => true,
    () => false,
  );
  const certified = pkiReady ? (await initPki(localPkiOptions(config, ring))).created : [];
  out.log(
    JSON.stringify(
      {
        vkey,
        checkpointKeys: ring.checkpointKeys(),
        checkpointRotations: ring.checkpointRotations().length,
        ...(certified.length ? { certificates: certified } : {}),
        keysDir: path.resolve(config.keysDir),
      },
      null,
      2,
    ),
  );
  out.error(
    'Rotated the SM2 checkpoint key; a running gateway on these files signs checkpoints with it within a second. The old key stays published (old checkpoints verify), and the statement signed by both is checkpointRotations in trust files.',
  );
  return EXIT.OK;
}

async function cmdPki(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  if (args[0] === 'server-cert') return cmdServerCert(args.slice(1), env, out);
  if (args[0] === 'rotate-tsa') return cmdRotateTsa(args.slice(1), env, out);
  if (args[0] !== 'init')
    throw new CliError(
      EXIT.USAGE,
      'usage: lianzheng pki init | pki rotate-tsa [--ecdsa | --sm2] | pki server-cert',
    );
  const config = loadConfig(env);
  const ring = await KeyRing.load(config.keysDir, { logOrigin: config.logOrigin, suite: config.cryptoSuite });
  const result = await initPki(localPkiOptions(config, ring));
  out.log(JSON.stringify({ created: result.created, reused: result.reused }, null, 2));
  return EXIT.OK;
}

async function cmdAnchor(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'deploy') {
    for (const line of await runAnchorDeploy(env)) out.log(line);
    return EXIT.OK;
  }
  if (sub === 'keygen') {
    const { values } = parseArgs({ args: rest, options: { 'key-file': { type: 'string' } } });
    const file = values['key-file'] ?? env.ANCHOR_KEY_FILE;
    if (!file) throw new CliError(EXIT.USAGE, 'anchor keygen needs --key-file (or ANCHOR_KEY_FILE)');
    for (const line of await runAnchorKeygen(file, parseAnchorConfig({ ...env, ANCHOR_KEY_FILE: file })))
      out.log(line);
    return EXIT.OK;
  }
  throw new CliError(EXIT.USAGE, 'usage: lianzheng anchor keygen --key-file F | lianzheng anchor deploy');
}

/** A BackupError as the exit code a script can rely on: a damaged backup fails a check (1). */
function backupRefused(e: unknown): never {
  if (e instanceof BackupError) {
    throw new CliError(
      e.code === 'BAD_BACKUP' ? EXIT.VERIFICATION_FAILED : EXIT.USAGE,
      `${e.code}: ${e.message}`,
    );
  }
  throw e;
}

async function cmdBackup(args: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new CliError(EXIT.USAGE, 'usage: lianzheng backup DIR');
  const dir = path.resolve(positionals[0]!);
  const manifest = await withDatabase(env, (pool) => backupDatabase(pool, dir)).catch(backupRefused);
  const rows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
  const bytes = manifest.tables.reduce((sum, t) => sum + t.bytes, 0);
  const submissions = manifest.tables.find((t) => t.name === 'submissions')?.rows ?? 0;
  out.log(
    `backed up ${manifest.tables.length} tables, ${rows} rows (${submissions} submissions), ${bytes} bytes into ${dir}`,
  );
  out.log(
    'keys are not in it: keep DATA_DIR/keys and DATA_DIR/pki apart, encrypted; copy the folder off this disk',
  );
  return EXIT.OK;
}

async function cmdRestore(
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new CliError(EXIT.USAGE, 'usage: lianzheng restore DIR');
  const dir = path.resolve(positionals[0]!);
  const config = loadCliConfig(env);
  const report = await withDatabase(
    env,
    async (pool) => {
      const { manifest, rows } = await restoreDatabase(pool, dir);
      out.log(`restored ${manifest.tables.length} tables, ${rows} rows, taken ${manifest.createdAt}`);
      // Signatures are checked only with this DATA_DIR's keys, when they are there.
      const keys = await loadAuditKeys(config.keysDir, config.logOrigin);
      if (!keys) {
        out.error(
          `no keys in ${config.keysDir}: copy the old DATA_DIR's keys and pki folders here before starting the gateway, or it makes new keys and publishes only those, against which the restored receipts and checkpoints do not verify`,
        );
      }
      return auditDatabase(pool, { checkpointKeys: keys?.checkpointKeys, jwks: keys?.jwks });
    },
    { migrate: false },
  ).catch(backupRefused);
  out.log(formatAuditReport(report));
  return report.ok ? EXIT.OK : EXIT.VERIFICATION_FAILED;
}

async function cmdServe(env: Record<string, string | undefined>): Promise<number> {
  const { main } = await import('../server.ts');
  void env;
  await main();
  // main() keeps the process alive until a signal; it exits the process itself.
  return await new Promise<number>(() => {});
}

/** Runs one command; returns its exit code. Never calls process.exit (except `serve`). */
export async function run(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  out: Out = defaultOut,
): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'serve':
        return await cmdServe(env);
      case 'submit':
        return await cmdSubmit(args, env, out);
      case 'verify':
        return await cmdVerify(args, env, out);
      case 'token':
        return await cmdToken(args, env, out);
      case 'apikey':
        return await cmdApiKey(args, env, out);
      case 'keys':
        return await cmdKeys(args, env, out);
      case 'project':
        return await cmdProject(args, env, out);
      case 'audit':
        return await cmdAudit(args, env, out);
      case 'pki':
        return await cmdPki(args, env, out);
      case 'anchor':
        return await cmdAnchor(args, env, out);
      case 'clientcert':
        return await cmdClientCert(args, env, out);
      case 'backup':
        return await cmdBackup(args, env, out);
      case 'package':
        return await cmdPackage(args, env, out, gatewayUrl);
      case 'verify-package':
        return await cmdVerifyPackage(args, out);
      case 'restore':
        return await cmdRestore(args, env, out);
      case 'witness':
        return await cmdWitness(args, out);
      case 'monitor':
        return await cmdMonitor(args, env, out, gatewayUrl);
      case 'oidc':
        return await cmdOidc(args, out);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out.log(HELP);
        return command === undefined ? EXIT.USAGE : EXIT.OK;
      default:
        out.error(`unknown command ${command}\n`);
        out.error(HELP);
        return EXIT.USAGE;
    }
  } catch (e) {
    if (e instanceof CliError) {
      out.error(`lianzheng ${command}: ${e.message}`);
      return e.exitCode;
    }
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      out.error(`lianzheng ${command}: ${(e as Error).message}`);
      return EXIT.USAGE;
    }
    out.error(`lianzheng ${command}: ${(e as Error).message}`);
    return EXIT.NETWORK;
  }
}
