// What a record's evidence is worth, stated once. A bundle that verifies proves that the gateway
// signed and logged the record; how much more it proves depends on where the log went: a ledger
// only the operator runs, a Fabric channel other organisations endorse, a public chain, a
// time-stamp authority someone else runs. `deriveAssurance` reads that from the bundle and the
// keys the gateway publishes (and, when the caller verified the bundle, from the steps that
// passed), so the page, the CLI and the API say the same thing. `standingOf` says whether the
// record still stands: a genuine record can be withdrawn or superseded, and that comes first.
// Levels and their words: docs/assurance.md.

import { certificateInfo } from '../timestamp/certificate-info.ts';
import type { AnchorIdentity, ProofBundle, StepResult } from './bundle.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { type Cosignature, verifyCosignatures } from './cosignature.ts';
import { checkWitnessed } from './witnessed.ts';

/** Where the record's log entry is kept. */
export type LedgerAssurance =
  /** Not on a ledger yet (accepted, not sealed). */
  | { level: 'none' }
  /** The gateway's embedded single-node ledger: one operator, no endorsement by anyone else. */
  | { level: 'embedded' }
  /** A Fabric channel: the transaction was endorsed by the named organisations' peers. */
  | { level: 'fabric'; endorsers: string[]; channel?: string };

/** Whether the log was anchored on a public chain since the record. */
export type AnchorAssurance =
  /** The operator does not anchor (GET /v1/keys names no anchoring identity). */
  | { level: 'none' }
  /** The operator anchors, but not since this record yet. */
  | { level: 'pending' }
  /** The bundle names an anchor the check did not confirm (not pinned, not confirmed, …). */
  | { level: 'unconfirmed'; chainId: string; block: number; txHash: string }
  /** Anchored (and, when the caller verified, checked against the chain and the pinned sender). */
  | { level: 'anchored'; chainId: string; block: number; txHash: string; contract: string };

/** Who vouches for the time. */
export type TimeAssurance =
  /** Only the gateway's own clock (its signed receipt and the ledger's transaction time). */
  | { level: 'gateway-clock' }
  /** An RFC 3161 time-stamp, but from a TSA certified by the gateway's own root: its clock again. */
  | { level: 'operator-tsa'; name?: string }
  /** An RFC 3161 time-stamp from a TSA outside the operator's PKI, named by its root. */
  | { level: 'outside-tsa'; name: string; root: string };

/** One witness that cosigned the record's checkpoint (C2SP cosignature/v1). */
export interface WitnessCosignature {
  /** The witness's key name (its C2SP name, e.g. `notary.example/w1`). */
  name: string;
  /** Its display names, as the operator publishes them (GET /v1/keys `witnesses`). */
  displayName?: string;
  displayNameZh?: string;
  /** When it cosigned, ISO 8601. */
  at: string;
  /**
   * The size of the later checkpoint it cosigned (the bundle's `witnessed` part, consistent with
   * the record's checkpoint); absent when it cosigned the record's own checkpoint.
   */
  size?: number;
}

/** Independent witnesses co-signing the log's checkpoints (docs/witnesses.md). */
export type WitnessAssurance =
  /** The operator names no witnesses. */
  | { level: 'none' }
  /** Fewer than the quorum cosigned the record's checkpoint (a witness was down, or refused). */
  | { level: 'below-quorum'; quorum: number; of: number; cosigned: WitnessCosignature[] }
  /** At least the quorum of the named witnesses cosigned it. */
  | { level: 'quorum'; quorum: number; of: number; cosigned: WitnessCosignature[] };

/** A witness as GET /v1/keys publishes it. */
export interface PublishedWitness {
  /** Verifier key `name+id+base64(0x04 ‖ Ed25519 key)`. */
  vkey: string;
  /** Display names (the C2SP key name is in `vkey`). */
  displayName?: string;
  displayNameZh?: string;
}

export interface Assurance {
  ledger: LedgerAssurance;
  anchoring: AnchorAssurance;
  time: TimeAssurance;
  witnesses: WitnessAssurance;
  /**
   * Whether "on chain" (上链) may be said: a Fabric ledger other organisations endorse, or an
   * anchor on a public chain. Never for the embedded ledger alone.
   */
  onChain: boolean;
}

/** What the derivation reads of GET /v1/keys. */
export interface AssuranceKeys {
  /** PEM roots of the time-stamp authority. */
  tsaRoots?: string[];
  /**
   * Lowercase hex SHA-256 of the DER of the gateway's own PKI root(s) (GET /v1/keys
   * `operatorRoots`). A TSA root among them is the operator's. Absent (an older gateway): a TSA
   * is not taken to be outside the operator's control.
   */
  operatorRoots?: string[];
  /** The operator's anchoring identity; absent when it does not anchor. */
  anchor?: AnchorIdentity | null;
  /** The witnesses the operator (or a trust file) names, and how many must cosign. */
  witnesses?: PublishedWitness[];
  witnessQuorum?: number;
}

export type Standing =
  | { state: 'standing' }
  | { state: 'withdrawn'; by: string; reason?: string; at?: string }
  | { state: 'superseded'; by: string; at?: string };

/** Exit codes of `lianzheng verify` by verdict (documented in its help and the README). */
export const VERDICT_EXIT_CODES = {
  verified: 0,
  failed: 1,
  withdrawn: 5,
  superseded: 6,
} as const;

function stepStatus(steps: StepResult[] | undefined, name: string): StepResult['status'] | undefined {
  return steps?.find((s) => s.step === name)?.status;
}

function ledgerOf(bundle: ProofBundle): LedgerAssurance {
  const ref = bundle.ledger;
  if (!ref || typeof ref !== 'object') return { level: 'none' };
  if (ref.network === 'fabric') {
    const endorsers = Array.isArray(ref.endorsers)
      ? ref.endorsers.filter((e): e is string => typeof e === 'string')
      : [];
    return {
      level: 'fabric',
      endorsers,
      ...(typeof ref.channel === 'string' ? { channel: ref.channel } : {}),
    };
  }
  return { level: 'embedded' };
}

function anchoringOf(bundle: ProofBundle, keys: AssuranceKeys, steps?: StepResult[]): AnchorAssurance {
  const ref = bundle.anchor;
  if (!ref || typeof ref !== 'object') return keys.anchor ? { level: 'pending' } : { level: 'none' };
  const where = { chainId: String(ref.chainId), block: Number(ref.block), txHash: String(ref.txHash) };
  if (steps !== undefined && stepStatus(steps, 'anchor') !== 'pass')
    return { level: 'unconfirmed', ...where };
  return { level: 'anchored', ...where, contract: String(ref.contract) };
}

function timeOf(bundle: ProofBundle, keys: AssuranceKeys, steps?: StepResult[]): TimeAssurance {
  if (!bundle.timestamp) return { level: 'gateway-clock' };
  if (steps !== undefined && stepStatus(steps, 'timestamp') !== 'pass') return { level: 'gateway-clock' };
  const roots = (keys.tsaRoots ?? []).flatMap((pem) => certificateInfo(pem));
  if (roots.length === 0) return { level: 'gateway-clock' };
  const own = keys.operatorRoots?.map((r) => r.toLowerCase());
  const operators = own === undefined ? roots : roots.filter((r) => own.includes(r.sha256));
  // Any root of the operator's among the TSA's roots: the token may chain to it, so it says no
  // more than the gateway's clock does.
  if (operators.length > 0) {
    const name = operators[0]!.name;
    return name ? { level: 'operator-tsa', name } : { level: 'operator-tsa' };
  }
  const outside = roots[0]!;
  return { level: 'outside-tsa', name: outside.name || outside.sha256.slice(0, 16), root: outside.sha256 };
}

function witnessesOf(bundle: ProofBundle, keys: AssuranceKeys, steps?: StepResult[]): WitnessAssurance {
  const published = Array.isArray(keys.witnesses) ? keys.witnesses : [];
  if (published.length === 0) return { level: 'none' };
  const of = published.length;
  const quorum = Math.min(Math.max(keys.witnessQuorum ?? of, 0), of);
  let cosigned: WitnessCosignature[] = [];
  // The lines are verified here, not taken from the bundle's word (cheap: a few Ed25519 checks);
  // a witnesses step that failed counts none.
  const checkpoint = bundle.inclusion?.checkpoint;
  if (
    typeof checkpoint === 'string' &&
    (Array.isArray(bundle.cosignatures) || bundle.witnessed !== undefined) &&
    stepStatus(steps, 'witnesses') !== 'fail'
  ) {
    const vkeys = published.map((w) => w.vkey);
    const named = (c: Cosignature, size?: number): WitnessCosignature => {
      const w = published.find((p) => p.vkey === c.vkey);
      return {
        name: c.name,
        ...(w?.displayName ? { displayName: w.displayName } : {}),
        ...(w?.displayNameZh ? { displayNameZh: w.displayNameZh } : {}),
        at: new Date(c.time * 1000).toISOString(),
        ...(size === undefined ? {} : { size }),
      };
    };
    try {
      const note = checkpoint + (bundle.cosignatures ?? []).map((l) => `${l}\n`).join('');
      cosigned = verifyCosignatures(note, vkeys).cosignatures.map((c) => named(c));
    } catch {
      cosigned = [];
    }
    // A later checkpoint's cosignatures, when the consistency proof ties it to the record's
    // (verifyBundle also checks its signature by the log; its failing step counts none, above).
    if (bundle.witnessed !== undefined) {
      try {
        const w = checkWitnessed(parseCheckpoint(checkpoint), bundle.witnessed, vkeys);
        if (w.ok) {
          for (const c of w.check.cosignatures) {
            if (!cosigned.some((o) => o.name === c.name)) cosigned.push(named(c, w.checkpoint.size));
          }
        }
      } catch {
        // A malformed part adds nobody.
      }
    }
  }
  return { level: cosigned.length >= quorum && quorum > 0 ? 'quorum' : 'below-quorum', quorum, of, cosigned };
}

/**
 * The assurance of one record's evidence. Without `steps` it is what the bundle claims (the
 * gateway's own answer); with the steps of `verifyBundle`, an anchor or a time-stamp counts only
 * if its step passed.
 */
export function deriveAssurance(bundle: ProofBundle, keys: AssuranceKeys, steps?: StepResult[]): Assurance {
  const ledger = ledgerOf(bundle);
  const anchoring = anchoringOf(bundle, keys, steps);
  const time = timeOf(bundle, keys, steps);
  return {
    ledger,
    anchoring,
    time,
    witnesses: witnessesOf(bundle, keys, steps),
    onChain: ledger.level === 'fabric' || anchoring.level === 'anchored',
  };
}

/** The standing of a record from the links the gateway or the ledger reports. */
export function standingOf(links: {
  supersededBy?: string | undefined;
  withdrawnBy?: string | undefined;
  withdrawal?: { reason?: string | undefined; at?: string | undefined };
  successor?: { at?: string | undefined };
}): Standing {
  if (links.withdrawnBy) {
    const out: Standing = { state: 'withdrawn', by: links.withdrawnBy };
    if (links.withdrawal?.reason) out.reason = links.withdrawal.reason;
    if (links.withdrawal?.at) out.at = links.withdrawal.at;
    return out;
  }
  if (links.supersededBy) {
    const out: Standing = { state: 'superseded', by: links.supersededBy };
    if (links.successor?.at) out.at = links.successor.at;
    return out;
  }
  return { state: 'standing' };
}

/**
 * The verdict over every record of a digest once the checks are done: a failed check wins; then,
 * when no record still stands, withdrawn (if any is) or superseded; else verified.
 */
export function standingVerdict(
  checksOk: boolean,
  standings: Standing[],
): 'verified' | 'failed' | 'withdrawn' | 'superseded' {
  if (!checksOk) return 'failed';
  if (standings.length === 0 || standings.some((s) => s.state === 'standing')) return 'verified';
  return standings.some((s) => s.state === 'withdrawn') ? 'withdrawn' : 'superseded';
}

function ledgerWords(l: LedgerAssurance): string {
  switch (l.level) {
    case 'none':
      return 'not on a ledger yet';
    case 'embedded':
      return "the gateway's embedded single-node ledger (one operator, no endorsement)";
    case 'fabric':
      return `Fabric${l.channel ? ` channel ${l.channel}` : ''}, endorsed by ${l.endorsers.length > 0 ? l.endorsers.join(', ') : 'no named organisation'}`;
  }
}

function anchorWords(a: AnchorAssurance): string {
  switch (a.level) {
    case 'none':
      return 'not anchored (the operator does not anchor)';
    case 'pending':
      return 'not anchored yet';
    case 'unconfirmed':
      return `an anchor on ${a.chainId} at block ${a.block} that was not confirmed`;
    case 'anchored':
      return `anchored on ${a.chainId} at block ${a.block}`;
  }
}

function timeWords(t: TimeAssurance): string {
  switch (t.level) {
    case 'gateway-clock':
      return "time from the gateway's clock";
    case 'operator-tsa':
      return "time from a TSA certified by the gateway's own root";
    case 'outside-tsa':
      return `time from an outside TSA (${t.name})`;
  }
}

function witnessWords(w: WitnessAssurance): string {
  if (w.level === 'none') return 'no witnesses';
  const names = w.cosigned
    .map(
      (c) =>
        `${c.displayName ?? c.name} at ${c.at}${c.size === undefined ? '' : ` (cosigned at size ${c.size}, consistent with the record's checkpoint)`}`,
    )
    .join(', ');
  const count = `${w.cosigned.length} of ${w.of} witnesses cosigned (quorum ${w.quorum})`;
  return `${count}${names ? `: ${names}` : ''}${w.level === 'below-quorum' ? ', below the quorum' : ''}`;
}

/** One English line: the CLI's summary, and the words docs/assurance.md tabulates. */
export function assuranceSummary(a: Assurance): string {
  return [ledgerWords(a.ledger), anchorWords(a.anchoring), timeWords(a.time), witnessWords(a.witnesses)].join(
    '; ',
  );
}
