import type pg from 'pg';
import { int8Array } from '../storage/binary-arrays.ts';

/**
 * Writes the `records.recorded` notices of a batch just recorded, one per live webhook of each
 * organisation owning a project with records in it, inside the batcher's own transaction (the
 * caller's `client`): the notice commits with the records, or neither does. The whole statement
 * is gated on a webhook existing at all, so with none it reads nothing.
 */
export async function enqueueRecorded(
  client: pg.PoolClient,
  seqs: readonly (number | string)[],
  checkpointSize: number,
) {
  await client.query(
    `insert into webhook_deliveries (webhook_id, event)
     select w.id,
            jsonb_build_object(
              'type', 'records.recorded',
              'checkpointSize', $2::bigint,
              'records', jsonb_agg(
                jsonb_build_object(
                  'id', s.id, 'sha256', s.sha256, 'projectId', s.project_id, 'kind', s.kind,
                  'leafIndex', l.leaf_index,
                  'flags', coalesce((select jsonb_agg(f.code order by f.ordinal)
                                       from record_flags f where f.submission_id = s.id), '[]'::jsonb))
                order by l.leaf_index))
       from log_leaves l
       join submissions s on s.seq = l.seq
       join projects p on p.id = s.project_id
       join webhooks w on w.org = p.owner_org and w.deleted_at is null
      where exists (select 1 from webhooks where deleted_at is null)
        and l.seq = any($1::bigint[])
      group by w.id`,
    [int8Array(seqs), String(checkpointSize)],
  );
}
