import { format } from 'node:util';

// fabric-network's SDK (fabric-common) logs through a winston logger of its own, to the console,
// and at `error` for every endorsement a contract refused — LOG_GAP, a bad reference — which the
// Fabric ledger turns into a LedgerError and the batcher handles. Its loggers are made when its
// modules load, from `global.hfc.logger` when one is there: this module, imported before the SDK,
// puts one there that hands each line to a sink the gateway chooses (its pino logger, at debug),
// so the SDK's lines are the gateway's structured lines instead of colourised console text.

export type FabricSdkLogSink = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

let sink: FabricSdkLogSink = () => {};

/** Where the SDK's log lines go from now on (by default nowhere). */
export function routeFabricSdkLogs(next: FabricSdkLogSink): void {
  sink = next;
}

const holder = globalThis as { hfc?: { logger?: unknown } };
if (!holder.hfc?.logger) {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) =>
      sink(level, format(...args));
  holder.hfc = {
    ...holder.hfc,
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
  };
}
