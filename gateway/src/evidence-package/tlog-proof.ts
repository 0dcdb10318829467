// C2SP tlog-proof (https://c2sp.org/tlog-proof, v1): the record's place in the log as a small
// text file any tlog tool can read — the header line, the leaf index, the inclusion proof's hashes
// (standard base64, leaf side first), an empty line, and the signed checkpoint with every
// signature it has. The leaf itself is the record (RFC 6962 leaf hash of its canonical JSON,
// bundle.json's `record`), so no `extra` line is written.
import { fromHex, type InclusionRef, toHex } from '@lianzheng/proof';

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

/**
 * The record's checkpoint with every cosignature (#24): the log's signature lines, then the
 * witnesses' (bundle.cosignatures), as GET /v1/log/checkpoint serves it.
 */
export function checkpointWithCosignatures(bundle: {
  inclusion?: InclusionRef;
  cosignatures?: string[];
}): string {
  return `${bundle.inclusion?.checkpoint ?? ''}${(bundle.cosignatures ?? []).map((l) => `${l}\n`).join('')}`;
}

/** The later checkpoint witnesses cosigned (bundle.witnessed) with their lines after the log's. */
export function witnessedNote(witnessed: { checkpoint: string; cosignatures: string[] }): string {
  return `${witnessed.checkpoint}${witnessed.cosignatures.map((l) => `${l}\n`).join('')}`;
}

export function formatTlogProof(inclusion: InclusionRef): string {
  const hashes = inclusion.path.map((h) => Buffer.from(fromHex(h)).toString('base64'));
  return [TLOG_PROOF_HEADER, `index ${inclusion.index}`, ...hashes, '', inclusion.checkpoint].join('\n');
}

export interface TlogProof {
  index: number;
  extra?: Buffer;
  /** Hex, leaf side first (as bundles carry them). */
  path: string[];
  checkpoint: string;
}

/** Parse a tlog-proof; throws an Error naming the line that is wrong. */
export function parseTlogProof(text: string): TlogProof {
  const blank = text.indexOf('\n\n');
  if (blank < 0) throw new Error('no empty line before the checkpoint');
  const lines = text.slice(0, blank).split('\n');
  const checkpoint = text.slice(blank + 2);
  if (lines[0] !== TLOG_PROOF_HEADER) throw new Error(`first line is not ${TLOG_PROOF_HEADER}`);
  let i = 1;
  let extra: Buffer | undefined;
  if (lines[i]?.startsWith('extra ')) extra = Buffer.from(lines[i++]!.slice(6), 'base64');
  const indexLine = /^index (0|[1-9][0-9]{0,15})$/.exec(lines[i++] ?? '');
  if (!indexLine) throw new Error('no "index N" line');
  const path = lines.slice(i).map((line, n) => {
    const bytes = Buffer.from(line, 'base64');
    if (bytes.length !== 32 || bytes.toString('base64') !== line)
      throw new Error(`hash line ${n + 1} is not 32 bytes of base64`);
    return toHex(bytes);
  });
  return { index: Number(indexLine[1]), ...(extra ? { extra } : {}), path, checkpoint };
}
