// The log's side of C2SP tlog-witness add-checkpoint: one request with a bounded timeout, its
// answer read into what the caller needs (cosignature lines, the witness's size on a 409, or a
// refusal with the witness's own words).
import { toBase64 } from '@lianzheng/proof';

/** Largest answer read from a witness: a few signature lines, or a short refusal. */
const MAX_ANSWER_BYTES = 16 * 1024;

export type AddCheckpointResult =
  | { kind: 'cosigned'; body: string }
  | { kind: 'conflict'; size: number }
  | { kind: 'refused'; status: number; body: string };

export function addCheckpointBody(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  return `old ${oldSize}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${note}`;
}

async function readCapped(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw new Error(`the witness answered more than ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * POSTs `<url>/add-checkpoint`. Throws on a network failure or the timeout (the caller retries
 * later with the newest checkpoint); never waits longer than `timeoutMs`.
 */
export async function addCheckpoint(
  url: string,
  request: { oldSize: number; proof: readonly Uint8Array[]; note: string },
  { timeoutMs }: { timeoutMs: number },
): Promise<AddCheckpointResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  const res = await fetch(`${url.replace(/\/+$/, '')}/add-checkpoint`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: addCheckpointBody(request.oldSize, request.proof, request.note),
    signal,
    redirect: 'error',
  });
  const body = await readCapped(res);
  if (res.status === 200) return { kind: 'cosigned', body };
  if (res.status === 409 && (res.headers.get('content-type') ?? '').startsWith('text/x.tlog.size')) {
    const m = /^(0|[1-9][0-9]{0,15})\n?$/.exec(body);
    if (m) return { kind: 'conflict', size: Number(m[1]) };
  }
  return { kind: 'refused', status: res.status, body: body.slice(0, 500) };
}
