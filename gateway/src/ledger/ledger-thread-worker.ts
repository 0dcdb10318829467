import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { LedgerError } from './ledger.ts';
import { EmbeddedLedger } from './ledger-embedded.ts';
import type { ThreadAnswer, ThreadData, ThreadRequest } from './ledger-thread.ts';

// The ledger's thread (ledger-thread.ts): an EmbeddedLedger over a small pool of its own, taking
// submits from the main thread one message at a time. The EmbeddedLedger queues them itself
// (one transaction at a time, as a single-node orderer), so answers may come back in any order.

const data = workerData as ThreadData;
// Two connections: the transaction's own, and a repeat's lookup of its first block.
const pool = new pg.Pool({ ...data.pool, max: 2 });
pool.on('error', () => {});
pool.on('connect', (client) => client.on('error', () => {}));
const ledger = new EmbeddedLedger(pool, data.ledger);

async function run(request: ThreadRequest): Promise<unknown> {
  switch (request.op) {
    case 'ready':
      return ledger.ready();
    case 'registerProject':
      return ledger.registerProject(request.project);
    case 'record':
      return ledger.recordEncoded(request.batch);
    case 'simulate':
      return ledger.simulateEncoded(request.batch);
    case 'close':
      await ledger.close();
      return pool.end();
  }
}

parentPort!.on('message', (request: ThreadRequest) => {
  run(request).then(
    (value) => parentPort!.postMessage({ id: request.id, ok: true, value } satisfies ThreadAnswer),
    (error: unknown) => {
      const e =
        error instanceof LedgerError
          ? error
          : new LedgerError('LEDGER_FAILED', error instanceof Error ? error.message : String(error));
      parentPort!.postMessage({
        id: request.id,
        ok: false,
        code: e.code,
        message: e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2) : e.message,
      } satisfies ThreadAnswer);
    },
  );
});
