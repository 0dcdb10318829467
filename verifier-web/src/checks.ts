// Re-does every check of a proof bundle in the browser with proof's verifyBundle, then turns each
// step into one plain sentence. The ledger step asks the gateway for the transaction the bundle
// names (an honest gateway and a lying one answer differently only if the ledger is separate, so
// the sentence says when it is the embedded single-node ledger). The anchor is read from the chain
// itself when the reader gives the page an EVM JSON-RPC endpoint of their own (`?rpc=` or the
// advanced settings; chain-rpc.ts), with proof's readAnchorFromChain; otherwise through the
// gateway's read-only proxy (/v1/anchor/tx/{txHash}), and then the step says it is the weaker
// check, read through the operator's proxy, and how to repeat it: never a silent pass. A node that
// cannot be read leaves the step unchecked (no fall-back to the proxy). The anchor step is pinned
// to the anchoring identity /v1/keys publishes (chain, contract, anchoring address): an anchor of
// the right checkpoint sent by anyone else fails, and without an identity the step says "not
// pinned" instead of passing.

import {
  type AnchorInfo,
  AnchorReadError,
  type AnchorRef,
  type Assurance,
  deriveAssurance,
  type LedgerRef,
  type LedgerTxInfo,
  type ProofBundle,
  readAnchorFromChain,
  type Standing,
  type StepResult,
  standingVerdict,
  VERIFY_STEPS,
  type VerifyStepName,
  verifyBundle,
} from '@lianzheng/proof';
import { type Api, ApiError, type KeysAnswer } from './api.ts';
import { jsonRpcOverFetch, rpcHost } from './chain-rpc.ts';
import { hasMessage as isKey, t } from './i18n.ts';

/** The steps in the order the checklist shows them: proof/'s own order. */
export const STEP_ORDER = VERIFY_STEPS;
export type StepName = VerifyStepName;

export interface CheckRun {
  ok: boolean;
  steps: StepResult[];
  /** Set when verifyBundle itself could not run (bad bundle shape, keys missing, …). */
  errorCode?: string;
  /**
   * Where the anchor step read the chain: the reader's own node (`node`, with its address) or the
   * operator's proxy (`proxy`): a pass through the proxy is the weaker check, and says so.
   */
  anchorRead?: { via: 'node'; rpcUrl: string } | { via: 'proxy' };
}

export interface CheckContext {
  api: Pick<Api, 'ledgerTx' | 'anchorTx'>;
  keys: KeysAnswer;
  /** The reader's own EVM JSON-RPC endpoint: the anchor is read from it, not through the proxy. */
  rpcUrl?: string;
  /** How long one JSON-RPC call to that endpoint may take. */
  rpcTimeoutMs?: number;
  /** Defaults to the global fetch (a test may pass another). */
  fetch?: typeof fetch;
  /** The SM3 of the reader's file, checked against the record's `digests.sm3` when it has one. */
  sm3?: string;
}

export async function runChecks(bundle: ProofBundle, sha256: string, ctx: CheckContext): Promise<CheckRun> {
  const anchorRead: CheckRun['anchorRead'] = ctx.rpcUrl
    ? { via: 'node', rpcUrl: ctx.rpcUrl }
    : { via: 'proxy' };
  const fromNode = ctx.rpcUrl
    ? jsonRpcOverFetch(ctx.rpcUrl, ctx.rpcTimeoutMs ?? 15_000, ctx.fetch ?? globalThis.fetch.bind(globalThis))
    : undefined;
  try {
    const result = await verifyBundle(bundle, {
      sha256,
      // Only when the record carries an SM3: a record without one has nothing to compare it with.
      ...(ctx.sm3 && bundle.record.digests.sm3 ? { sm3: ctx.sm3 } : {}),
      keys: {
        jwks: ctx.keys.jwks as never,
        checkpointKeys: ctx.keys.checkpointKeys,
        tsaRoots: ctx.keys.tsaRoots,
        ...(ctx.keys.anchor ? { anchor: ctx.keys.anchor } : {}),
        ...(ctx.keys.witnesses?.length
          ? {
              witnesses: ctx.keys.witnesses.map((w) => w.vkey),
              ...(ctx.keys.witnessQuorum ? { witnessQuorum: ctx.keys.witnessQuorum } : {}),
            }
          : {}),
      },
      getLedgerTx: async (ref: LedgerRef): Promise<LedgerTxInfo> => {
        try {
          return await ctx.api.ledgerTx(ref.txId);
        } catch (e) {
          // An unknown transaction is a proof that does not match the ledger, not a lookup error.
          if (e instanceof ApiError && e.code === 'NOT_FOUND')
            return { valid: false, block: -1, size: -1, root: '' };
          throw e;
        }
      },
      // The reader's own node when they gave one (the chain id, contract, sender, event, kept root
      // and confirmations all read here, in the browser); else the gateway's read-only proxy, and
      // the sentence says so.
      getAnchor: async (ref: AnchorRef): Promise<AnchorInfo> => {
        if (fromNode) {
          try {
            return await readAnchorFromChain(fromNode, ref);
          } catch (e) {
            // The node holds the transaction, and it is no anchor of that contract (or it failed):
            // the bundle claims an anchor the chain does not hold, as the proxy's 404 says.
            if (e instanceof AnchorReadError && NOT_AN_ANCHOR.has(e.code))
              return { size: -1, root: '', block: -1 };
            throw e;
          }
        }
        try {
          return await ctx.api.anchorTx(ref.txHash, ref.contract);
        } catch (e) {
          // No anchor in that transaction: the bundle claims an anchor the chain does not hold.
          if (e instanceof ApiError && e.code === 'NOT_FOUND') return { size: -1, root: '', block: -1 };
          throw e;
        }
      },
    });
    return { ok: result.ok, steps: sortSteps(result.steps), anchorRead };
  } catch (e) {
    const code =
      typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'VERIFY_ERROR';
    return { ok: false, steps: [], errorCode: code, anchorRead };
  }
}

/** What the reader's node says about a transaction that is no anchor at all. */
const NOT_AN_ANCHOR: ReadonlySet<string> = new Set(['ANCHOR_EVENT_MISSING', 'ANCHOR_TX_FAILED']);

function sortSteps(steps: StepResult[]): StepResult[] {
  const rank = (s: StepResult) => {
    const i = STEP_ORDER.indexOf(s.step as StepName);
    return i < 0 ? STEP_ORDER.length : i;
  };
  return [...steps].sort((a, b) => rank(a) - rank(b));
}

export type Verdict = 'ok' | 'pending' | 'fail' | 'unchecked' | 'withdrawn' | 'superseded';

/** Failures that say "could not ask", not "the answer was wrong". */
const LOOKUP_FAILURES = new Set(['LEDGER_LOOKUP_FAILED', 'ANCHOR_LOOKUP_FAILED']);

/**
 * The banner's verdict over all records: any real failure is a failure; a look-up that could not
 * be made leaves the result unchecked; a step not done yet (not recorded) is pending.
 */
export function verdictOf(runs: CheckRun[]): Verdict {
  const failures: string[] = runs.flatMap((r) =>
    r.errorCode ? [r.errorCode] : r.steps.filter((s) => s.status === 'fail').map((s) => s.code ?? ''),
  );
  if (failures.some((code) => !LOOKUP_FAILURES.has(code))) return 'fail';
  if (failures.length > 0) return 'unchecked';
  // Not in the log or not on the ledger yet: the record will get there within seconds. Undisclosed
  // details, no anchor and no time-stamp are normal states, not pending ones.
  if (runs.some((r) => r.steps.some((s) => s.status === 'skipped' && PENDING_STEPS.has(s.step))))
    return 'pending';
  return 'ok';
}

const PENDING_STEPS: ReadonlySet<string> = new Set(['inclusion', 'checkpoint', 'ledger']);

/**
 * The page's verdict: the checks' first, then the records' standing. A genuine record that was
 * withdrawn or superseded gets a verdict of its own, never the plain "verified" one (proof's
 * standingVerdict: the same rule as the CLI's exit codes).
 */
export function pageVerdict(runs: CheckRun[], standings: Standing[]): Verdict {
  const checks = verdictOf(runs);
  if (checks === 'fail' || checks === 'unchecked') return checks;
  const standing = standingVerdict(true, standings);
  if (standing === 'withdrawn' || standing === 'superseded') return standing;
  return checks;
}

/**
 * What a record's evidence is worth, from the steps that passed in this browser (proof's
 * deriveAssurance): before the checks are done, what the bundle claims.
 */
export function assuranceOf(
  bundle: ProofBundle,
  keys: KeysAnswer | undefined,
  run: CheckRun | null,
): PageAssurance {
  const k = {
    tsaRoots: keys?.tsaRoots ?? [],
    ...(keys?.operatorRoots ? { operatorRoots: keys.operatorRoots } : {}),
    ...(keys?.anchor ? { anchor: keys.anchor } : {}),
    ...(keys?.witnesses?.length
      ? { witnesses: keys.witnesses, ...(keys.witnessQuorum ? { witnessQuorum: keys.witnessQuorum } : {}) }
      : {}),
  };
  const assurance = deriveAssurance(bundle, k, run && !run.errorCode ? run.steps : []);
  // An anchor this page confirmed only through the operator's proxy says so wherever it is named.
  const viaProxy = assurance.anchoring.level === 'anchored' && run?.anchorRead?.via === 'proxy';
  return viaProxy ? { ...assurance, anchorReadViaProxy: true } : assurance;
}

/** proof's Assurance, and whether the page read the anchor through the operator's proxy. */
export type PageAssurance = Assurance & { anchorReadViaProxy?: true };

export function firstFailure(run: CheckRun): StepResult | undefined {
  return run.steps.find((s) => s.status === 'fail');
}

/** The anchor step's codes that have a sentence of their own. */
const ANCHOR_SENTENCES: Record<string, string> = {
  ANCHOR_NOT_PINNED: 'check.anchor.notPinned',
  ANCHOR_FOREIGN_SENDER: 'check.anchor.foreignSender',
  ANCHOR_FOREIGN_CONTRACT: 'check.anchor.foreignContract',
  ANCHOR_FOREIGN_CHAIN: 'check.anchor.foreignChain',
  ANCHOR_NOT_CONFIRMED: 'check.anchor.notConfirmed',
};

/** The certificate's line naming who anchors and where, as /v1/keys publishes it. */
export function anchorIdentityWords(keys: KeysAnswer | undefined): string {
  const id = keys?.anchor;
  if (!id) return t('cert.anchorIdentityNone');
  return t('cert.anchorIdentityValue', {
    chain: chainName(id.chainId),
    contract: id.contract,
    anchorer: id.anchorer,
  });
}

export interface StepSentence {
  step: string;
  name: string;
  status: 'pass' | 'fail' | 'skipped';
  statusWord: string;
  sentence: string;
  code?: string;
  /** The anchor step: whether the chain was read from the reader's own node or the operator's proxy. */
  read?: 'node' | 'proxy';
}

export function chainName(caip2: string): string {
  const known: Record<string, string> = {
    'eip155:1': 'Ethereum',
    'eip155:11155111': 'Ethereum Sepolia',
    'eip155:31337': 'local EVM (dev)',
    'eip155:1337': 'local EVM (dev)',
  };
  return known[caip2] ?? caip2;
}

function short(hex: string, n = 10): string {
  return hex.length > 2 * n + 1 ? `${hex.slice(0, n)}…${hex.slice(-6)}` : hex;
}

/** The JSON of a receipt's JWS header (0) or payload (1); undefined if unreadable. */
function jwsPart(receipt: string, part: 0 | 1): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(atob(receipt.split('.')[part]!.replace(/-/g, '+').replace(/_/g, '/')));
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A group receipt's number of records (one signature for all), if it is one. */
function groupSize(receipt: string): number | undefined {
  if (!receipt.includes('~')) return undefined;
  const size = jwsPart(receipt, 1)?.size;
  return typeof size === 'number' ? size : undefined;
}

/** The kid of the key that signed a receipt (its JWS header), if it names one. */
export function receiptKeyId(jws: string): string | undefined {
  const kid = jwsPart(jws, 0)?.kid;
  return typeof kid === 'string' ? kid : undefined;
}

function receiptKid(jws: string): string {
  const kid = jwsPart(jws, 0)?.kid;
  return typeof kid === 'string' ? short(kid, 12) : '?';
}

export function ledgerWords(bundle: ProofBundle): string {
  const net = bundle.ledger?.network;
  if (net === 'embedded') return t('check.ledger.embedded');
  if (net !== 'fabric') return String(net ?? '');
  // The organisations whose peers endorsed the transaction, by MSP id, as the ledger names them.
  const endorsers = bundle.ledger?.endorsers ?? [];
  return endorsers.length > 0
    ? t('check.ledger.fabricEndorsed', { endorsers: endorsers.join(t('list.separator')) })
    : t('check.ledger.fabric');
}

/** One sentence per step, with the values from the bundle the step vouched for. */
export function describeStep(
  step: StepResult,
  bundle: ProofBundle,
  mode: 'file' | 'certificate',
  assurance?: Assurance,
  anchorRead?: CheckRun['anchorRead'],
): StepSentence {
  const name = stepName(step.step);
  const status = step.status;
  let key = `check.${step.step}.${status}`;
  const params: Record<string, string | number> = {};
  switch (step.step) {
    case 'digest':
      if (status === 'pass' && mode === 'certificate') key = 'check.digest.passCert';
      break;
    case 'inclusion':
    case 'checkpoint':
      if (bundle.inclusion) {
        params.index = bundle.inclusion.index;
        params.position = bundle.inclusion.index + 1;
        params.size = bundle.inclusion.size;
      }
      break;
    case 'receipt': {
      params.kid = receiptKid(bundle.receipt);
      const size = groupSize(bundle.receipt);
      if (status === 'pass' && size !== undefined) {
        key = 'check.receipt.passGroup';
        params.size = size;
      }
      break;
    }
    case 'ledger':
      if (bundle.ledger) {
        // The certificate states the ledger's nature once, in its assurance: the step names it.
        params.network =
          mode === 'certificate' && bundle.ledger.network === 'embedded'
            ? t('cert.ledgerEmbedded')
            : ledgerWords(bundle);
        params.channel = bundle.ledger.channel
          ? t('check.ledger.channel', { channel: bundle.ledger.channel })
          : '';
        params.block = bundle.ledger.block;
        params.txId = short(bundle.ledger.txId, 16);
      }
      break;
    case 'anchor':
      if (bundle.anchor) {
        params.chain = chainName(bundle.anchor.chainId);
        params.tx = short(bundle.anchor.txHash, 12);
        params.block = bundle.anchor.block;
        params.contract = short(bundle.anchor.contract, 8);
        if (status === 'skipped') key = ANCHOR_SENTENCES[step.code ?? ''] ?? 'check.anchor.recorded';
        if (status === 'fail') key = ANCHOR_SENTENCES[step.code ?? ''] ?? key;
        // Who read the chain decides what a pass is worth: the reader's own node, or the operator's
        // proxy (the weaker check, with how to repeat it).
        if (anchorRead?.via === 'node') {
          params.node = rpcHost(anchorRead.rpcUrl);
          // Why the node could not be read (its own words are a stable code and a short detail).
          params.reason = (step.detail ?? '').slice(0, 160);
          if (status === 'pass')
            key = mode === 'certificate' ? 'check.anchor.passNodeCert' : 'check.anchor.passNode';
          if (status === 'fail' && step.code === 'ANCHOR_LOOKUP_FAILED')
            key = 'check.anchor.lookupFailedNode';
        } else if (status === 'pass') {
          // The printed certificate keeps it short (one A4 page): no pointer to the settings below.
          key = mode === 'certificate' ? 'check.anchor.passProxyCert' : 'check.anchor.passProxy';
        }
      }
      break;
    case 'timestamp':
      if (status === 'skipped' && bundle.timestamp) key = 'check.timestamp.present';
      // A valid token says no more than the TSA that signed it: the gateway's own, or another.
      if (status === 'pass' && assurance?.time.level === 'operator-tsa') key = 'check.timestamp.passOperator';
      if (status === 'pass' && assurance?.time.level === 'outside-tsa') {
        key = 'check.timestamp.passOutside';
        params.name = assurance.time.name;
      }
      break;
    case 'witnesses':
      // Who cosigned is named in the assurance above; here only the count against the quorum.
      if (status === 'skipped')
        key = step.code === 'NO_WITNESSES' ? 'check.witnesses.none' : 'check.witnesses.below';
      if (assurance && assurance.witnesses.level !== 'none') {
        params.count = assurance.witnesses.cosigned.length;
        params.of = assurance.witnesses.of;
        params.quorum = assurance.witnesses.quorum;
        // Witnesses that cosigned a later checkpoint (bundle.witnessed) are named as such.
        const later = assurance.witnesses.cosigned.filter((c) => c.size !== undefined);
        if (later.length > 0 && (status === 'pass' || step.code === 'WITNESS_QUORUM_NOT_MET')) {
          params.later = later.length;
          params.size = later[0]!.size!;
          key = status === 'pass' ? 'check.witnesses.passLater' : 'check.witnesses.belowLater';
        }
      }
      if (status === 'fail' && step.code?.startsWith('WITNESSED_')) key = 'check.witnesses.laterFail';
      break;
  }
  if (step.status === 'fail' && step.code === 'LEDGER_LOOKUP_FAILED') key = 'check.ledger.lookupFailed';
  if (step.status === 'fail' && step.code === 'ANCHOR_LOOKUP_FAILED' && anchorRead?.via !== 'node')
    key = 'check.anchor.lookupFailed';
  const sentence = isKey(key) ? t(key, params) : t('check.error', { code: step.code ?? step.status });
  const statusWord =
    status === 'skipped' && step.code === 'NO_DETAILS'
      ? t('stepStatus.notPublic')
      : // The certificate (one printed A4 page) says where the anchor was read in its sentence and
        // its colour; the result page also in the status word.
        step.step === 'anchor' && status === 'pass' && mode === 'file'
        ? t(anchorRead?.via === 'node' ? 'stepStatus.passNode' : 'stepStatus.passProxy')
        : t(`stepStatus.${status}`);
  const read = step.step === 'anchor' && bundle.anchor ? (anchorRead?.via ?? 'proxy') : undefined;
  return { step: step.step, name, status, statusWord, sentence, code: step.code, ...(read ? { read } : {}) };
}

export function stepName(step: string): string {
  const key = `step.${step}`;
  return isKey(key) ? t(key) : step;
}
