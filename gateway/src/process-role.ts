import type { GatewayRole } from './config.ts';

/**
 * What this process does, decided once from GATEWAY_ROLE: every switch that depends on the role
 * reads one of these fields rather than comparing the role itself, so the roles' meaning is here.
 *
 * - `all` (default, and `npm start`): everything in one process.
 * - `api`: HTTP only. Accepts submissions and wakes the sealers with NOTIFY; judges the ledger's
 *   readiness by the sealers' progress in the database.
 * - `sealer`: the batcher, the anchorer, witnesses and webhook deliveries; answers only /healthz,
 *   /readyz and /metrics; wakes on the api processes' NOTIFY.
 */
export interface ProcessDuties {
  role: GatewayRole;
  /** Serve the API (a sealer answers only its health and metrics routes). */
  serveApi: boolean;
  /** Run the batcher: seal, record on the ledger, confirm, sign checkpoints. */
  seal: boolean;
  /** After a group commit, NOTIFY the sealers in other processes (instead of waking our own). */
  notifySealers: boolean;
  /** LISTEN for other processes' group commits. */
  listenForIntake: boolean;
  /** Judge the ledger's readiness by the sealers' traces in the database (no batcher here). */
  watchSealers: boolean;
  /** Anchor checkpoints on the EVM chain (where configured). */
  anchor: boolean;
  /** Ask the witnesses to cosign new checkpoints. */
  askWitnesses: boolean;
  /** Deliver webhook notices. */
  deliverWebhooks: boolean;
}

/**
 * `pipeline: false` is a gateway without the sealing pipeline at all (unit and intake tests): it
 * seals, asks and delivers nothing, whatever its role.
 */
export function processDuties(role: GatewayRole, options: { pipeline?: boolean } = {}): ProcessDuties {
  const pipeline = options.pipeline ?? true;
  const sealsHere = role !== 'api';
  return {
    role,
    serveApi: role !== 'sealer',
    seal: pipeline && sealsHere,
    notifySealers: role === 'api',
    listenForIntake: role === 'sealer',
    watchSealers: role === 'api',
    // The anchorer reads the recorded checkpoints from the database, not from the pipeline.
    anchor: sealsHere,
    askWitnesses: pipeline && sealsHere,
    deliverWebhooks: pipeline && sealsHere,
  };
}
