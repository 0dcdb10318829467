// ES256 receipt signatures on a thread of their own, many per message (issue #26).
//
// A single `POST /v1/evidence` is answered with a plain JWS of its own (issue #22), one ECDSA
// signature per request. Handing each to libuv's thread pool (`crypto.sign` with a callback) kept
// the signature's CPU off the event loop, but every hand-off wakes a pool thread, and on a
// two-core machine under load the woken thread takes the core from the event loop: measured, the
// event loop spent no less per POST than when it signed itself (docs/benchmarks.md, "Receipts
// signed on a thread of their own"). Here the signatures asked for within one turn of the event
// loop go to one worker thread in one message and come back in one: a wake-up per turn, not per
// request, and the signing itself on the other core.
//
// The worker is plain JavaScript given as source (it needs no loader) and keeps the keys it was
// sent, by kid. It signs as `crypto.sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' })`
// does anywhere else; the caller builds the JWS around the signature. If the thread fails or
// stops, what it owed is signed on the thread pool instead (no request fails for it) and the next
// call starts another thread.

import { type KeyObject, sign } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { sign } = require('node:crypto');
const keys = new Map();
parentPort.on('message', (m) => {
  if (m.key) keys.set(m.kid, m.key);
  const key = keys.get(m.kid);
  try {
    const signatures = m.inputs.map((input) =>
      sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url'));
    parentPort.postMessage({ id: m.id, signatures });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

interface Waiting {
  input: string;
  resolve: (signature: string) => void;
  reject: (error: Error) => void;
}

/** The signatures asked for with one key in one turn, sent as one message. */
interface Batch {
  kid: string;
  key: KeyObject;
  waiting: Waiting[];
}

/**
 * The same signature on libuv's thread pool, one job per call (node:crypto signs there when given
 * a callback): the key ring's way without a signing thread, and this one's fallback.
 */
export function signEs256OnPool(key: KeyObject, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }, (error, signature) => {
      if (error) reject(error);
      else resolve(signature.toString('base64url'));
    });
  });
}

export class SigningThread {
  private worker: Worker | undefined;
  /** The kids whose keys the current worker holds. */
  private workerKeys = new Set<string>();
  private readonly queued = new Map<string, Batch>();
  private scheduled = false;
  private nextId = 1;
  private readonly inFlight = new Map<number, Batch & { worker: Worker }>();
  /** Messages sent to a thread so far (one per key per turn). */
  messages = 0;
  /** Signatures made on the pool because the thread could not (it stopped, or refused). */
  signedOnPool = 0;

  /** The base64url ES256 signature (IEEE P1363 form) of the UTF-8 `input` with `key`, named `kid`. */
  sign(kid: string, key: KeyObject, input: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let batch = this.queued.get(kid);
      if (!batch) {
        batch = { kid, key, waiting: [] };
        this.queued.set(kid, batch);
      }
      batch.waiting.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.send());
      }
    });
  }

  /** Stops the thread (the signatures it owed are made on the pool); a later call starts another. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker) await worker.terminate();
  }

  private send(): void {
    this.scheduled = false;
    let worker: Worker;
    try {
      worker = this.started();
    } catch {
      // No thread to be had (resource limits): the pool, as before.
      for (const batch of this.queued.values()) this.onPool(batch);
      this.queued.clear();
      return;
    }
    for (const batch of this.queued.values()) {
      const id = this.nextId++;
      const key = this.workerKeys.has(batch.kid) ? undefined : batch.key;
      this.workerKeys.add(batch.kid);
      this.inFlight.set(id, { ...batch, worker });
      worker.postMessage({ id, kid: batch.kid, key, inputs: batch.waiting.map((w) => w.input) });
      this.messages++;
    }
    this.queued.clear();
    // Held while it owes signatures, so that they arrive; let go when idle (below).
    worker.ref();
  }

  private onPool(batch: Batch): void {
    this.signedOnPool += batch.waiting.length;
    for (const w of batch.waiting) signEs256OnPool(batch.key, w.input).then(w.resolve, w.reject);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    // A small heap of its own: the process's heap flags (node-flags.ts: a sealing process's 64 MiB
    // semi-space and 512 MiB old-generation floor) are sized for the sealer, not for a thread that
    // holds one turn's signing inputs (~0.2 MB at 256 connections). A thread that outgrows it
    // stops, and what it owed is signed on the pool.
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 },
    });
    this.worker = worker;
    this.workerKeys = new Set();
    worker.on('message', (m: { id: number; signatures?: string[]; error?: string }) => {
      const batch = this.inFlight.get(m.id);
      if (!batch) return;
      this.inFlight.delete(m.id);
      const signatures = m.signatures;
      if (signatures) for (let i = 0; i < signatures.length; i++) batch.waiting[i]!.resolve(signatures[i]!);
      // The pool gives the same error for a key that cannot sign, or the signatures.
      else this.onPool(batch);
      if (![...this.inFlight.values()].some((b) => b.worker === worker)) worker.unref();
    });
    const stopped = () => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, batch] of this.inFlight) {
        if (batch.worker !== worker) continue;
        this.inFlight.delete(id);
        this.onPool(batch);
      }
    };
    worker.on('error', stopped);
    worker.on('exit', stopped);
    worker.unref();
    return worker;
  }
}
