import {
  type Assurance,
  deriveAssurance,
  type EvidenceRecord,
  type ProofBundle,
  type RecordDetails,
  type Standing,
  standingOf,
} from '@lianzheng/proof';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { type SubmissionRow, submissionsByIds } from '../intake/submission-store.ts';
import type { Queryable } from '../storage/queryable.ts';
import { mayReadRow } from './views.ts';

// Whether a record still stands, and what its evidence is worth: the two things the verify and
// evidence answers put beside every record so that no client can miss them. A withdrawal's reason
// is read from the withdrawal record (public, or restricted and readable by this principal).

/** The records that withdraw or supersede any of `rows`: one query, and only when there are any. */
export async function linkedRecords(
  db: Queryable,
  rows: SubmissionRow[],
): Promise<Map<string, SubmissionRow>> {
  const ids = [
    ...new Set(rows.flatMap((r) => [r.withdrawn_by, r.superseded_by]).filter((id): id is string => !!id)),
  ];
  if (ids.length === 0) return new Map();
  const linked = await submissionsByIds(db, ids, 'lz-linked-records');
  return new Map(linked.map((r) => [r.id, r]));
}

export function recordStanding(
  row: SubmissionRow,
  linked: Map<string, SubmissionRow>,
  principal: Principal,
): Standing {
  const withdrawal = row.withdrawn_by ? linked.get(row.withdrawn_by) : undefined;
  const successor = row.superseded_by ? linked.get(row.superseded_by) : undefined;
  let reason: string | undefined;
  let withdrawnAt: string | undefined;
  if (withdrawal) {
    const record = JSON.parse(withdrawal.record_json) as EvidenceRecord;
    withdrawnAt = record.acceptedAt;
    if (record.visibility === 'public' || mayReadRow(principal, withdrawal, record))
      reason = (JSON.parse(withdrawal.details_json) as RecordDetails).reason;
  }
  const successorAt = successor
    ? (JSON.parse(successor.record_json) as EvidenceRecord).acceptedAt
    : undefined;
  return standingOf({
    supersededBy: row.superseded_by ?? undefined,
    withdrawnBy: row.withdrawn_by ?? undefined,
    withdrawal: { reason, at: withdrawnAt },
    successor: { at: successorAt },
  });
}

/** The gateway's reading of a bundle's assurance, with the keys it publishes in GET /v1/keys. */
export function recordAssurance(app: FastifyInstance, bundle: ProofBundle): Assurance {
  const anchor = (app as { anchor?: { identity?: unknown } }).anchor?.identity;
  const witnesses = (app as { witnesses?: FastifyInstance['witnesses'] }).witnesses?.published();
  return deriveAssurance(bundle, {
    tsaRoots: app.timestamps?.roots ?? [],
    operatorRoots: app.timestamps?.operatorRoots ?? [],
    ...(anchor ? { anchor: anchor as never } : {}),
    ...(witnesses ? witnesses : {}),
  });
}
