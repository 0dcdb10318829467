import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateInfo } from '../timestamp/certificate-info.ts';
import tokens from '../timestamp/fixtures/tokens.json' with { type: 'json' };
import {
  assuranceSummary,
  deriveAssurance,
  standingOf,
  standingVerdict,
  VERDICT_EXIT_CODES,
} from './assurance.ts';
import type { AnchorIdentity, ProofBundle, StepResult } from './bundle.ts';

const LOCAL_ROOT = tokens.lianzheng.root;
const OUTSIDE_ROOT = tokens.openssl.root;
const fingerprint = (pem: string) =>
  createHash('sha256')
    .update(Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ''), 'base64'))
    .digest('hex');

const ANCHOR_ID: AnchorIdentity = {
  chainId: 'eip155:31337',
  contract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
  anchorer: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
};

function bundle(extra: Partial<ProofBundle> = {}): ProofBundle {
  return {
    version: 'lianzheng-bundle/1',
    record: {} as ProofBundle['record'],
    receipt: 'x',
    ledger: { network: 'embedded', txId: 't', block: 1, size: 1, root: '0'.repeat(64) },
    ...extra,
  };
}

const anchor = {
  chainId: 'eip155:31337',
  contract: ANCHOR_ID.contract,
  txHash: `0x${'ab'.repeat(32)}`,
  block: 42,
  size: 1,
  root: '0'.repeat(64),
  consistency: [],
};
const steps = (over: Record<string, StepResult['status']>): StepResult[] =>
  ['anchor', 'timestamp'].map((step) => ({ step: step as StepResult['step'], status: over[step] ?? 'pass' }));

describe('certificateInfo', () => {
  it('names a root by its subject CN and fingerprints its DER', () => {
    const [local] = certificateInfo(LOCAL_ROOT);
    expect(local).toEqual({ sha256: fingerprint(LOCAL_ROOT), name: 'LianZheng Local Root CA' });
    expect(certificateInfo(OUTSIDE_ROOT)[0]?.name).toBe('OpenSSL Test Root');
    expect(certificateInfo('not a pem')).toEqual([]);
  });
});

describe('deriveAssurance', () => {
  it('the embedded ledger, no anchoring, the gateway clock: nothing is "on chain"', () => {
    const a = deriveAssurance(bundle(), {});
    expect(a).toEqual({
      ledger: { level: 'embedded' },
      anchoring: { level: 'none' },
      time: { level: 'gateway-clock' },
      witnesses: { level: 'none' },
      onChain: false,
    });
    expect(assuranceSummary(a)).toBe(
      "the gateway's embedded single-node ledger (one operator, no endorsement); not anchored (the operator does not anchor); time from the gateway's clock; no witnesses",
    );
  });

  it("a TSA certified by the gateway's own root is the gateway's clock again, named as such", () => {
    const b = bundle({ timestamp: { token: 'AA==' } });
    const keys = { tsaRoots: [LOCAL_ROOT], operatorRoots: [fingerprint(LOCAL_ROOT)] };
    expect(deriveAssurance(b, keys).time).toEqual({ level: 'operator-tsa', name: 'LianZheng Local Root CA' });
    // An older gateway that does not say which roots are its own: not taken for an outside TSA.
    expect(deriveAssurance(b, { tsaRoots: [OUTSIDE_ROOT] }).time.level).toBe('operator-tsa');
    // An outside TSA is named by its root.
    expect(
      deriveAssurance(b, { tsaRoots: [OUTSIDE_ROOT], operatorRoots: [fingerprint(LOCAL_ROOT)] }).time,
    ).toEqual({ level: 'outside-tsa', name: 'OpenSSL Test Root', root: fingerprint(OUTSIDE_ROOT) });
    // No roots published, or the step did not pass: the clock.
    expect(deriveAssurance(b, {}).time.level).toBe('gateway-clock');
    expect(deriveAssurance(b, keys, steps({ timestamp: 'skipped' })).time.level).toBe('gateway-clock');
    expect(deriveAssurance(b, keys, steps({})).time.level).toBe('operator-tsa');
  });

  it('Fabric names its endorsers and is on chain', () => {
    const a = deriveAssurance(
      bundle({
        ledger: {
          network: 'fabric',
          channel: 'evidence',
          txId: 't',
          block: 3,
          size: 1,
          root: '0'.repeat(64),
          endorsers: ['CountyMSP', 'FinanceMSP'],
        },
      }),
      {},
    );
    expect(a.ledger).toEqual({
      level: 'fabric',
      endorsers: ['CountyMSP', 'FinanceMSP'],
      channel: 'evidence',
    });
    expect(a.onChain).toBe(true);
    expect(assuranceSummary(a)).toContain('Fabric channel evidence, endorsed by CountyMSP, FinanceMSP');
  });

  it('anchoring: none, pending, anchored, and unconfirmed when the check did not pass', () => {
    expect(deriveAssurance(bundle(), { anchor: ANCHOR_ID }).anchoring).toEqual({ level: 'pending' });
    const anchored = deriveAssurance(bundle({ anchor }), { anchor: ANCHOR_ID });
    expect(anchored.anchoring).toEqual({
      level: 'anchored',
      chainId: 'eip155:31337',
      block: 42,
      txHash: anchor.txHash,
      contract: anchor.contract,
    });
    expect(anchored.onChain).toBe(true);
    const unpinned = deriveAssurance(bundle({ anchor }), {}, steps({ anchor: 'skipped' }));
    expect(unpinned.anchoring.level).toBe('unconfirmed');
    expect(unpinned.onChain).toBe(false);
    expect(deriveAssurance(bundle({ ledger: undefined }), {}).ledger).toEqual({ level: 'none' });
  });
});

describe('standing', () => {
  it('withdrawn comes before superseded, and a plain record stands', () => {
    expect(standingOf({})).toEqual({ state: 'standing' });
    expect(standingOf({ supersededBy: 'b', successor: { at: '2025-03-03T02:00:00.000Z' } })).toEqual({
      state: 'superseded',
      by: 'b',
      at: '2025-03-03T02:00:00.000Z',
    });
    expect(
      standingOf({ withdrawnBy: 'w', withdrawal: { reason: '公示有误', at: '2025-04-01T00:00:00.000Z' } }),
    ).toEqual({ state: 'withdrawn', by: 'w', reason: '公示有误', at: '2025-04-01T00:00:00.000Z' });
  });

  it('the verdict: a failed check wins; a record that still stands keeps the digest verified', () => {
    const w = { state: 'withdrawn', by: 'w' } as const;
    const s = { state: 'superseded', by: 's' } as const;
    const ok = { state: 'standing' } as const;
    expect(standingVerdict(false, [w])).toBe('failed');
    expect(standingVerdict(true, [w])).toBe('withdrawn');
    expect(standingVerdict(true, [s])).toBe('superseded');
    expect(standingVerdict(true, [s, w])).toBe('withdrawn');
    expect(standingVerdict(true, [s, ok])).toBe('verified');
    expect(VERDICT_EXIT_CODES).toEqual({ verified: 0, failed: 1, withdrawn: 5, superseded: 6 });
  });
});
