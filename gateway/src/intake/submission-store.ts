import { detachReceipt } from '@lianzheng/proof';
import type { LedgerFlag, LedgerResolution } from '../ledger/ledger.ts';
import {
  int2Array,
  int8Array,
  jsonbArray,
  textArray,
  timestamptzArray,
  uuidArray,
} from '../storage/binary-arrays.ts';
import { type CoalescedReadOptions, coalescedReads } from '../storage/coalesced-reads.ts';
import type { Queryable } from '../storage/queryable.ts';

// The one owner of `submissions` and `seal_queue`, and of the tables that say what became of a
// submission: `record_links`, `record_flags`, `flag_resolutions`, `submission_rejections` and
// `log_leaves` (read through the `submission_states` view). Every other module calls these
// functions; none writes SQL on these tables itself.
//
// Each function takes a Queryable first: the pool, or the client of the caller's transaction (the
// batcher's seal and confirm). The statements are the hot path's: their text and their statement
// names (prepared once per connection) are part of their performance — each one's comment says
// why it is written so; change them only with the bench (docs/benchmarks.md) beside you.

export type SubmissionStatus = 'accepted' | 'recorded' | 'anchored' | 'rejected';

export type LedgerFlagJson = { code: string; recordId: string; [field: string]: unknown };

/** One submission with what the read routes and bundles need: one indexed query, see `SUBMISSION_SELECT`. */
export interface SubmissionRow {
  seq: string;
  id: string;
  project_id: string;
  sha256: string;
  kind: string;
  record_json: string;
  details_json: string;
  receipt: string;
  /** CRYPTO_SUITE dual: the SM2 receipt beside `receipt` (migration 0920); null otherwise. */
  receipt_sm2: string | null;
  status: SubmissionStatus;
  leaf_index: string | null;
  reject_code: string | null;
  accepted_at: Date;
  /** The project's owner organisation and region (null if the project mirror lacks it). */
  owner_org: string | null;
  region_code: string | null;
  /** The recorded batch holding the leaf, if any. */
  batch_to_size: string | null;
  batch_tx_id: string | null;
  batch_block: string | null;
  batch_validation: string | null;
  batch_endorsers: string[] | null;
  batch_root: Buffer | null;
  /** The record's flags (jsonb array, [] when none). */
  flags: LedgerFlagJson[];
  superseded_by: string | null;
  withdrawn_by: string | null;
  /**
   * With `inclusion: true`: the complete subtrees of the record's inclusion proof in its batch's
   * checkpoint, as "level:index:hex-hash" joined by commas (null when the record is in no
   * recorded batch). Read in the same query, so a bundle costs no second trip.
   */
  inclusion_subtrees?: string | null;
}

/** A submission's own stored bytes and state, without the joins: what the audit checks. */
export type StoredSubmissionRow = Pick<
  SubmissionRow,
  | 'seq'
  | 'id'
  | 'project_id'
  | 'sha256'
  | 'kind'
  | 'record_json'
  | 'details_json'
  | 'receipt'
  | 'receipt_sm2'
  | 'status'
  | 'leaf_index'
>;

/** What the batcher sends to the ledger of one submission. */
export type SubmissionRecordRow = Pick<SubmissionRow, 'id' | 'record_json' | 'details_json'>;

/** An earlier answer to an Idempotency-Key. */
export type IdempotentRow = Pick<
  SubmissionRow,
  'id' | 'sha256' | 'status' | 'receipt' | 'receipt_sm2' | 'record_json' | 'accepted_at'
> & { request_hash: string | null; idempotency_key: string };

/** A new submission's row as intake writes it (camelCase: built in memory, never read back so). */
export interface NewSubmission {
  id: string;
  projectId: string;
  sha256: string;
  kind: string;
  recordJson: string;
  detailsJson: string;
  /** Signed in the group commit's flush (see Intake), before the INSERT. */
  receipt: string;
  /** CRYPTO_SUITE dual: the SM2 receipt beside it (same form, same claims); null otherwise. */
  receiptSm2: string | null;
  /**
   * `receiptSm2` detached, made once per group commit when it shares the ES256 receipt's group
   * payload and item (a batch's rows): stored and answered so.
   */
  receiptSm2Detached?: string;
  /**
   * The signed group this row's receipt belongs to (`receipt` is `<group.jws>~<item>`): the rows of
   * one group share the object, and the group is stored once for them (migration 0993).
   */
  receiptGroup?: StoredReceiptGroup;
  idempotencyKey: string | null;
  idemScope: string | null;
  requestHash: string | null;
  acceptedAt: string;
  /** The record this one supersedes or withdraws (chaincode's targetOf), or null. */
  linkTarget: string | null;
}

// ---------------------------------------------------------------------------------------------
// Intake: new rows, Idempotency-Keys, facts about named records.

// The rows, and their place in the batcher's queue, in one statement. A submission's row is
// written once (migration 0700): what the pipeline does with it later goes to narrow tables.
// `on conflict` only where an Idempotency-Key can conflict: with it PostgreSQL inserts every row
// speculatively (a probe of the arbiter index first, a confirmation WAL record after): ~50 B of
// WAL per row and a little CPU for the key-less rows of the batch route (issue #26,
// docs/benchmarks.md). Without a key nothing can conflict on (idem_scope, idempotency_key) —
// NULLs are distinct — and any other unique violation fails the statement either way.
const insertCte = (onConflict: string, grouped: boolean) => `with ${
  // The group's JWS once (migration 0993), when the rows share one: they keep their items only.
  grouped
    ? 'grp as (insert into receipt_groups (jws, jws_sm2_detached) values ($14, $15) returning id),\n'
    : ''
}inserted as (
  insert into submissions
    (id, project_id, sha256, kind, record_json, details_json, receipt, idempotency_key, idem_scope, request_hash,
     accepted_at, link_target, receipt_sm2${grouped ? ', receipt_group' : ''})
  select ${
    grouped
      ? `u.id, u.project_id, u.sha256, u.kind, u.record_json, u.details_json, u.receipt, u.idempotency_key,
         u.idem_scope, u.request_hash, u.accepted_at, u.link_target, u.receipt_sm2,
         case when u.grouped = 1 then (select id from grp) end`
      : '*'
  } from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::uuid[], $13::text[]${
                         grouped ? ', $16::int2[]' : ''
                       })${
                         grouped
                           ? ` as u (id, project_id, sha256, kind, record_json, details_json, receipt, idempotency_key,
                 idem_scope, request_hash, accepted_at, link_target, receipt_sm2, grouped)`
                           : ''
                       }
  ${onConflict}
  returning seq, id),
queued as (insert into seal_queue (seq) select seq from inserted)
`;

/** A signed receipt group as stored once for its rows (`receipt_groups`, migration 0993). */
export interface StoredReceiptGroup {
  /** The group's compact JWS: each row's receipt is `<jws>~<item>`. */
  jws: string;
  /** CRYPTO_SUITE dual: the SM2 JWS of the same payload, detached (each row's `receipt_sm2`). */
  sm2Detached: string | null;
}

/**
 * Whether `row` is stored as an item of `group`: its receipt is `<group.jws>~<item>` and its SM2
 * receipt (if any) is the group's detached one. Anything else keeps its receipts whole.
 */
function storedInGroup(row: NewSubmission, group: StoredReceiptGroup | undefined): boolean {
  if (group === undefined || row.receiptGroup !== group) return false;
  const { receipt } = row;
  if (receipt.length <= group.jws.length || receipt.charCodeAt(group.jws.length) !== 0x7e /* ~ */)
    return false;
  if (!receipt.startsWith(group.jws)) return false;
  return group.sm2Detached === null ? row.receiptSm2 === null : row.receiptSm2Detached === group.sm2Detached;
}

/** Writes rows with one multi-row INSERT (one statement, one transaction, one fsync). */
export async function insertSubmissions(
  db: Queryable,
  rows: NewSubmission[],
): Promise<{ inserted: boolean }[]> {
  const col = <T>(pick: (r: NewSubmission) => T): T[] => rows.map(pick);
  // One group per group commit (Intake.signReceipts signs one); a row of any other keeps its own.
  const group = rows.find((r) => r.receiptGroup !== undefined)?.receiptGroup;
  const grouped = rows.map((r) => storedInGroup(r, group));
  const anyGrouped = grouped.includes(true);
  // Binary arrays (storage/binary-arrays.ts): no text literal to escape, build and parse again.
  const values: unknown[] = [
    uuidArray(col((r) => r.id)),
    textArray(col((r) => r.projectId)),
    textArray(col((r) => r.sha256)),
    textArray(col((r) => r.kind)),
    textArray(col((r) => r.recordJson)),
    textArray(col((r) => r.detailsJson)),
    // A grouped row's receipt without the group's `<JWS>~` (a slice: no copy until it is written).
    textArray(rows.map((r, i) => (grouped[i] ? r.receipt.slice(group!.jws.length + 1) : r.receipt))),
    textArray(col((r) => r.idempotencyKey)),
    textArray(col((r) => r.idemScope)),
    textArray(col((r) => r.requestHash)),
    timestamptzArray(col((r) => r.acceptedAt)),
    uuidArray(col((r) => r.linkTarget)),
    // A batch row's SM2 receipt signs the ES256 receipt's payload and carries its item: stored
    // detached (`<header>..<signature>`, ~190 bytes instead of ~1 KB), made whole when read.
    textArray(
      rows.map((r, i) =>
        r.receiptSm2 === null || grouped[i]
          ? null
          : (r.receiptSm2Detached ?? detachReceipt(r.receiptSm2, r.receipt) ?? r.receiptSm2),
      ),
    ),
  ];
  if (anyGrouped) values.push(group!.jws, group!.sm2Detached, int2Array(grouped.map((g) => (g ? 1 : 0))));
  // Named statements: each pooled connection parses and plans the INSERT once. Without an
  // Idempotency-Key in the group nothing can conflict, so no ids need to come back.
  let keyed = false;
  for (const r of rows) if (r.idempotencyKey !== null) keyed = true;
  if (!keyed) {
    const result = await db.query<{ n: number }>({
      name: anyGrouped ? 'intake-insert-grouped' : 'intake-insert',
      text: `${insertCte('', anyGrouped)} select count(*)::int as n from inserted`,
      values,
    });
    const n = result.rows[0]?.n;
    if (n !== rows.length) throw new Error(`the group commit inserted ${n} of ${rows.length} rows`);
    return rows.map(() => ({ inserted: true }));
  }
  const result = await db.query<{ id: string }>({
    // A group whose rows all lost to earlier ones under the same keys stays behind, unread.
    name: anyGrouped ? 'intake-insert-grouped-returning' : 'intake-insert-returning',
    text: `${insertCte(
      // The arbiter is the unique index of the rows with a key (migration 0994): its predicate.
      'on conflict (idem_scope, idempotency_key) where idempotency_key is not null do nothing',
      anyGrouped,
    )} select id from inserted`,
    values,
  });
  if (result.rowCount === rows.length) return rows.map(() => ({ inserted: true }));
  const inserted = new Set(result.rows.map((r) => r.id));
  return rows.map((r) => ({ inserted: inserted.has(r.id) }));
}

/**
 * The earlier answers to any of `$2` (keys) in one caller's scope `$1`. `is not null` repeats the
 * predicate of the index that keeps the keys unique (migration 0994), so the planner may use it.
 */
export const IDEMPOTENT_LOOKUP = `select id::text, sha256, status, receipt, receipt_sm2, record_json, request_hash,
       idempotency_key, accepted_at
  from submission_states
 where idem_scope = $1 and idempotency_key = any($2::text[]) and idempotency_key is not null`;

/** The earlier answers to any of `keys` in one caller's scope. */
export async function findIdempotent(db: Queryable, scope: string, keys: string[]): Promise<IdempotentRow[]> {
  const { rows } = await db.query<IdempotentRow>(IDEMPOTENT_LOOKUP, [scope, textArray(keys)]);
  return rows;
}

// One statement answers for every named record: its project and kind, and — for targets only —
// whether it is superseded or withdrawn, by a recorded record (`record_links`, written in the
// batcher's confirm transaction together with the leaves) or by one accepted and not yet recorded
// (same project, later seq, still in `seal_queue`: either is enough to make the target dead).
// Intake stores each submission's target (chaincode's targetOf) in `link_target`, so the queued
// one is a probe of submissions_link_target (migrations 0400, 0700) and one of the queue's key,
// however long the queue. A rejected submission never existed for the ledger, and a rejected
// supersede or withdrawal never took effect.
const FACTS_SQL = `
select t.id::text as id, t.project_id, t.kind, t.status,
       s.by_id::text as superseded_by, w.by_id::text as withdrawn_by,
       q.id::text as pending_by, q.kind as pending_kind
  from submission_states t
  left join record_links s on t.id = any($2::uuid[]) and s.target_id = t.id and s.link = 'superseded'
  left join record_links w on t.id = any($2::uuid[]) and w.target_id = t.id and w.link = 'withdrawn'
  left join lateral (
    select p.id, p.kind from submissions p
     where t.id = any($2::uuid[])
       and p.link_target = t.id and exists (select 1 from seal_queue sq where sq.seq = p.seq)
       and p.project_id = t.project_id and p.seq > t.seq and (p.kind = t.kind or p.kind = 'withdrawal')
     order by p.seq limit 1) q on true
 where t.id = any($1::uuid[]) and t.status <> 'rejected'`;

/** A named record's facts (see FACTS_SQL). */
export interface RecordFactsRow {
  id: string;
  project_id: string;
  kind: string;
  status: string;
  superseded_by: string | null;
  withdrawn_by: string | null;
  pending_by: string | null;
  pending_kind: string | null;
}

/** Facts about the records `ids`; liveness only for those also in `targets`. */
export async function recordFacts(
  db: Queryable,
  ids: string[],
  targets: string[],
): Promise<RecordFactsRow[]> {
  const { rows } = await db.query<RecordFactsRow>({
    name: 'intake-record-facts',
    text: FACTS_SQL,
    values: [ids, targets],
  });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Reads: records with everything a bundle and a view need.

/**
 * A record_flags row `f`'s flag as the facts stand now: an overdue milestone's flag that a later
 * acceptance resolved (flag_resolutions, migration 0502) gets `resolvedBy`, `resolvedAt` and
 * `resolvedRestricted` (the acceptance is restricted: views show the resolution only to those who
 * may read it). The stored flag is never rewritten; the look-up runs for overdue flags only.
 */
export const FLAG_NOW = `f.flag || coalesce((
           select jsonb_build_object('resolvedBy', r.by_id, 'resolvedAt', r.resolved_at, 'resolvedRestricted', r.restricted)
             from flag_resolutions r
            where f.code = 'MILESTONE_OVERDUE_30_DAYS' and r.project_id = f.project_id and r.code = f.code
              and r.milestone = f.flag->'detail'->>'milestone'), '{}'::jsonb)`;

/**
 * The columns and joins behind every read route: the submission, its project's owner and region,
 * the recorded batch that holds its leaf (a lateral lookup on the batches' primary key), its
 * flags, and the records that supersede or withdraw it. Append a `where` on `s`.
 */
export const SUBMISSION_SELECT = `
  select s.seq, s.id, s.project_id, s.sha256, s.kind, s.record_json, s.details_json, s.receipt, s.receipt_sm2, s.status,
         s.leaf_index, s.reject_code, s.accepted_at,
         p.owner_org, p.region_code,
         b.to_size as batch_to_size, b.tx_id as batch_tx_id, b.block as batch_block, b.root as batch_root,
         b.validation as batch_validation, b.endorsers as batch_endorsers,
         coalesce((select jsonb_agg(${FLAG_NOW} order by f.ordinal) from record_flags f where f.submission_id = s.id),
                  '[]'::jsonb) as flags,
         (select l.by_id from record_links l where l.target_id = s.id and l.link = 'superseded') as superseded_by,
         (select l.by_id from record_links l where l.target_id = s.id and l.link = 'withdrawn') as withdrawn_by
    from submission_states s
    left join projects p on p.id = s.project_id
    left join lateral (
      select bb.to_size, bb.tx_id, bb.block, bb.root, bb.validation, bb.endorsers from ledger_batches bb
       where bb.status = 'recorded' and s.leaf_index is not null and bb.from_size <= s.leaf_index
       order by bb.from_size desc limit 1
    ) b on s.leaf_index < b.to_size`;

/**
 * SUBMISSION_SELECT with one more column, for `inclusion: true`: the hashes of the subtrees the
 * record's inclusion proof is made of (migration 0500, lz_inclusion_subtrees; 0501 tells the
 * planner how few rows it returns, so each tile is looked up by primary key instead of hashing all
 * of log_tiles; 0990 and 0992 keep each subtree as a 32-byte slice of its tile).
 */
export const SUBMISSION_SELECT_WITH_INCLUSION = SUBMISSION_SELECT.replace(
  /\n\s+from submission_states s\n/,
  `,
         (select string_agg(t.level || ':' || t.idx || ':' || encode(substring(st.hashes from lz_tile_offset(t.level, t.idx) + 1 for 32), 'hex'), ',')
            from lz_inclusion_subtrees(s.leaf_index, b.to_size) t
            join log_tiles st on st.level = t.level / 6 and st.idx = t.idx >> (6 - t.level % 6)
           where octet_length(st.hashes) >= lz_tile_offset(t.level, t.idx) + 32) as inclusion_subtrees
    from submission_states s
`,
);

/**
 * Loads submissions with everything a bundle needs, `where` on `s`. Give hot callers a statement
 * `name`: the statement is then prepared once per connection and its plan reused. The named
 * functions below are the gateway's queries; this one is for them and for tests.
 */
export async function loadSubmissions(
  db: Queryable,
  where: string,
  params: unknown[],
  suffix = 'order by s.seq',
  name?: string,
  { inclusion = false }: { inclusion?: boolean } = {},
): Promise<SubmissionRow[]> {
  // With `inclusion`, the rows come with their inclusion proofs' subtree hashes (routes that
  // answer with bundles): one query where the bundle would otherwise need a second.
  const text = `${inclusion ? SUBMISSION_SELECT_WITH_INCLUSION : SUBMISSION_SELECT} where ${where} ${suffix}`;
  const { rows } = await db.query<SubmissionRow>(
    name ? { name, text, values: params } : { text, values: params },
  );
  return rows;
}

/**
 * One submission by id, with its inclusion proof's subtrees (routes answering with its bundle).
 * `name` prepares the statement (GET /v1/evidence/{id}, the hot one).
 */
export async function submissionById(
  db: Queryable,
  id: string,
  { name }: { name?: string } = {},
): Promise<SubmissionRow | undefined> {
  const [row] = await loadSubmissions(db, 's.id = $1', [id], '', name, { inclusion: true });
  return row;
}

/** The submissions of `ids` (any order), in one prepared statement named by the caller. */
export function submissionsByIds(db: Queryable, ids: string[], name: string): Promise<SubmissionRow[]> {
  return loadSubmissions(db, 's.id = any($1::uuid[])', [uuidArray(ids)], '', name);
}

/** A page of a project's unrejected submissions in acceptance order, after seq `after`. */
export function projectSubmissions(
  db: Queryable,
  projectId: string,
  after: string,
  limit: number,
  { inclusion = false }: { inclusion?: boolean } = {},
): Promise<SubmissionRow[]> {
  return loadSubmissions(
    db,
    "s.project_id = $1 and s.seq > $2 and s.status <> 'rejected'",
    [projectId, after, limit],
    'order by s.seq limit $3',
    undefined,
    { inclusion },
  );
}

/**
 * The digest lookup behind GET /v1/verify: every unrejected submission of any of $1's digests,
 * each digest probed in the digest index on its own. Not `where s.sha256 = any($1) order by
 * s.seq`: right after a burst, before any ANALYZE, the planner took that filter for unselective
 * and walked the whole table in seq order through its primary key to save a sort (229 ms for 64
 * digests at 75,000 rows). `offset 0` keeps the subquery from being flattened into a join that
 * could choose the same; the answer is put in seq order per digest by the caller. The index holds
 * the digest's 32 bytes (migration 0991), hence `decode`; a digest that is not 64 lowercase hex
 * digits matches nothing, as before, rather than failing the decode.
 */
export const DIGEST_LOOKUP = `select x.* from unnest($1::text[]) as d(sha256)
  cross join lateral (${SUBMISSION_SELECT}
    where decode(s.sha256, 'hex') = decode(d.sha256, 'hex') and s.sha256 = d.sha256 and s.status <> 'rejected'
    offset 0) x
  where d.sha256 ~ '^[0-9a-f]{64}$'`;

/**
 * Loads the submissions of a digest. Lookups made at the same time share one query (see
 * coalescedReads); their inclusion proofs are read afterwards, together, through the log's
 * CachedSubtreeStore — cheaper for PostgreSQL than computing each proof's subtrees in the query
 * (`inclusion: true`), which costs ~70 µs of its CPU per row.
 */
export function digestLookups(db: Queryable, options?: CoalescedReadOptions) {
  return coalescedReads<string, SubmissionRow[]>(async (digests) => {
    const { rows } = await db.query<SubmissionRow>({
      name: 'lz-digest-lookup',
      text: DIGEST_LOOKUP,
      values: [textArray([...new Set(digests)])],
    });
    const found = new Map<string, SubmissionRow[]>();
    for (const row of rows) {
      const list = found.get(row.sha256);
      if (list) list.push(row);
      else found.set(row.sha256, [row]);
    }
    for (const list of found.values()) if (list.length > 1) list.sort(bySeq);
    return digests.map((digest) => found.get(digest) ?? []);
  }, options);
}

/** Acceptance order: `seq` is a bigint, read as a decimal string. */
function bySeq(a: SubmissionRow, b: SubmissionRow): number {
  return a.seq.length - b.seq.length || (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0);
}

/**
 * The SHA-256 digests of records that carry SM3 digest `sm3` (at most `limit`). The LIKE filters
 * out records without an SM3 digest before their JSON is parsed.
 */
export async function sha256sOfSm3(db: Queryable, sm3: string, limit: number): Promise<string[]> {
  // A literal in the text, as the route always wrote it: only ever a whole number.
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`bad limit ${limit}`);
  const { rows } = await db.query<{ sha256: string }>(
    `select distinct sha256 from submissions
          where record_json like '%"sm3":"%' and ((record_json::jsonb) #>> '{digests,sm3}') = $1
          limit ${limit}`,
    [sm3],
  );
  return rows.map((r) => r.sha256);
}

// ---------------------------------------------------------------------------------------------
// Projects' counts and flags.

/**
 * A correlated count of the unrejected submissions of the project whose id is `projectId` (an SQL
 * expression of the enclosing query, e.g. `p.id`), for a column of a query on `projects`.
 */
export function liveRecordCount(projectId: string): string {
  return `(select count(*) from submissions s where s.project_id = ${projectId}
                   and not exists (select 1 from submission_rejections r where r.seq = s.seq))`;
}

/** How many unrejected records and flags a project has. */
export async function projectCounts(
  db: Queryable,
  projectId: string,
): Promise<{ records: number; flags: number }> {
  const { rows } = await db.query<{ records: string; flags: string }>(
    `select (select count(*) from submissions s where s.project_id = $1
                  and not exists (select 1 from submission_rejections r where r.seq = s.seq)) as records,
              (select count(*) from record_flags where project_id = $1) as flags`,
    [projectId],
  );
  return { records: Number(rows[0]?.records ?? 0), flags: Number(rows[0]?.flags ?? 0) };
}

/** How many unrejected records a project has. */
export async function projectRecordCount(db: Queryable, projectId: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `select count(*) as n from submissions s where s.project_id = $1
              and not exists (select 1 from submission_rejections r where r.seq = s.seq)`,
    [projectId],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Every flag of a project as the facts stand now (FLAG_NOW), in the order of the records that
 * raised them, then the rule's order.
 */
export async function projectFlags(db: Queryable, projectId: string): Promise<LedgerFlagJson[]> {
  const { rows } = await db.query<{ flag: LedgerFlagJson }>(
    `select ${FLAG_NOW} as flag from record_flags f join submissions s on s.id = f.submission_id
      where f.project_id = $1 order by s.seq, f.ordinal`,
    [projectId],
  );
  return rows.map((r) => r.flag);
}

/**
 * The flags of the projects `projectIds` counted by (project, code, month of raising in China's
 * time): one row per group, bounded by the projects' rules and months, not by flags.
 */
export async function flagCountsByMonth(
  db: Queryable,
  projectIds: string[],
): Promise<{ project_id: string; code: string; month: string | null; total: string; open: string }[]> {
  const { rows } = await db.query<{
    project_id: string;
    code: string;
    month: string | null;
    total: string;
    open: string;
  }>(
    `with fl as (select f.project_id, f.code, ${FLAG_NOW} as flag from record_flags f
                      where f.project_id = any($1::text[]))
         select project_id, code,
                to_char((flag->>'raisedAt')::timestamptz at time zone 'Asia/Shanghai', 'YYYY-MM') as month,
                count(*) as total, count(*) filter (where flag->>'resolvedBy' is null) as open
           from fl group by 1, 2, 3`,
    [projectIds],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The seal queue: the batcher's statements, on the client of its transaction.

/**
 * The seal's read: the next $1 queued submissions in seq order, with what the ledger is sent of
 * each.
 * Everything `record` sends to the ledger, read once (a submission's row is never updated).
 * The queue's first `limit` seqs, then each row by its key: a plain join let PostgreSQL pick,
 * on the gateway's pool (no parallel workers) and with statistics lagging a burst, a merge join
 * that walked `submissions` by its key from the first row ever accepted, every seal — 190,000
 * rows read for a batch of 10,000 at 200,000 records (196–318 ms against 20–25), growing with
 * the log (issue #26, docs/benchmarks.md). `offset 0` keeps the lookup a probe per seq.
 */
export const QUEUED_FOR_SEAL = `select q.seq, s.id, s.record_json, s.details_json
  from (select seq from seal_queue where seq > $2 order by seq limit $1) q
  cross join lateral (select id, record_json, details_json from submissions where seq = q.seq offset 0) s
 order by q.seq`;

/**
 * The next `limit` queued submissions in seq order, with what the ledger is sent of each; from
 * after seq `after` when the batcher reads ahead while the ledger records the batch before them
 * (seqs start at 1, so the default '0' reads the queue from its start).
 */
export async function queuedForSeal(
  db: Queryable,
  limit: number,
  after = '0',
): Promise<(SubmissionRecordRow & { seq: string })[]> {
  const { rows } = await db.query<SubmissionRecordRow & { seq: string }>(QUEUED_FOR_SEAL, [limit, after]);
  return rows;
}

/** The seqs of the next `limit` queued submissions, in order (the queue's key alone). */
export async function queuedSeqs(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ seq: string }>('select seq from seal_queue order by seq limit $1', [
    limit,
  ]);
  return rows.map((r) => r.seq);
}

/** What the ledger is sent of the submissions `seqs`, in that order (missing ones left out). */
export async function recordsOfSeqs(db: Queryable, seqs: string[]): Promise<SubmissionRecordRow[]> {
  const { rows } = await db.query<SubmissionRecordRow>(
    `select s.id, s.record_json, s.details_json
         from unnest($1::bigint[]) with ordinality as u(seq, ord)
         join submissions s on s.seq = u.seq
        order by u.ord`,
    [int8Array(seqs)],
  );
  return rows;
}

/**
 * The submissions `seqs` leave the queue and become leaves `fromSize`, `fromSize + 1`, …, in one
 * statement; only forward: a submission no longer queued (recorded by another step) is not given
 * a second leaf.
 */
export async function dequeueAsLeaves(db: Queryable, fromSize: number, seqs: string[]): Promise<void> {
  await db.query(
    `with dequeued as (
           delete from seal_queue q using unnest($2::bigint[]) as u(seq) where q.seq = u.seq returning q.seq)
         insert into log_leaves (leaf_index, seq)
         select $1::bigint + u.ord - 1, u.seq
           from unnest($2::bigint[]) with ordinality as u(seq, ord) join dequeued d on d.seq = u.seq`,
    [String(fromSize), int8Array(seqs)],
  );
}

/** Takes the submission `id` out of the queue as rejected with `code` (the ledger refused it). */
export async function rejectQueued(db: Queryable, id: string, code: string | undefined): Promise<void> {
  await db.query(
    `with dequeued as (
           delete from seal_queue q using submissions s where s.id = $1 and q.seq = s.seq returning q.seq)
         insert into submission_rejections (seq, code) select seq, $2 from dequeued`,
    [id, code],
  );
}

/** Recorded supersede and withdraw links (parallel arrays), each written once. */
export async function insertRecordLinks(
  db: Queryable,
  links: { target: string[]; link: string[]; by: string[] },
): Promise<void> {
  await db.query(
    `insert into record_links (target_id, link, by_id)
           select * from unnest($1::uuid[], $2::text[], $3::uuid[]) on conflict do nothing`,
    [uuidArray(links.target), textArray(links.link), uuidArray(links.by)],
  );
}

/** The ledger's flags of a batch, numbered per record in the ledger's order, each written once. */
export async function insertRecordFlags(db: Queryable, flags: readonly LedgerFlag[]): Promise<void> {
  const ordinals = new Map<string, number>();
  const ordinal = flags.map((f) => {
    const n = ordinals.get(f.recordId) ?? 0;
    ordinals.set(f.recordId, n + 1);
    return n;
  });
  await db.query(
    `insert into record_flags (submission_id, ordinal, code, project_id, flag)
           select * from unnest($1::uuid[], $2::smallint[], $3::text[], $4::text[], $5::jsonb[])
           on conflict (submission_id, ordinal) do nothing`,
    [
      uuidArray(flags.map((f) => f.recordId)),
      int2Array(ordinal),
      textArray(flags.map((f) => f.code)),
      textArray(flags.map((f) => f.projectId ?? '')),
      jsonbArray(flags.map((f) => JSON.stringify(f))),
    ],
  );
}

/** Applies an earlier flag's resolution, or its reopening (which deletes the resolution). */
export async function applyFlagResolution(db: Queryable, r: LedgerResolution): Promise<void> {
  if (r.by === null) {
    await db.query('delete from flag_resolutions where project_id = $1 and code = $2 and milestone = $3', [
      r.projectId,
      r.code,
      r.milestone,
    ]);
  } else {
    await db.query(
      `insert into flag_resolutions (project_id, code, milestone, by_id, resolved_at, restricted)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (project_id, code, milestone)
             do update set by_id = excluded.by_id, resolved_at = excluded.resolved_at, restricted = excluded.restricted`,
      [r.projectId, r.code, r.milestone, r.by, r.at, r.restricted === true],
    );
  }
}

/**
 * Vacuums the queue (outside any transaction). `skip_locked`: when autovacuum or another sealer
 * is at it, this one is not needed.
 */
export async function vacuumQueue(db: Queryable): Promise<void> {
  await db.query('vacuum (skip_locked) seal_queue');
}

/** Accepted submissions not yet sealed. */
export async function queueDepth(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>('select count(*) as n from seal_queue');
  return Number(rows[0]?.n ?? 0);
}

/**
 * About how many submissions wait to be sealed: the span of `seal_queue`'s seqs (two probes of its
 * key, not a count of its rows), for intake's admission (admission.ts). Gaps left by rolled-back
 * inserts make it overstate, never understate.
 */
export async function queuedSpan(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'select coalesce(max(seq) - min(seq) + 1, 0)::text as n from seal_queue',
  );
  return Number(rows[0]?.n ?? 0);
}

/** How long the oldest queued submission has waited (ms), or null when none is queued. */
export const OLDEST_QUEUED_MS = `(select extract(epoch from now() - accepted_at) * 1000
                 from seal_queue q join submissions s on s.seq = q.seq
                order by q.seq limit 1)`;

// ---------------------------------------------------------------------------------------------
// The audit's reads, in its repeatable-read snapshot.

/** A page of recorded leaves from `fromIndex` on, in leaf order, with their submissions. */
export async function leavesPage(
  db: Queryable,
  fromIndex: number,
  limit: number,
): Promise<StoredSubmissionRow[]> {
  const { rows } = await db.query<StoredSubmissionRow>(
    `select s.seq, s.id::text, s.project_id, s.sha256, s.kind, s.record_json, s.details_json, s.receipt,
              s.receipt_sm2, s.status, l.leaf_index
         from log_leaves l join submission_states s on s.seq = l.seq
        where l.leaf_index >= $1 order by l.leaf_index limit $2`,
    [String(fromIndex), limit],
  );
  return rows;
}

/** The submissions `seqs` with their state, in that order (missing ones left out). */
export async function submissionsOfSeqs(db: Queryable, seqs: string[]): Promise<StoredSubmissionRow[]> {
  const { rows } = await db.query<StoredSubmissionRow>(
    `select s.seq, s.id::text, s.project_id, s.sha256, s.kind, s.record_json, s.details_json, s.receipt,
              s.receipt_sm2, s.status, s.leaf_index
         from unnest($1::bigint[]) with ordinality as u(seq, ord) join submission_states s on s.seq = u.seq
        order by u.ord`,
    [seqs],
  );
  return rows;
}

/** Submissions still queued for sealing though no longer accepted (recorded or rejected). */
export async function staleQueued(db: Queryable): Promise<{ id: string; status: string }[]> {
  const { rows } = await db.query<{ id: string; status: string }>(
    `select s.id::text, s.status from seal_queue q join submission_states s on s.seq = q.seq
      where s.status <> 'accepted'`,
  );
  return rows;
}

/** Every submission ever accepted (rejected ones too). */
export async function countSubmissions(db: Queryable): Promise<number> {
  return Number((await db.query<{ n: string }>('select count(*) as n from submissions')).rows[0]?.n ?? 0);
}

/** The ids of the submissions `seqs`. */
export async function idsOfSeqs(db: Queryable, seqs: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(
    'select id::text from submissions where seq = any($1::bigint[])',
    [seqs],
  );
  return new Set(rows.map((r) => r.id));
}

/** The ids of the records at leaves `from` … `to - 1`, in leaf order. */
export async function idsOfLeaves(db: Queryable, from: string, to: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select s.id::text from log_leaves l join submissions s on s.seq = l.seq
          where l.leaf_index >= $1 and l.leaf_index < $2 order by l.leaf_index`,
    [from, to],
  );
  return rows.map((r) => r.id);
}
