// Hashing a file the reader chose, inside the browser. Files up to `oneShotMaxBytes` go through one
// WebCrypto call (native code: about six times faster than JavaScript SHA-256 in the benchmark);
// larger ones are streamed through proof's createSha256 chunk by chunk, so a file of several GB
// needs no more memory than one chunk. If the browser cannot hold the whole file, or WebCrypto is
// missing (it only exists in secure contexts: https or localhost), the file is streamed too.
// SM3 (GB/T 32905) is computed in the same pass, in JavaScript (WebCrypto has none), so a record
// that carries `digests.sm3` is checked against it as well (docs/gm-crypto.md).

import { createSha256, sm3, toHex } from '@lianzheng/proof';

export interface HashProgress {
  done: number;
  total: number;
  elapsedMs: number;
}

export type HashMethod = 'webcrypto' | 'stream';

export interface HashOutcome {
  sha256: string;
  /** The SM3 of the same bytes (unless `sm3: false`). */
  sm3?: string;
  method: HashMethod;
  elapsedMs: number;
}

export class HashAbortedError extends Error {
  readonly code = 'HASH_ABORTED';
}

export interface HashOptions {
  oneShotMaxBytes: number;
  signal?: AbortSignal;
  onProgress?: (p: HashProgress) => void;
  /** How often progress is reported and the page is given a chance to repaint. */
  progressEveryMs?: number;
  /** Also hash with SM3 (default true). */
  sm3?: boolean;
}

/**
 * How a file's digests compare with a record's: SHA-256 decides which file it is; where the record
 * also carries an SM3 digest, the file's SM3 must match it too (`sm3-mismatch` otherwise: the
 * record's SM3 is not this file's, which a record made honestly never shows). `sm3Checked` says
 * whether SM3 was compared, so the page can say so.
 */
export function compareFileDigests(
  file: { sha256: string; sm3?: string },
  record: { sha256: string; sm3?: string },
): { result: 'match' | 'mismatch' | 'sm3-mismatch'; sm3Checked: boolean } {
  if (file.sha256.toLowerCase() !== record.sha256.toLowerCase())
    return { result: 'mismatch', sm3Checked: false };
  if (!record.sm3 || !file.sm3) return { result: 'match', sm3Checked: false };
  return file.sm3.toLowerCase() === record.sm3.toLowerCase()
    ? { result: 'match', sm3Checked: true }
    : { result: 'sm3-mismatch', sm3Checked: true };
}

export function chooseHashMethod(size: number, oneShotMaxBytes: number): HashMethod {
  const subtle = globalThis.crypto?.subtle;
  return subtle && size <= oneShotMaxBytes ? 'webcrypto' : 'stream';
}

export async function hashFile(file: Blob, opts: HashOptions): Promise<HashOutcome> {
  const start = performance.now();
  const method = chooseHashMethod(file.size, opts.oneShotMaxBytes);
  const report = (done: number) =>
    opts.onProgress?.({ done, total: file.size, elapsedMs: performance.now() - start });
  report(0);
  if (method === 'webcrypto') {
    try {
      const buf = await file.arrayBuffer();
      if (opts.signal?.aborted) throw new HashAbortedError('aborted');
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
      const sm3Hex = opts.sm3 === false ? undefined : toHex(sm3(new Uint8Array(buf)));
      report(file.size);
      return {
        sha256: toHex(digest),
        ...(sm3Hex ? { sm3: sm3Hex } : {}),
        method,
        elapsedMs: performance.now() - start,
      };
    } catch (e) {
      // A browser short of memory refuses the whole-file buffer: stream instead.
      if (e instanceof HashAbortedError) throw e;
    }
  }
  return streamHash(file, opts, start, report);
}

/** Read size for the streamed path: big enough to keep per-chunk overhead small. */
const CHUNK = 1024 * 1024;

/**
 * A byte-stream reader that fills one buffer over and over (BYOB), so memory stays flat whatever
 * the file's size; where the browser offers only the default reader, chunks are fresh buffers that
 * the garbage collector reclaims.
 */
function openReader(file: Blob): {
  read(): Promise<Uint8Array | null>;
  cancel(): Promise<void>;
  release(): void;
} {
  const stream = file.stream();
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = stream.getReader({ mode: 'byob' });
  } catch {
    byob = null;
  }
  if (byob) {
    const reader = byob;
    let buffer = new ArrayBuffer(CHUNK);
    return {
      async read() {
        const { value, done } = await reader.read(new Uint8Array(buffer, 0, buffer.byteLength));
        if (done || !value) return null;
        buffer = value.buffer as ArrayBuffer;
        return value;
      },
      cancel: () => reader.cancel(),
      release: () => reader.releaseLock(),
    };
  }
  const reader = stream.getReader();
  return {
    async read() {
      const { value, done } = await reader.read();
      return done ? null : value;
    },
    cancel: () => reader.cancel(),
    release: () => reader.releaseLock(),
  };
}

async function streamHash(
  file: Blob,
  opts: HashOptions,
  start: number,
  report: (done: number) => void,
): Promise<HashOutcome> {
  const hasher = createSha256();
  const sm3Hasher = opts.sm3 === false ? undefined : sm3.create();
  const reader = openReader(file);
  const every = opts.progressEveryMs ?? 100;
  let done = 0;
  let lastReport = start;
  try {
    for (;;) {
      if (opts.signal?.aborted) {
        await reader.cancel().catch(() => {});
        throw new HashAbortedError('aborted');
      }
      const chunk = await reader.read();
      if (chunk === null) break;
      hasher.update(chunk);
      sm3Hasher?.update(chunk);
      done += chunk.byteLength;
      const now = performance.now();
      if (now - lastReport >= every) {
        lastReport = now;
        report(done);
        // Reads can resolve back to back without a task boundary; let the progress bar paint.
        await new Promise((r) => setTimeout(r, 0));
      }
    }
  } finally {
    reader.release();
  }
  report(done);
  return {
    sha256: toHex(hasher.digest()),
    ...(sm3Hasher ? { sm3: toHex(sm3Hasher.digest()) } : {}),
    method: 'stream',
    elapsedMs: performance.now() - start,
  };
}
