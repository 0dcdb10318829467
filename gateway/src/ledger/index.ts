import type pg from 'pg';
import type { Config } from '../config.ts';
import type { Ledger } from './ledger.ts';
import { EmbeddedLedger } from './ledger-embedded.ts';
import { FabricLedger } from './ledger-fabric.ts';
import { ThreadedEmbeddedLedger } from './ledger-thread.ts';

// The one place that turns LEDGER into a ledger: the embedded single-node ledger over the
// gateway's PostgreSQL (the zero-setup default), or a Fabric channel through fabric-network.

export { type Ledger, LedgerError } from './ledger.ts';

/** The organisation id the embedded ledger writes as (its admin and only writer). */
export const DEFAULT_LEDGER_MSP_ID = 'LianZhengGatewayMSP';

export interface LedgerFactoryOptions {
  /** The embedded ledger's organisation id (tests); DEFAULT_LEDGER_MSP_ID otherwise. */
  mspId?: string;
  /**
   * Run the embedded ledger's transactions on a thread of their own (ledger-thread.ts): for a
   * process that seals; reads stay on the calling thread either way.
   */
  thread?: boolean;
  /** Retried Fabric failures, for the log. */
  onRetry?: (info: { fn: string; attempt: number; reason: string }) => void;
}

/** The Fabric SDK's own log lines go to `log` at debug (they repeat what LedgerErrors say). */
export { routeFabricSdkLogs } from './fabric-sdk-logging.ts';

export function createLedger(config: Config, db: pg.Pool, options: LedgerFactoryOptions = {}): Ledger {
  if (config.ledger === 'fabric') {
    const fabric = config.fabric!;
    return new FabricLedger({
      connectionProfile: fabric.connectionProfile,
      identity: { dir: fabric.identityDir, ...(fabric.mspId ? { mspId: fabric.mspId } : {}) },
      channel: fabric.channel,
      chaincode: fabric.chaincode,
      discovery: { enabled: fabric.discovery, asLocalhost: fabric.asLocalhost },
      commitTimeoutS: fabric.commitTimeoutS,
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });
  }
  const embedded = { mspId: options.mspId ?? DEFAULT_LEDGER_MSP_ID };
  return options.thread ? new ThreadedEmbeddedLedger(db, embedded) : new EmbeddedLedger(db, embedded);
}
