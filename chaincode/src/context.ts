// Facts about the calling transaction: who submits it and when, taken from the ledger, never from
// the host's clock.

import type { LedgerContext, LedgerTimestamp } from './ledger.ts';
import type { Submitter } from './model.ts';

export function timestampToIso(ts: LedgerTimestamp): string {
  const s = ts.seconds;
  const seconds = typeof s === 'object' ? s.toNumber() : Number(s);
  return new Date(seconds * 1000 + Math.floor(ts.nanos / 1_000_000)).toISOString();
}

export function txTime(ctx: LedgerContext): string {
  return timestampToIso(ctx.stub.getTxTimestamp());
}

/** MSP id and certificate subject; Fabric's `getID()` reads `x509::<subject>::<issuer>`. */
export function submitterOf(ctx: LedgerContext): Submitter {
  const msp = ctx.clientIdentity.getMSPID();
  const id = ctx.clientIdentity.getID();
  const m = /^x509::(.*)::(.*)$/s.exec(id);
  return { msp, subject: m ? m[1]! : id };
}
