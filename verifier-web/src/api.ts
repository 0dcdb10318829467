// The page's only door to the gateway: same-origin GETs with a deadline, every failure turned into
// an `ApiError` with a code the views map to a sentence. The shapes are those of docs/FORMATS.md
// (bundles, keys) and docs/CONTRACTS.md (the answers around them); the parsers check only what the
// page relies on and keep the rest as the gateway sent it, so a field the gateway adds later does
// not break the page.

import {
  type AnchorIdentity,
  type AnchorSite,
  type ProofBundle,
  type Standing,
  standingOf,
} from '@lianzheng/proof';

export type ApiErrorCode = 'TIMEOUT' | 'NETWORK' | 'HTTP' | 'NOT_FOUND' | 'BAD_RESPONSE' | 'ABORTED';

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    readonly status = 0,
  ) {
    super(`${code}${status ? ` ${status}` : ''}`);
    this.name = 'ApiError';
  }
}

export interface FlagView {
  code: string;
  recordId?: string;
  raisedAt?: string;
  detail?: Record<string, unknown>;
  /** The rule and its version, e.g. `MILESTONE_OVERDUE_30_DAYS@1`. */
  rule?: string;
  /** The records the flag rests on. */
  refs?: string[];
  /** A flag the facts have since answered (an overdue milestone accepted): by which record, when. */
  resolvedBy?: string;
  resolvedAt?: string;
}

export type RecordStatus = 'accepted' | 'recorded' | 'anchored' | 'rejected' | string;

export interface VerifyRecord {
  id: string;
  status: RecordStatus;
  projectId: string;
  kind: string;
  acceptedAt: string;
  submitter: { org: string };
  supersededBy?: string;
  withdrawnBy?: string;
  /** Whether the record still stands: the gateway's `standing`, else read from the links. */
  standing: Standing;
  flags: FlagView[];
  bundle: ProofBundle;
  /** Some gateways add the project's name beside its id. */
  projectName?: string;
  /** The project with its display names, once the page fetched it (GET /v1/projects/{id}). */
  project?: ProjectView;
}

export interface VerifyAnswer {
  sha256: string;
  records: VerifyRecord[];
}

export interface KeysAnswer {
  jwks: { keys: object[] };
  checkpointKeys: string[];
  /** PEM roots of the RFC 3161 time-stamp authorities the gateway uses. */
  tsaRoots: string[];
  ledger?: string;
  /** The operator's anchoring identity (chain, contract, address): what the anchor step pins. */
  anchor?: AnchorIdentity;
  /** SHA-256 of the gateway's own PKI root: a TSA under it vouches for the gateway's clock only. */
  operatorRoots?: string[];
  /** Outside witnesses that cosign the checkpoints (docs/witnesses.md), and how many must. */
  witnesses?: { vkey: string; displayName?: string; displayNameZh?: string; name?: string; url?: string }[];
  witnessQuorum?: number;
  /** SM2 checkpoint key rotation statements, oldest first (proof's followCheckpointRotations). */
  checkpointRotations?: string[];
  /** Receipt key rotation statements, oldest first (proof's followRotations checks them). */
  rotations?: { byPrevious: string; byNext: string }[];
}

/** The proxy's reading of an anchor transaction; the optional fields come from newer gateways. */
export interface AnchorTxAnswer {
  size: number;
  root: string;
  block: number;
  chainId?: string;
  contract?: string;
  anchorer?: string;
  from?: string;
  originHash?: string;
  confirmations?: number;
  storedRoot?: string | null;
}

export interface LedgerTxAnswer {
  valid: boolean;
  block: number;
  size: number;
  root: string;
}

/** A display name: Chinese, and English where the unit gave one (GET /v1/projects/{id}). */
export interface DisplayName {
  zh: string;
  en?: string;
}

export interface ProjectView {
  id: string;
  /** The Chinese display name (the ledger's name unless the unit changed it since). */
  name: string;
  nameEn?: string;
  /** The name on the ledger, when the display name differs from it. */
  registeredName?: string;
  regionCode?: string;
  ownerOrg?: string;
  ownerOrgName?: DisplayName;
  budget?: string;
  level?: string;
  milestones?: { id: string; name: string; nameEn?: string; dueDate: string }[];
  /** Display names of the owner and the project's delegates, by organisation id. */
  organisations?: Record<string, DisplayName>;
}

export interface ProjectRecordView {
  id: string;
  kind: string;
  acceptedAt: string;
  status?: RecordStatus;
  sha256?: string;
  title?: string;
  visibility?: string;
  submitter?: { org: string };
  supersedes?: string;
  supersededBy?: string;
  withdrawnBy?: string;
  refs?: string[];
  /** Details the gateway answered: a public record's to anyone, a restricted one's to who may. */
  amount?: string;
  milestone?: string;
  flags?: FlagView[];
}

export interface Api {
  keys(): Promise<KeysAnswer>;
  verify(sha256: string): Promise<VerifyAnswer>;
  evidence(id: string): Promise<VerifyRecord>;
  ledgerTx(txId: string): Promise<LedgerTxAnswer>;
  /** The anchored checkpoint as the gateway's read-only proxy reads it from the EVM chain. */
  anchorTx(txHash: string, contract?: string): Promise<AnchorTxAnswer>;
  project(id: string): Promise<ProjectView>;
  projectRecords(id: string): Promise<ProjectRecordView[]>;
  projectFlags(id: string): Promise<FlagView[]>;
  /** The project's name, fetched once per page; undefined when it cannot be had. */
  projectName(id: string): Promise<string | undefined>;
  /** The project with its display names, fetched once per page; undefined when it cannot be had. */
  projectInfo(id: string): Promise<ProjectView | undefined>;
}

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function getJson(path: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort();
  }, timeoutMs);
  const onAbort = () => ctrl.abort();
  signal?.addEventListener('abort', onAbort);
  try {
    let res: Response;
    try {
      res = await fetch(path, {
        headers: { accept: 'application/json' },
        signal: ctrl.signal,
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(timedOut ? 'TIMEOUT' : signal?.aborted ? 'ABORTED' : 'NETWORK');
    }
    if (res.status === 404) throw new ApiError('NOT_FOUND', 404);
    if (!res.ok) throw new ApiError('HTTP', res.status);
    try {
      return await res.json();
    } catch {
      throw new ApiError(timedOut ? 'TIMEOUT' : 'BAD_RESPONSE', res.status);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function parseFlags(v: unknown): FlagView[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((f): FlagView[] => {
    if (typeof f === 'string') return [{ code: f }];
    if (isObj(f) && typeof f.code === 'string') {
      return [
        {
          code: f.code,
          recordId: typeof f.recordId === 'string' ? f.recordId : undefined,
          raisedAt: typeof f.raisedAt === 'string' ? f.raisedAt : undefined,
          detail: isObj(f.detail) ? f.detail : undefined,
          rule: str(f.rule),
          refs: Array.isArray(f.refs) ? f.refs.filter((r): r is string => typeof r === 'string') : undefined,
          resolvedBy: str(f.resolvedBy),
          resolvedAt: str(f.resolvedAt),
        },
      ];
    }
    return [];
  });
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function strings(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const list = v.filter((x): x is string => typeof x === 'string' && x.length > 0);
  return list.length > 0 ? list : undefined;
}

/** The gateway's `standing`; from an older gateway, what its supersededBy/withdrawnBy say. */
function parseStanding(v: Json): Standing {
  const s = isObj(v.standing) ? v.standing : undefined;
  const by = str(s?.by);
  if (s?.state === 'withdrawn' && by)
    return standingOf({ withdrawnBy: by, withdrawal: { reason: str(s.reason), at: str(s.at) } });
  if (s?.state === 'superseded' && by) return standingOf({ supersededBy: by, successor: { at: str(s.at) } });
  return standingOf({ supersededBy: str(v.supersededBy), withdrawnBy: str(v.withdrawnBy) });
}

/** One record of `/v1/verify` or `/v1/evidence/{id}`; the bundle's record fills what is missing. */
export function parseVerifyRecord(v: unknown): VerifyRecord {
  if (!isObj(v)) throw new ApiError('BAD_RESPONSE');
  const bundle = v.bundle;
  if (!isObj(bundle) || !isObj(bundle.record)) throw new ApiError('BAD_RESPONSE');
  const rec = bundle.record as Json;
  const inner = isObj(v.record) ? v.record : {};
  const submitter = isObj(v.submitter) ? v.submitter : isObj(rec.submitter) ? rec.submitter : {};
  const id = str(v.id) ?? str(inner.id) ?? str(rec.id);
  if (!id) throw new ApiError('BAD_RESPONSE');
  return {
    id,
    status: str(v.status) ?? 'unknown',
    projectId: str(v.projectId) ?? str(inner.projectId) ?? str(rec.projectId) ?? '',
    kind: str(v.kind) ?? str(inner.kind) ?? str(rec.kind) ?? 'other',
    acceptedAt: str(v.acceptedAt) ?? str(inner.acceptedAt) ?? str(rec.acceptedAt) ?? '',
    submitter: { org: str(submitter.org) ?? '' },
    supersededBy: str(v.supersededBy),
    withdrawnBy: str(v.withdrawnBy),
    standing: parseStanding(v),
    flags: parseFlags(v.flags),
    bundle: bundle as unknown as ProofBundle,
    projectName: str(v.projectName) ?? (isObj(v.project) ? str(v.project.name) : undefined),
  };
}

export function parseVerifyAnswer(v: unknown, sha256: string): VerifyAnswer {
  if (!isObj(v) || !Array.isArray(v.records)) throw new ApiError('BAD_RESPONSE');
  return { sha256: str(v.sha256) ?? sha256, records: v.records.map(parseVerifyRecord) };
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function parseAnchorSite(v: unknown): AnchorSite | undefined {
  if (!isObj(v)) return undefined;
  const { chainId, contract, anchorer } = v;
  if (typeof chainId !== 'string' || typeof contract !== 'string' || typeof anchorer !== 'string')
    return undefined;
  if (!ADDRESS.test(contract) || !ADDRESS.test(anchorer)) return undefined;
  return { chainId, contract: contract.toLowerCase(), anchorer: anchorer.toLowerCase() };
}

/** The anchoring identity of /v1/keys; a malformed one is refused rather than silently unpinned. */
function parseAnchorIdentity(v: unknown): AnchorIdentity | undefined {
  if (v === undefined) return undefined;
  const site = parseAnchorSite(v);
  if (!site || !isObj(v)) throw new ApiError('BAD_RESPONSE');
  const retired = Array.isArray(v.retired) ? v.retired.map(parseAnchorSite) : [];
  if (retired.some((r) => r === undefined)) throw new ApiError('BAD_RESPONSE');
  return {
    ...site,
    ...(typeof v.origin === 'string' ? { origin: v.origin } : {}),
    ...(typeof v.originHash === 'string' ? { originHash: v.originHash.toLowerCase() } : {}),
    ...(Number.isSafeInteger(v.confirmations) ? { confirmations: v.confirmations as number } : {}),
    retired: retired as AnchorSite[],
  };
}

export function parseKeys(v: unknown): KeysAnswer {
  if (!isObj(v) || !isObj(v.jwks) || !Array.isArray(v.jwks.keys) || !Array.isArray(v.checkpointKeys)) {
    throw new ApiError('BAD_RESPONSE');
  }
  const anchor = parseAnchorIdentity(v.anchor);
  return {
    jwks: { keys: v.jwks.keys.filter(isObj) },
    checkpointKeys: v.checkpointKeys.filter((k): k is string => typeof k === 'string'),
    tsaRoots: Array.isArray(v.tsaRoots) ? v.tsaRoots.filter((k): k is string => typeof k === 'string') : [],
    ledger: str(v.ledger),
    ...(anchor ? { anchor } : {}),
    ...(Array.isArray(v.operatorRoots)
      ? { operatorRoots: v.operatorRoots.filter((k): k is string => typeof k === 'string') }
      : {}),
    ...parseWitnesses(v),
    ...(Array.isArray(v.checkpointRotations)
      ? // Kept as published, for the same reason as the receipt key rotations below.
        { checkpointRotations: v.checkpointRotations as string[] }
      : {}),
    ...(Array.isArray(v.rotations)
      ? {
          // Kept as published, malformed ones included: followRotations refuses the whole set
          // then, which dropping them here would hide.
          rotations: v.rotations as { byPrevious: string; byNext: string }[],
        }
      : {}),
  };
}

/** The witnesses of GET /v1/keys (newer gateways); anything malformed is left out. */
function parseWitnesses(v: Json): Pick<KeysAnswer, 'witnesses' | 'witnessQuorum'> {
  if (!Array.isArray(v.witnesses)) return {};
  const witnesses = v.witnesses.filter(isObj).flatMap((w) =>
    typeof w.vkey === 'string'
      ? [
          {
            vkey: w.vkey,
            ...(typeof w.displayName === 'string' ? { displayName: w.displayName } : {}),
            ...(typeof w.displayNameZh === 'string' ? { displayNameZh: w.displayNameZh } : {}),
          },
        ]
      : [],
  );
  if (witnesses.length === 0) return {};
  const q = v.witnessQuorum;
  const quorum =
    typeof q === 'number' && Number.isInteger(q) && q >= 1 && q <= witnesses.length ? q : undefined;
  return { witnesses, ...(quorum ? { witnessQuorum: quorum } : {}) };
}

export function parseLedgerTx(v: unknown): LedgerTxAnswer {
  const o = isObj(v) && isObj(v.tx) ? v.tx : v;
  if (!isObj(o) || typeof o.block !== 'number' || typeof o.valid !== 'boolean')
    throw new ApiError('BAD_RESPONSE');
  // A transaction that is not a RecordBatch has no size or root: the bundle's check then fails.
  return {
    valid: o.valid,
    block: o.block,
    size: typeof o.size === 'number' ? o.size : -1,
    root: typeof o.root === 'string' ? o.root : '',
  };
}

export function parseAnchorTx(v: unknown): AnchorTxAnswer {
  if (!isObj(v) || typeof v.size !== 'number' || typeof v.root !== 'string' || typeof v.block !== 'number') {
    throw new ApiError('BAD_RESPONSE');
  }
  const answer: AnchorTxAnswer = { size: v.size, root: v.root, block: v.block };
  for (const k of ['chainId', 'contract', 'anchorer', 'from', 'originHash'] as const) {
    if (typeof v[k] === 'string') answer[k] = v[k] as string;
  }
  if (Number.isSafeInteger(v.confirmations)) answer.confirmations = v.confirmations as number;
  if (typeof v.storedRoot === 'string' || v.storedRoot === null) answer.storedRoot = v.storedRoot;
  return answer;
}

function parseDisplayName(v: unknown): DisplayName | undefined {
  if (!isObj(v) || typeof v.zh !== 'string' || v.zh === '') return undefined;
  return typeof v.en === 'string' && v.en !== '' ? { zh: v.zh, en: v.en } : { zh: v.zh };
}

export function parseProject(v: unknown): ProjectView {
  const p = isObj(v) && isObj(v.project) ? v.project : v;
  if (!isObj(p) || typeof p.id !== 'string') throw new ApiError('BAD_RESPONSE');
  const organisations: Record<string, DisplayName> = {};
  if (isObj(v) && isObj(v.organisations)) {
    for (const [id, name] of Object.entries(v.organisations)) {
      const parsed = parseDisplayName(name);
      if (parsed) organisations[id] = parsed;
    }
  }
  const ownerOrgName = parseDisplayName(p.ownerOrgName);
  const ownerOrg = str(p.ownerOrg);
  if (ownerOrg && ownerOrgName) organisations[ownerOrg] ??= ownerOrgName;
  return {
    id: p.id,
    name: str(p.name) ?? p.id,
    nameEn: str(p.nameEn),
    registeredName: str(p.registeredName),
    regionCode: str(p.regionCode),
    ownerOrg,
    ownerOrgName,
    budget: str(p.budget),
    level: str(p.level),
    milestones: Array.isArray(p.milestones)
      ? p.milestones.filter(isObj).map((m) => ({
          id: String(m.id ?? ''),
          name: String(m.name ?? m.id ?? ''),
          nameEn: str(m.nameEn),
          dueDate: String(m.dueDate ?? ''),
        }))
      : undefined,
    organisations,
  };
}

export function parseProjectRecords(v: unknown): ProjectRecordView[] {
  const list = Array.isArray(v) ? v : isObj(v) && Array.isArray(v.records) ? v.records : null;
  if (!list) throw new ApiError('BAD_RESPONSE');
  return list.filter(isObj).flatMap((r): ProjectRecordView[] => {
    // Accept the flat shape or `{record, details, …}` as the chaincode's ProjectTrail returns it.
    const rec = isObj(r.record) ? r.record : r;
    const details = isObj(r.details) ? r.details : isObj(rec.details) ? rec.details : {};
    const digests = isObj(rec.digests) ? rec.digests : {};
    const id = str(rec.id) ?? str(r.id);
    if (!id) return [];
    return [
      {
        id,
        kind: str(rec.kind) ?? str(r.kind) ?? 'other',
        acceptedAt: str(rec.acceptedAt) ?? str(r.acceptedAt) ?? '',
        status: str(r.status),
        sha256: str(digests.sha256) ?? str(r.sha256),
        title: str(details.title) ?? str(r.title),
        // Only what the gateway chose to answer: it sends no restricted details to the public.
        amount: str(details.amount),
        milestone: str(details.milestone),
        visibility: str(rec.visibility) ?? str(r.visibility),
        submitter:
          isObj(rec.submitter) && typeof rec.submitter.org === 'string'
            ? { org: rec.submitter.org }
            : undefined,
        supersedes: str(rec.supersedes) ?? str(r.supersedes),
        supersededBy: str(r.supersededBy),
        withdrawnBy: str(r.withdrawnBy),
        refs: strings(rec.refs) ?? strings(r.refs),
        flags: parseFlags(r.flags),
      },
    ];
  });
}

export function parseProjectFlags(v: unknown): FlagView[] {
  if (Array.isArray(v)) return parseFlags(v);
  if (isObj(v) && Array.isArray(v.flags)) return parseFlags(v.flags);
  throw new ApiError('BAD_RESPONSE');
}

export function createApi(timeoutMs: number, base = ''): Api {
  const get = (path: string) => getJson(base + path, timeoutMs);
  const enc = encodeURIComponent;
  const parseProjectAt = async (id: string) => parseProject(await get(`/v1/projects/${enc(id)}`));
  let keys: Promise<KeysAnswer> | null = null;
  const projects = new Map<string, Promise<ProjectView | undefined>>();
  const projectInfo = (id: string) => {
    let project = projects.get(id);
    if (!project) {
      project = parseProjectAt(id).catch(() => undefined);
      projects.set(id, project);
    }
    return project;
  };
  return {
    projectInfo,
    projectName: (id) => projectInfo(id).then((p) => p?.name),
    keys() {
      // Cached once it succeeds; a failure is retried on the next call.
      keys ??= get('/v1/keys')
        .then(parseKeys)
        .catch((e: unknown) => {
          keys = null;
          throw e;
        });
      return keys;
    },
    async verify(sha256) {
      try {
        return parseVerifyAnswer(await get(`/v1/verify/${sha256}`), sha256);
      } catch (e) {
        // "No record" may be a 404 or an empty list; both mean the same to a reader.
        if (e instanceof ApiError && e.code === 'NOT_FOUND') return { sha256, records: [] };
        throw e;
      }
    },
    async evidence(id) {
      return parseVerifyRecord(await get(`/v1/evidence/${enc(id)}`));
    },
    async ledgerTx(txId) {
      return parseLedgerTx(await get(`/v1/ledger/tx/${enc(txId)}`));
    },
    async anchorTx(txHash, contract) {
      const query = contract ? `?contract=${enc(contract)}` : '';
      return parseAnchorTx(await get(`/v1/anchor/tx/${enc(txHash)}${query}`));
    },
    async project(id) {
      return parseProject(await get(`/v1/projects/${enc(id)}`));
    },
    async projectRecords(id) {
      return parseProjectRecords(await get(`/v1/projects/${enc(id)}/records`));
    },
    async projectFlags(id) {
      return parseProjectFlags(await get(`/v1/projects/${enc(id)}/flags`));
    },
  };
}
