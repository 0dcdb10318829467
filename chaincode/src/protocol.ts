// How a client hands RecordBatch a batch: restricted records' details never go into the
// transaction's argument (every peer's blocks keep the argument); they travel as transient data,
// which only the endorsing peers see, and the contract keeps them as private data. Pure: the
// gateway's Fabric ledger and its embedded ledger both call it.

import type { EvidenceRecord, RecordDetails } from '@lianzheng/proof';

/** The transient-map key: UTF-8 JSON `{ [recordId]: details }` of the batch's restricted records. */
export const TRANSIENT_DETAILS_KEY = 'details';

export interface EncodedRecordBatch {
  /** RecordBatch's argument: `{fromSize, records}`, restricted records as `{record}` only. */
  args: string;
  /** `details` → the restricted records' details; no key when none is restricted. */
  transient: Record<string, Uint8Array>;
}

const encoder = new TextEncoder();

export function encodeRecordBatch(batch: {
  fromSize: number;
  records: { record: EvidenceRecord; details: RecordDetails }[];
}): EncodedRecordBatch {
  const hidden: Record<string, RecordDetails> = {};
  let restricted = 0;
  const records = batch.records.map(({ record, details }) => {
    if (record.visibility !== 'restricted') return { record, details };
    hidden[record.id] = details;
    restricted++;
    return { record };
  });
  const args = JSON.stringify({ fromSize: batch.fromSize, records });
  const transient: Record<string, Uint8Array> =
    restricted === 0 ? {} : { [TRANSIENT_DETAILS_KEY]: encoder.encode(JSON.stringify(hidden)) };
  return { args, transient };
}
