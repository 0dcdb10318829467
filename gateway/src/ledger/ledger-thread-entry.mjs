// The ledger thread's entry (ledger-thread.ts): TypeScript needs a loader, and a worker does not
// inherit one registered by the process at run time (scripts/start.mjs, vitest), so it registers
// tsx itself before loading the worker's module.
import { register } from 'tsx/esm/api';

register();
await import('./ledger-thread-worker.ts');
