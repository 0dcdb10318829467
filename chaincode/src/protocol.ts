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

/**
 * The canonical JSON of a record and of its details, as the gateway stored them at intake
 * (`canonicalJson`: sorted keys, JSON.stringify's numbers and strings). An entry that carries it
 * is written into the argument as these strings, not serialised again from the parsed values
 * (issue #26: a batch of 10,000 records was ~7 MB of JSON.stringify per batch).
 */
export interface StoredEntryJson {
  record: string;
  details: string;
}

export interface EncodableEntry {
  record: EvidenceRecord;
  details: RecordDetails;
  /** When present, exactly `canonicalJson(record)` and `canonicalJson(details)`. */
  json?: StoredEntryJson;
}

/**
 * The argument and transient map of a batch. An entry with `json` contributes its strings as they
 * are: the argument then parses to the same values as `JSON.stringify` of the parsed entry would
 * (and is the same text: for objects whose keys are in sorted order and hold no array-index key —
 * records' and details' fields are fixed names — canonicalJson is JSON.stringify, as
 * `privacy.test.ts` checks). The contract parses the argument and canonicalises each record
 * itself, so what it writes depends only on those values either way.
 */
export function encodeRecordBatch(batch: {
  fromSize: number;
  records: readonly EncodableEntry[];
}): EncodedRecordBatch {
  if (batch.records.length > 0 && batch.records.every((entry) => entry.json !== undefined))
    return encodeStoredBatch(batch.fromSize, batch.records);
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

/** `encodeRecordBatch` for entries that all carry their stored JSON: string concatenation only. */
function encodeStoredBatch(fromSize: number, entries: readonly EncodableEntry[]): EncodedRecordBatch {
  const parts = new Array<string>(entries.length);
  const hidden: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const { record, json } = entries[i]!;
    if (record.visibility === 'restricted') {
      parts[i] = `{"record":${json!.record}}`;
      hidden.push(`${JSON.stringify(record.id)}:${json!.details}`);
    } else {
      parts[i] = `{"record":${json!.record},"details":${json!.details}}`;
    }
  }
  const args = `{"fromSize":${JSON.stringify(fromSize)},"records":[${parts.join(',')}]}`;
  const transient: Record<string, Uint8Array> =
    hidden.length === 0 ? {} : { [TRANSIENT_DETAILS_KEY]: encoder.encode(`{${hidden.join(',')}}`) };
  return { args, transient };
}
