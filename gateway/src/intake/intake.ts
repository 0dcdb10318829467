import { hash } from 'node:crypto';
import { checkEntry, type RecordFacts, targetOf } from '@lianzheng/chaincode';
import {
  buildReceiptGroup,
  detachReceipt,
  type EvidenceRecord,
  type ReceiptItemClaims,
  type RecordDetails,
  wholeReceipt,
} from '@lianzheng/proof';
import type pg from 'pg';
import { idempotencyScope, type Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import { AppError, type ErrorCode, problemFor, toAppError } from '../errors.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import type { IntakeMetrics } from '../metrics.ts';
import type { EvidenceSubmission } from '../routes/evidence-write/schemas.ts';
import { GroupCommitter } from '../storage/group-commit.ts';
import type { Admission } from './admission.ts';
import { DelegateDirectory, type Delegation } from './delegates.ts';
import { cidOfSha256Hex, detailsJson, leafHexOfText, recordJson, saltHex } from './encode.ts';
import {
  entryError,
  IntakeView,
  kindRuleProblem,
  namedRecords,
  RecordDirectory,
  TargetClaims,
} from './rules.ts';
import {
  findIdempotent,
  type IdempotentRow,
  insertSubmissions,
  type NewSubmission,
} from './submission-store.ts';
import { uuidv7 } from './uuidv7.ts';

/** One accepted submission, as the 202 (or an idempotent replay) answers it. */
export interface AcceptedSubmission {
  id: string;
  sha256: string;
  cid: string;
  status: 'accepted' | 'recorded' | 'anchored' | 'rejected';
  receipt: string;
  /** CRYPTO_SUITE dual: the same claims signed with SM2. */
  receiptSm2?: string;
  /** `receiptSm2` detached (`<header>..<signature>`) where it shares `receipt`'s payload and item. */
  receiptSm2Detached?: string;
  acceptedAt: string;
  /** True when this answers a repeated Idempotency-Key rather than a new submission. */
  replayed: boolean;
}

export interface ProjectInfo {
  id: string;
  ownerOrg: string;
  regionCode: string;
  /** Milestone ids of the project's plan; absent when the mirror does not hold the plan. */
  milestones?: string[];
}

/**
 * A new submission's row on its way to the group commit: the stored columns (NewSubmission) and
 * what signing its receipts needs meanwhile.
 */
interface PendingSubmission extends NewSubmission {
  /**
   * A single submission's own receipt, being signed on the thread pool (`Intake.signAlone`): the
   * flush waits for it, so the row keeps its place in the queue (seq order = id order).
   */
  signing?: Promise<void>;
  /**
   * The `iat` of a single submission's own receipt (`signAlone`): its SM2 receipt (CRYPTO_SUITE
   * dual) is signed in the flush with the rows of the same `iat`, so both state the same claims.
   */
  receiptIat?: number;
  /** The record's claims in that receipt. */
  receiptItem: ReceiptItemClaims;
}

export interface IdempotencyOptions {
  key?: string;
  /** sha256 hex of the request as the client sent it (canonical JSON of body, or fields+file digest). */
  requestHash?: string;
}

export type ItemOutcome = { ok: true; accepted: AcceptedSubmission } | { ok: false; error: AppError };

export function unavailable(cause: unknown): AppError {
  if (cause instanceof AppError) return cause;
  return new AppError('SERVICE_UNAVAILABLE', 'the database is not answering', {}, { cause });
}

/** Projects never change owner or region once registered, so found ones are cached for good. */
export class ProjectDirectory {
  private cache = new Map<string, ProjectInfo>();
  constructor(
    private readonly db: () => pg.Pool,
    private readonly maxEntries = 100_000,
  ) {}

  async getMany(ids: string[]): Promise<Map<string, ProjectInfo>> {
    const out = new Map<string, ProjectInfo>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.cache.get(id);
      if (hit) out.set(id, hit);
      else if (!missing.includes(id)) missing.push(id);
    }
    if (missing.length === 0) return out;
    let rows: { id: string; owner_org: string; region_code: string; plan: unknown }[];
    try {
      // The plan as the ledger stored it (the pipeline mirrors `{project, registeredAt}`); the
      // ledger refuses a different payload under a registered id, so it never changes either.
      rows = (
        await this.db().query(
          `select id, owner_org, region_code, record #> '{project,milestones}' as plan
             from projects where id = any($1::text[])`,
          [missing],
        )
      ).rows;
    } catch (e) {
      throw unavailable(e);
    }
    if (this.cache.size + rows.length > this.maxEntries) this.cache.clear();
    for (const r of rows) {
      const info: ProjectInfo = { id: r.id, ownerOrg: r.owner_org, regionCode: r.region_code };
      if (Array.isArray(r.plan))
        info.milestones = r.plan.map((m) => String((m as { id?: unknown } | null)?.id ?? ''));
      this.cache.set(r.id, info);
      out.set(r.id, info);
    }
    return out;
  }

  async get(id: string): Promise<ProjectInfo | undefined> {
    return (await this.getMany([id])).get(id);
  }

  forget(id?: string): void {
    if (id === undefined) this.cache.clear();
    else this.cache.delete(id);
  }
}

/** Whether a unit or partner of another organisation than the owner's is asking to write. */
function needsDelegation(principal: Principal, project: ProjectInfo): boolean {
  return (
    (principal.role === 'unit' || principal.role === 'partner') &&
    principal.org !== undefined &&
    principal.org !== project.ownerOrg
  );
}

/**
 * Units and partners write for their own organisation's projects, and for projects whose owning
 * unit delegated them the right (`delegation`, see delegates.ts); admins for any. A refusal names
 * the organisation, the project, its owner and why (`reason`: NOT_DELEGATED, DELEGATION_REVOKED).
 */
export function authorizeWrite(
  principal: Principal,
  project: ProjectInfo,
  delegation: Delegation = { state: 'none' },
): AppError | undefined {
  if (principal.role === 'admin') return undefined;
  if (principal.role !== 'unit' && principal.role !== 'partner') {
    return new AppError('FORBIDDEN', `role ${principal.role} may not write for project ${project.id}`);
  }
  if (principal.org === project.ownerOrg) return undefined;
  if (delegation.state === 'live') return undefined;
  const org = principal.org ?? '?';
  const facts = { reason: '', org, projectId: project.id, ownerOrg: project.ownerOrg };
  if (delegation.state === 'revoked') {
    return new AppError(
      'FORBIDDEN',
      `organisation ${org} may not write for project ${project.id}: its delegation from ${project.ownerOrg} was revoked at ${delegation.revokedAt}`,
      { ...facts, reason: 'DELEGATION_REVOKED', revokedAt: delegation.revokedAt },
    );
  }
  return new AppError(
    'FORBIDDEN',
    `organisation ${org} may not write for project ${project.id}: the project belongs to ${project.ownerOrg}, which has not delegated it to ${org} (its unit grants that with POST /v1/projects/${project.id}/delegates)`,
    { ...facts, reason: 'NOT_DELEGATED' },
  );
}

function fromStored(row: IdempotentRow): AcceptedSubmission {
  const record = JSON.parse(row.record_json) as EvidenceRecord;
  return {
    id: row.id,
    sha256: row.sha256,
    cid: record.cid,
    status: row.status,
    receipt: row.receipt,
    ...(row.receipt_sm2 === null ? {} : { receiptSm2: wholeReceipt(row.receipt_sm2, row.receipt) }),
    acceptedAt: record.acceptedAt,
    replayed: true,
  };
}

export interface IntakeOptions {
  db: () => pg.Pool;
  keys: KeyRing;
  config: Config;
  metrics?: IntakeMetrics;
  /** Called after every group commit with the number of rows committed (the pipeline's nudge). */
  onCommitted?: (rows: number) => void;
  /** Holds new submissions while too many wait to be sealed (admission.ts); none: never held. */
  admission?: Admission;
}

/**
 * Intake: turns validated submissions into records, signs their receipts, and commits them in
 * group commits. A submission is answered only once its row is committed.
 */
export class Intake {
  readonly projects: ProjectDirectory;
  /** Delegations of other organisations' projects (`forget` after granting or revoking one). */
  readonly delegates: DelegateDirectory;
  /** Facts about records that submissions name (cached once recorded). */
  readonly records: RecordDirectory;
  /** Supersedes and withdrawals of one record, in turn (see TargetClaims). */
  readonly claims = new TargetClaims();
  private readonly committer: GroupCommitter<PendingSubmission, { inserted: boolean }>;
  private readonly listeners: ((rows: number) => void)[] = [];

  constructor(private readonly options: IntakeOptions) {
    this.projects = new ProjectDirectory(options.db);
    this.delegates = new DelegateDirectory(options.db, options.config.authCacheMs);
    this.records = new RecordDirectory(options.db);
    if (options.onCommitted) this.listeners.push(options.onCommitted);
    const admission = options.admission;
    if (admission) this.listeners.push((rows) => admission.committed(rows));
    const metrics = options.metrics;
    this.committer = new GroupCommitter({
      flush: async (rows) => {
        // Begun first: the SM2 signature's nonce is made on the thread pool while the rows'
        // ES256 signatures finish (on the signing thread). Awaited below; if an ES256 signature
        // fails first, its error is the flush's and this one must not go unhandled.
        const sm2Signed = this.signSm2Alone(rows);
        sm2Signed.catch(() => {});
        for (const row of rows) if (row.signing) await row.signing;
        this.signReceipts(rows);
        await sm2Signed;
        try {
          const result = await insertSubmissions(options.db(), rows);
          for (const l of this.listeners) l(rows.length);
          return result;
        } catch (e) {
          throw unavailable(e);
        }
      },
      maxRows: 5000,
      timeoutMs: options.config.requestTimeoutMs,
      onTimeout: () => new AppError('TIMEOUT', 'the database did not commit in time'),
      onFlush: (rows, ms) => {
        metrics?.groupCommitRows.observe(rows);
        metrics?.groupCommitSeconds.observe(ms / 1000);
      },
      onQueueDepth: (n) => metrics?.queueDepth.set(n),
    });
  }

  /**
   * Signs the receipts of one group commit still without one (the batch route's rows: the single
   * route's are signed alone before they join a group, see `signAlone`) with one signature (a
   * group receipt each; a plain receipt for a group of one): signing once per record cost more
   * CPU than anything else intake does (docs/benchmarks.md). The rows are answered only after the
   * commit, with these receipts.
   */
  private signReceipts(rows: PendingSubmission[]): void {
    let unsigned = rows;
    for (const row of rows) {
      if (row.receipt !== '') {
        unsigned = rows.filter((r) => r.receipt === '');
        break;
      }
    }
    if (unsigned.length === 0) return;
    const { config, keys } = this.options;
    const shared = { iss: config.receiptIssuer, iat: Math.floor(Date.now() / 1000), ledger: config.ledger };
    const signer = keys.receiptSigner;
    // CRYPTO_SUITE dual: the same receipts once more with SM2 (one more signature per group).
    const sm2 = keys.receiptSm2Signer;
    if (!config.receiptGroups) {
      for (const row of unsigned) {
        row.receipt = signer.signGroup(shared, [row.receiptItem])[0]!;
        if (sm2) row.receiptSm2 = sm2.signGroup(shared, [row.receiptItem])[0]!;
      }
      return;
    }
    const items = unsigned.map((r) => r.receiptItem);
    if (sm2 && items.length > 1) {
      // One tree for both signatures: the group is built (hashed) once.
      const built = buildReceiptGroup(items);
      const receipts = signer.signBuiltGroup(built, shared);
      const sm2Receipts = sm2.signBuiltGroup(built, shared);
      // Both sign the group's claims and carry the same items: the SM2 receipts' detached form
      // is one string for the whole group, made here once rather than per record.
      const jwsOf = (r: string) => r.slice(0, r.indexOf('~'));
      const detached = detachReceipt(jwsOf(sm2Receipts[0]!), jwsOf(receipts[0]!));
      // Stored once for all the group's rows (submission-store.ts, migration 0993).
      const stored = detached === undefined ? undefined : { jws: jwsOf(receipts[0]!), sm2Detached: detached };
      for (let i = 0; i < unsigned.length; i++) {
        unsigned[i]!.receipt = receipts[i]!;
        unsigned[i]!.receiptSm2 = sm2Receipts[i]!;
        if (detached !== undefined) unsigned[i]!.receiptSm2Detached = detached;
        unsigned[i]!.receiptGroup = stored;
      }
      return;
    }
    const receipts = signer.signGroup(shared, items);
    // A group of one is a plain JWS of its own; a larger one `<JWS>~<item>`, its JWS stored once.
    const tilde = sm2 ? -1 : receipts[0]!.indexOf('~');
    const group = tilde > 0 ? { jws: receipts[0]!.slice(0, tilde), sm2Detached: null } : undefined;
    for (let i = 0; i < unsigned.length; i++) {
      unsigned[i]!.receipt = receipts[i]!;
      unsigned[i]!.receiptGroup = group;
    }
    if (sm2) {
      const sm2Receipts = sm2.signGroup(shared, items);
      for (let i = 0; i < unsigned.length; i++) unsigned[i]!.receiptSm2 = sm2Receipts[i]!;
    }
  }

  /**
   * CRYPTO_SUITE dual: the SM2 receipts of the single submissions in this group commit, one SM2
   * signature per distinct `iat` (nearly always one per group commit) instead of one per request:
   * SM2 signing in JavaScript cost ~0.3 ms of CPU per POST, more than everything else a POST does
   * (docs/gm-crypto.md). `receiptSm2` is no registered JOSE algorithm, so no JOSE library is
   * promised it: it may be a group receipt `<JWS>~<item>` (a plain JWS for a group of one), which
   * proof's verifyReceipt checks. Each states the same claims as the row's ES256 `receipt`.
   */
  private async signSm2Alone(rows: PendingSubmission[]): Promise<void> {
    const sm2 = this.options.keys.receiptSm2Signer;
    const { config } = this.options;
    // Without group receipts each single submission's SM2 receipt is signed alone (signAlone).
    if (!sm2 || !config.receiptGroups) return;
    const byIat = new Map<number, PendingSubmission[]>();
    for (const row of rows) {
      if (row.receiptSm2 !== null || row.receiptIat === undefined) continue;
      const same = byIat.get(row.receiptIat);
      if (same) same.push(row);
      else byIat.set(row.receiptIat, [row]);
    }
    // The nonce's [k]G on the thread pool (signGroupAsync): ~230 µs of the event loop per group
    // commit otherwise (docs/benchmarks.md, issue #26).
    await Promise.all(
      [...byIat].map(async ([iat, same]) => {
        const shared = { iss: config.receiptIssuer, iat, ledger: config.ledger };
        const receipts = await sm2.signGroupAsync(
          shared,
          same.map((r) => r.receiptItem),
        );
        for (let i = 0; i < same.length; i++) same[i]!.receiptSm2 = receipts[i]!;
      }),
    );
  }

  /**
   * A single `POST /v1/evidence` is answered with a plain compact JWS naming its record, which
   * any JOSE library verifies, however many requests share its group commit (a group receipt
   * `<JWS>~<item>` needs proof/'s verifyReceipt). Signed off the event loop (the signing thread,
   * keys/signing-thread.ts, with the others of this turn; or libuv's pool) while the row waits in
   * the group commit's queue anyway — its flush awaits `row.signing` — so the event loop pays only
   * the hand-off, and the row keeps the place in the queue it was built in.
   */
  private signAlone(rows: PendingSubmission[]): void {
    const { config, keys } = this.options;
    const signer = keys.receiptSigner;
    const sm2 = keys.receiptSm2Signer;
    const iat = Math.floor(Date.now() / 1000);
    for (const row of rows) {
      const { sub, sha256, cid, projectId, kind, leaf } = row.receiptItem;
      const claims = { iss: config.receiptIssuer, sub, iat, sha256, cid, projectId, kind, leaf };
      row.signing = signer.signAsync({ ...claims, ledger: config.ledger }).then((jws) => {
        row.receipt = jws;
      });
      // CRYPTO_SUITE dual: the SM2 receipt of the same claims, signed with the group commit's other
      // single submissions (`signSm2Alone`); alone only where group receipts are turned off.
      row.receiptIat = iat;
      if (sm2 && !config.receiptGroups) {
        const sm2Signing = sm2.signAsync({ ...claims, ledger: config.ledger }).then((jws) => {
          row.receiptSm2 = jws;
        });
        row.signing = Promise.all([row.signing, sm2Signing]).then(() => {});
      }
      // Awaited by the flush; a row that never reaches one (a closed committer) must not leave
      // an unhandled rejection behind.
      row.signing.catch(() => {});
    }
  }

  /** Registers a listener called after each group commit (e.g. to wake the batcher). */
  onCommitted(listener: (rows: number) => void): void {
    this.listeners.push(listener);
  }

  get queueDepth(): number {
    return this.committer.depth;
  }

  close(): Promise<void> {
    return this.committer.close();
  }

  /** Looks up earlier answers to Idempotency-Keys of this caller. */
  private async findIdempotent(scope: string, keys: string[]): Promise<Map<string, IdempotentRow>> {
    let rows: IdempotentRow[];
    try {
      rows = await findIdempotent(this.options.db(), scope, keys);
    } catch (e) {
      throw unavailable(e);
    }
    return new Map(rows.map((r) => [r.idempotency_key, r]));
  }

  private build(
    principal: Principal,
    input: EvidenceSubmission,
    project: ProjectInfo,
    idem?: IdempotencyOptions & { scope?: string },
  ) {
    const { id, ms } = uuidv7();
    const acceptedAt = new Date(ms).toISOString();
    const details: RecordDetails = { salt: saltHex() };
    if (input.title !== undefined) details.title = input.title;
    if (input.amount !== undefined) details.amount = input.amount;
    if (input.milestone !== undefined) details.milestone = input.milestone;
    if (input.result !== undefined) details.result = input.result;
    if (input.reason !== undefined) details.reason = input.reason;
    // canonicalJson(details) and detailsDigest(details), with the JSON made once (intake-encode.ts).
    const detailsText = detailsJson(details);
    const cid = cidOfSha256Hex(input.sha256);
    const record: EvidenceRecord = {
      v: 1,
      id,
      projectId: input.projectId,
      kind: input.kind,
      digests: input.sm3 === undefined ? { sha256: input.sha256 } : { sha256: input.sha256, sm3: input.sm3 },
      cid,
      visibility: input.visibility,
      submitter: { org: principal.org ?? project.ownerOrg },
      acceptedAt,
      // node:crypto's one-shot hash: no Hash object per submission.
      detailsDigest: hash('sha256', detailsText, 'hex'),
    };
    if (input.supersedes !== undefined) record.supersedes = input.supersedes;
    if (input.refs !== undefined && input.refs.length > 0) record.refs = input.refs;
    const recordText = recordJson(record);
    // leafHash over the exact bytes stored: the same as recordLeafHash(record), canonicalised once.
    const leaf = leafHexOfText(recordText);
    const receiptItem: ReceiptItemClaims = {
      sub: id,
      sha256: input.sha256,
      cid,
      projectId: input.projectId,
      kind: input.kind,
      leaf,
    };
    const row: PendingSubmission = {
      id,
      projectId: input.projectId,
      sha256: input.sha256,
      kind: input.kind,
      recordJson: recordText,
      detailsJson: detailsText,
      receipt: '',
      receiptSm2: null,
      receiptItem,
      idempotencyKey: idem?.key ?? null,
      idemScope: idem?.key ? (idem.scope ?? null) : null,
      requestHash: idem?.key ? (idem.requestHash ?? null) : null,
      acceptedAt,
      linkTarget: targetOf(record) ?? null,
    };
    const accepted: AcceptedSubmission = {
      id,
      sha256: input.sha256,
      cid,
      status: 'accepted',
      receipt: '', // filled in once committed
      acceptedAt,
      replayed: false,
    };
    return { row, accepted };
  }

  /**
   * Resolves when a new submission may be read and accepted (admission.ts): the write routes call
   * it before reading the body, so that a held request holds no parsed body in memory.
   */
  admit(): Promise<void> {
    return this.options.admission?.admit() ?? Promise.resolve();
  }

  /** One submission: checks, builds, commits. Throws an AppError for anything refused. */
  async submit(
    principal: Principal,
    input: EvidenceSubmission,
    idem: IdempotencyOptions = {},
  ): Promise<AcceptedSubmission> {
    const scope = idempotencyScope(principal);
    if (idem.key) {
      const previous = (await this.findIdempotent(scope, [idem.key])).get(idem.key);
      if (previous) return this.replay(previous, idem.requestHash);
    }
    const [outcome] = await this.process(principal, [input], { ...idem, scope, perItemKeys: false });
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.accepted;
  }

  /**
   * Many submissions from one caller: one result per item, in order. Every good item is committed
   * in the same group commit; a bad item gets its own problem and does not stop the others. With an
   * Idempotency-Key, item i is keyed `<key>#<i>` so a retried batch replays what was accepted.
   */
  async submitBatch(
    principal: Principal,
    inputs: ({ ok: true; input: EvidenceSubmission } | { ok: false; error: AppError })[],
    idem: IdempotencyOptions = {},
  ): Promise<ItemOutcome[]> {
    const scope = idempotencyScope(principal);
    const results: (ItemOutcome | undefined)[] = new Array(inputs.length);
    if (idem.key) {
      const keys = inputs.map((_, i) => `${idem.key}#${i}`);
      const previous = await this.findIdempotent(scope, keys);
      for (const stored of previous.values()) {
        if (stored.request_hash !== (idem.requestHash ?? null)) {
          throw new AppError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used for a different batch');
        }
      }
      keys.forEach((k, i) => {
        const stored = previous.get(k);
        if (stored) results[i] = { ok: true, accepted: fromStored(stored) };
      });
    }
    const todo: { index: number; input: EvidenceSubmission }[] = [];
    inputs.forEach((item, index) => {
      if (results[index]) return;
      if (!item.ok) results[index] = { ok: false, error: item.error };
      else todo.push({ index, input: item.input });
    });
    if (todo.length > 0) {
      const outcomes = await this.process(
        principal,
        todo.map((t) => t.input),
        { ...idem, scope, perItemKeys: true, indexes: todo.map((t) => t.index) },
      );
      todo.forEach((t, i) => {
        results[t.index] = outcomes[i];
      });
    }
    return results as ItemOutcome[];
  }

  private replay(previous: IdempotentRow, requestHash: string | undefined): AcceptedSubmission {
    if (previous.request_hash !== (requestHash ?? null)) {
      throw new AppError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used for a different request');
    }
    return fromStored(previous);
  }

  private async process(
    principal: Principal,
    inputs: EvidenceSubmission[],
    idem: IdempotencyOptions & { scope: string; perItemKeys: boolean; indexes?: number[] },
  ): Promise<ItemOutcome[]> {
    const outcomes: (ItemOutcome | undefined)[] = new Array(inputs.length);
    const projects = await this.projects.getMany(inputs.map((i) => i.projectId));
    // Another organisation's projects cost one query for their delegations; the owner's none.
    const foreign: string[] = [];
    for (const p of projects.values()) if (needsDelegation(principal, p)) foreign.push(p.id);
    const delegations =
      foreign.length > 0 && principal.org !== undefined
        ? await this.delegates.lookup(principal.org, foreign)
        : undefined;
    const keyOf = (index: number): string | undefined =>
      idem.key ? (idem.perItemKeys ? `${idem.key}#${idem.indexes?.[index] ?? index}` : idem.key) : undefined;
    for (let index = 0; index < inputs.length; index++) {
      const input = inputs[index]!;
      const project = projects.get(input.projectId);
      const problem =
        kindRuleProblem(input) ??
        (project
          ? authorizeWrite(principal, project, delegations?.get(project.id))
          : new AppError('NO_SUCH_PROJECT', `no project ${input.projectId}`));
      if (problem) outcomes[index] = { ok: false, error: problem };
    }
    // Only submissions that name other records cost a query (and, for a supersede or a
    // withdrawal, a turn on the target's claim); a hash-only one goes straight to the commit.
    const named = namedRecords(inputs.filter((_, index) => !outcomes[index]));
    const release = named.targets.length > 0 ? await this.claims.claim(named.targets) : undefined;
    try {
      if (release && idem.key) await this.replayWinners(inputs, outcomes, keyOf, idem);
      const records =
        named.ids.length > 0
          ? await this.records.load(named.ids, named.targets)
          : new Map<string, RecordFacts>();
      return await this.commit(principal, inputs, outcomes, new IntakeView(projects, records), keyOf, idem);
    } finally {
      release?.();
    }
  }

  /**
   * A request that waited for a target's claim may be the retry of one that committed meanwhile
   * under the same Idempotency-Key: it gets that answer, not a refusal for the target now being
   * superseded (by its own first attempt).
   */
  private async replayWinners(
    inputs: EvidenceSubmission[],
    outcomes: (ItemOutcome | undefined)[],
    keyOf: (index: number) => string | undefined,
    idem: IdempotencyOptions & { scope: string },
  ): Promise<void> {
    const keys = new Map<string, number>();
    inputs.forEach((input, index) => {
      const key = keyOf(index);
      if (!outcomes[index] && key && (input.supersedes !== undefined || input.kind === 'withdrawal'))
        keys.set(key, index);
    });
    if (keys.size === 0) return;
    const winners = await this.findIdempotent(idem.scope, [...keys.keys()]);
    for (const [key, index] of keys) {
      const w = winners.get(key);
      if (!w) continue;
      try {
        outcomes[index] = { ok: true, accepted: this.replay(w, idem.requestHash) };
      } catch (e) {
        outcomes[index] = { ok: false, error: toAppError(e) };
      }
    }
  }

  /** The chaincode's record checks over `view`, then build, sign and group-commit what passed. */
  private async commit(
    principal: Principal,
    inputs: EvidenceSubmission[],
    outcomes: (ItemOutcome | undefined)[],
    view: IntakeView,
    keyOf: (index: number) => string | undefined,
    idem: IdempotencyOptions & { scope: string; perItemKeys: boolean },
  ): Promise<ItemOutcome[]> {
    const rows: PendingSubmission[] = [];
    const built: { index: number; accepted: AcceptedSubmission; key?: string }[] = [];
    inputs.forEach((input, index) => {
      if (outcomes[index]) return;
      const checked = checkEntry(input, input, view);
      if (!checked.ok) {
        outcomes[index] = { ok: false, error: entryError(checked.problem) };
        return;
      }
      const key = keyOf(index);
      const project = view.project(input.projectId) as ProjectInfo;
      const { row, accepted } = this.build(principal, input, project, {
        key,
        requestHash: idem.requestHash,
        scope: idem.scope,
      });
      // A later item of this request that names the same target sees it taken, as the ledger would.
      const { target, mark } = checked.links;
      if (target && mark) view.mark(target, mark, row.id);
      rows.push(row);
      built.push({ index, accepted, key });
    });
    if (rows.length > 0) {
      if (!idem.perItemKeys) this.signAlone(rows);
      const committed = await this.committer.submit(rows);
      const lost: { index: number; key: string }[] = [];
      built.forEach((b, i) => {
        if (committed[i]!.inserted) {
          b.accepted.receipt = rows[i]!.receipt;
          if (rows[i]!.receiptSm2 !== null) b.accepted.receiptSm2 = rows[i]!.receiptSm2!;
          if (rows[i]!.receiptSm2Detached !== undefined)
            b.accepted.receiptSm2Detached = rows[i]!.receiptSm2Detached;
          outcomes[b.index] = { ok: true, accepted: b.accepted };
          this.options.metrics?.accepted.inc({ route: idem.perItemKeys ? 'batch' : 'single' });
        } else lost.push({ index: b.index, key: b.key! });
      });
      // Another request with the same Idempotency-Key committed first: answer what it got.
      if (lost.length > 0) {
        const winners = await this.findIdempotent(
          idem.scope,
          lost.map((l) => l.key),
        );
        for (const l of lost) {
          const w = winners.get(l.key);
          try {
            if (!w)
              throw new AppError('CONFLICT', 'a concurrent request with this Idempotency-Key is in progress');
            outcomes[l.index] = { ok: true, accepted: this.replay(w, idem.requestHash) };
          } catch (e) {
            outcomes[l.index] = { ok: false, error: toAppError(e) };
          }
        }
      }
    }
    return outcomes as ItemOutcome[];
  }
}

/** An item's problem inside a batch answer. */
export function itemProblem(error: AppError): ReturnType<typeof problemFor> {
  return problemFor(
    error.code as ErrorCode,
    error.status >= 500 ? undefined : error.detail,
    error.extensions,
  );
}
