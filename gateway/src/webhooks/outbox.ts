import { int8Array } from '../storage/binary-arrays.ts';
import type { Queryable } from '../storage/queryable.ts';

// The webhooks' two notice statements: `records.recorded` and `records.anchored`. Each runs inside
// the transaction of the step it tells of — the batcher's confirmation, the anchorer's
// confirmation — through the hooks webhooks/plugin.ts registers (batcher.onRecorded,
// anchorer.onAnchored): the notices commit with the step or not at all, so a crash can neither
// lose one nor write one twice. Each statement is gated on a live webhook existing at all, so
// with none it reads nothing.

/**
 * The most records one notice lists. A 10,000-record batch (or an anchor covering a hundred
 * thousand records) for one organisation would otherwise be one POST of megabytes, more than
 * many receivers accept; a notice of 1,000 records is ~250 KB. The parts of one event say which
 * they are (`part`, `parts`) and each is delivered, retried and signed on its own.
 */
export const NOTICE_MAX_RECORDS = 1000;

/**
 * Writes the `records.recorded` notices of a batch just recorded — for each live webhook (that
 * wants them) of each organisation owning a project with records in it, and of each partner
 * organisation that submitted some of them for a project delegated to it (its own records only),
 * the records in leaf order, in parts of at
 * most `maxRecords` — inside the batcher's own transaction (`tx`): the notices commit with the
 * records, or neither does.
 */
export async function enqueueRecorded(
  tx: Queryable,
  seqs: readonly (number | string)[],
  checkpointSize: number,
  maxRecords = NOTICE_MAX_RECORDS,
): Promise<void> {
  await tx.query(
    `insert into webhook_deliveries (webhook_id, event)
     select c.webhook_id,
            jsonb_build_object(
              'type', 'records.recorded',
              'checkpointSize', $2::bigint,
              'part', c.part + 1,
              'parts', max(c.parts),
              'records', jsonb_agg(c.record order by c.leaf_index))
       from (
         select m.webhook_id, m.leaf_index,
                (row_number() over (partition by m.webhook_id order by m.leaf_index) - 1) / $3 as part,
                (count(*) over (partition by m.webhook_id) + $3 - 1) / $3 as parts,
                jsonb_build_object(
                  'id', s.id, 'sha256', s.sha256, 'projectId', s.project_id, 'kind', s.kind,
                  'leafIndex', m.leaf_index,
                  'flags', coalesce((select jsonb_agg(f.code order by f.ordinal)
                                       from record_flags f where f.submission_id = s.id), '[]'::jsonb)) as record
           from (
             -- The owning organisation's webhooks…
             select w.id as webhook_id, l.leaf_index, l.seq
               from log_leaves l
               join submissions s on s.seq = l.seq
               join projects p on p.id = s.project_id
               join webhooks w on w.org = p.owner_org and w.deleted_at is null and 'records.recorded' = any(w.events)
              where l.seq = any($1::bigint[])
             union all
             -- …and those of the partner organisation that submitted a record for a project
             -- delegated to it (migration 0401): only projects with delegations read the submitter.
             select w.id, l.leaf_index, l.seq
               from log_leaves l
               join submissions s on s.seq = l.seq
               join projects p on p.id = s.project_id
               join webhooks w on w.org = (s.record_json::jsonb #>> '{submitter,org}') and w.org <> p.owner_org
                              and w.deleted_at is null and 'records.recorded' = any(w.events)
              where exists (select 1 from project_delegates)
                and l.seq = any($1::bigint[])
                and p.id in (select d.project_id from project_delegates d)) m
           join submissions s on s.seq = m.seq
          where exists (select 1 from webhooks where deleted_at is null)) c
      group by c.webhook_id, c.part
      order by c.webhook_id, c.part`,
    [int8Array(seqs), String(checkpointSize), maxRecords],
  );
}

/**
 * Writes the `records.anchored` notices of the leaves `fromSize` … `toSize - 1`, newly covered by
 * a confirmed anchor of `toSize` leaves, for each live webhook (that wants them) of an
 * organisation owning any of them, and of a partner organisation that submitted some for a
 * project delegated to it (its own records only), in parts of at most `maxRecords` — inside the
 * anchorer's transaction that raised the anchored size (`tx`).
 */
export async function enqueueAnchored(
  tx: Queryable,
  anchored: { fromSize: number; toSize: number },
  maxRecords = NOTICE_MAX_RECORDS,
): Promise<void> {
  await tx.query(
    `with changed as (
       select m.webhook_id, l.leaf_index,
              (row_number() over (partition by m.webhook_id order by l.leaf_index) - 1) / $3 as part,
              (count(*) over (partition by m.webhook_id) + $3 - 1) / $3 as parts,
              jsonb_build_object('id', s.id, 'sha256', s.sha256, 'projectId', s.project_id, 'kind', s.kind,
                                 'leafIndex', l.leaf_index) as record
         from log_leaves l
         join submissions s on s.seq = l.seq
         join projects p on p.id = s.project_id
         join lateral (
           -- The owning organisation's webhooks…
           select w.id as webhook_id from webhooks w
            where w.org = p.owner_org and w.deleted_at is null and 'records.anchored' = any(w.events)
           union all
           -- …and, as for records.recorded, those of the partner organisation that submitted the
           -- record for a project delegated to it: its own records only.
           select w.id from webhooks w
            where exists (select 1 from project_delegates d where d.project_id = p.id)
              and w.org = (s.record_json::jsonb #>> '{submitter,org}') and w.org <> p.owner_org
              and w.deleted_at is null and 'records.anchored' = any(w.events)) m on true
        where l.leaf_index >= $1 and l.leaf_index < $2
          and exists (select 1 from webhooks where deleted_at is null))
     insert into webhook_deliveries (webhook_id, event)
     select c.webhook_id,
            jsonb_build_object(
              'type', 'records.anchored',
              'anchoredSize', $2::bigint,
              'part', c.part + 1,
              'parts', max(c.parts),
              'records', jsonb_agg(c.record order by c.leaf_index))
       from changed c
      group by c.webhook_id, c.part
      order by c.webhook_id, c.part`,
    [String(anchored.fromSize), String(anchored.toSize), maxRecords],
  );
}
