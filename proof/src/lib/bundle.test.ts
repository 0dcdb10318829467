import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Fixture,
  type LogFixture,
  makeBundle,
  makeFixture,
  makeGroupReceipts,
  makeLog,
} from './_fixtures.ts';
import {
  type AnchorIdentity,
  type AnchorInfo,
  type BundleVerification,
  type LedgerTxInfo,
  type ProofBundle,
  VERIFY_STEPS,
  type VerifyBundleOptions,
  verifyBundle,
} from './bundle.ts';
import {
  deriveNotePublicKey,
  formatCheckpoint,
  noteVerifierKey,
  parseCheckpoint,
  signCheckpoint,
} from './checkpoint.ts';
import { sha256 } from './digest.ts';
import { toHex } from './encoding.ts';
import { decodeReceipt, RECEIPT_SM2_ALG, RECEIPT_TYPE, signSm2Jws } from './receipt.ts';
import { recordLeafHash } from './record.ts';
import { sm2PublicKey, sm2RandomPrivateKey } from './sm2.ts';

let fx: Fixture;
let log: LogFixture;
let good: ProofBundle; // record 5, proved at size 12, anchored at 20
const I = 5;

beforeAll(async () => {
  fx = await makeFixture();
  log = makeLog(20);
  good = await makeBundle(fx, log, I, 12, 20);
});

const clone = (b: ProofBundle): ProofBundle => structuredClone(b);
const ledgerOk = (b: ProofBundle) => async (): Promise<LedgerTxInfo> => ({
  valid: true,
  block: b.ledger!.block,
  size: b.ledger!.size,
  root: b.ledger!.root,
});
// The operator's anchoring identity as /v1/keys publishes it, and a chain look-up that reads the
// bundle's anchor as sent by it (the shapes of gateway/src/anchor/rpc-anchor-fetcher.ts).
const ANCHORER = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const PIN: AnchorIdentity = {
  chainId: 'eip155:31337',
  contract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
  anchorer: ANCHORER,
  origin: 'lianzheng.test/log',
  originHash: `0x${'0e'.repeat(32)}`,
  confirmations: 3,
  retired: [],
};
const anchorOk = (b: ProofBundle) => async (): Promise<AnchorInfo> => ({
  size: b.anchor!.size,
  root: b.anchor!.root,
  block: b.anchor!.block,
  chainId: b.anchor!.chainId,
  contract: b.anchor!.contract.toLowerCase(),
  from: ANCHORER,
  anchorer: ANCHORER,
  originHash: PIN.originHash!,
  confirmations: 3,
  storedRoot: b.anchor!.root,
});

function options(extra: Partial<VerifyBundleOptions> = {}): VerifyBundleOptions {
  return {
    sha256: log.records[I]!.digests.sha256,
    keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys, anchor: PIN },
    ...extra,
  };
}

function step(result: BundleVerification, name: string) {
  return result.steps.find((s) => s.step === name)!;
}
function summary(result: BundleVerification): Record<string, string> {
  return Object.fromEntries(
    result.steps.map((s) => [s.step, s.code === undefined ? s.status : `${s.status}:${s.code}`]),
  );
}
function firstFailure(result: BundleVerification): string | undefined {
  const f = result.steps.find((s) => s.status === 'fail');
  return f === undefined ? undefined : `${f.step}:${f.code}`;
}

describe('verifyBundle: a good bundle', () => {
  it('passes every step when every look-up is given', async () => {
    const b = clone(good);
    b.timestamp = { token: 'dG9rZW4=' };
    let seenRoot: Uint8Array | undefined;
    const result = await verifyBundle(b, {
      ...options({ getLedgerTx: ledgerOk(b), getAnchor: anchorOk(b) }),
      verifyTimestamp: async (_token, rootHash) => {
        seenRoot = rootHash;
        return { step: 'timestamp', status: 'pass', detail: 'TSA ok' };
      },
    });
    expect(summary(result)).toEqual({
      digest: 'pass',
      details: 'pass',
      leaf: 'pass',
      inclusion: 'pass',
      checkpoint: 'pass',
      receipt: 'pass',
      ledger: 'pass',
      anchor: 'pass',
      timestamp: 'pass',
      // No witness keys given here; witnesses.test.ts passes this step.
      witnesses: 'skipped:NO_WITNESSES',
    });
    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => s.step)).toEqual(VERIFY_STEPS);
    expect(toHex(seenRoot!)).toBe(toHex(parseCheckpoint(b.inclusion!.checkpoint).rootHash));
    expect(step(result, 'leaf').detail).toBe(toHex(recordLeafHash(log.records[I]!)));
  });

  it('passes with a group receipt (one signature over the records accepted together)', async () => {
    const b = clone(good);
    b.receipt = (await makeGroupReceipts(fx, log.records.slice(0, 9)))[I]!;
    expect(b.receipt).toContain('~');
    const result = await verifyBundle(b, options({ getLedgerTx: ledgerOk(b), getAnchor: anchorOk(b) }));
    expect(step(result, 'receipt').status).toBe('pass');
    expect(result.ok).toBe(true);
  });

  it('is ok offline, with the network steps skipped and coded', async () => {
    const result = await verifyBundle(good, options());
    expect(result.ok).toBe(true);
    expect(summary(result)).toMatchObject({
      ledger: 'skipped:NO_LEDGER_LOOKUP',
      anchor: 'skipped:NO_ANCHOR_LOOKUP',
      timestamp: 'skipped:NO_TIMESTAMP',
    });
  });

  it('takes the document as bytes, as a digest in bytes, or as upper-case hex', async () => {
    for (const extra of [
      { sha256: undefined, bytes: log.documents[I]! },
      { sha256: sha256(log.documents[I]!) },
      { sha256: log.records[I]!.digests.sha256.toUpperCase() },
    ]) {
      expect(step(await verifyBundle(good, options(extra)), 'digest').status).toBe('pass');
    }
  });

  it('round-trips through JSON', async () => {
    expect((await verifyBundle(JSON.parse(JSON.stringify(good)), options())).ok).toBe(true);
  });

  it('verifies bundles for every leaf and proof size of a small log, anchored at any later size', async () => {
    for (const [i, size, anchorSize] of [
      [0, 1, 1],
      [0, 1, 20],
      [19, 20, 20],
      [7, 8, 13],
      [12, 13, 16],
    ] as const) {
      const b = await makeBundle(fx, log, i, size, anchorSize);
      const r = await verifyBundle(b, {
        sha256: log.records[i]!.digests.sha256,
        keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys, anchor: PIN },
        getLedgerTx: ledgerOk(b),
        getAnchor: anchorOk(b),
      });
      expect(summary(r)).toMatchObject({
        inclusion: 'pass',
        checkpoint: 'pass',
        ledger: 'pass',
        anchor: 'pass',
      });
      expect(r.ok).toBe(true);
    }
  });
});

describe('verifyBundle: what is missing is skipped, never passed', () => {
  it('without a document, digest is skipped and the bundle is not ok', async () => {
    const r = await verifyBundle(good, options({ sha256: undefined }));
    expect(step(r, 'digest')).toMatchObject({ status: 'skipped', code: 'NO_DOCUMENT' });
    expect(r.ok).toBe(false);
  });

  it('without details, details is skipped and the bundle can still be ok', async () => {
    const b = clone(good);
    delete b.details;
    const r = await verifyBundle(b, options());
    expect(step(r, 'details')).toMatchObject({ status: 'skipped', code: 'NO_DETAILS' });
    expect(r.ok).toBe(true);
  });

  it('an accepted record not yet in the log is not ok, with the log steps skipped', async () => {
    const b = clone(good);
    delete b.inclusion;
    delete b.ledger;
    delete b.anchor;
    const r = await verifyBundle(b, options({ getLedgerTx: ledgerOk(good), getAnchor: anchorOk(good) }));
    expect(summary(r)).toMatchObject({
      digest: 'pass',
      leaf: 'pass',
      receipt: 'pass',
      inclusion: 'skipped:NOT_RECORDED',
      checkpoint: 'skipped:NOT_RECORDED',
      ledger: 'skipped:NO_LEDGER_REF',
      anchor: 'skipped:NO_ANCHOR_REF',
    });
    expect(r.ok).toBe(false);
  });

  it('a time-stamp with no trusted TSA root is skipped with NO_TSA_ROOTS', async () => {
    const b = clone(good);
    b.timestamp = { token: 'dG9rZW4=' };
    expect(step(await verifyBundle(b, options()), 'timestamp')).toMatchObject({
      status: 'skipped',
      code: 'NO_TSA_ROOTS',
    });
  });

  it('a time-stamp that is not a token fails with the built-in RFC 3161 check when roots are given', async () => {
    const b = clone(good);
    b.timestamp = { token: 'dG9rZW4=' };
    const opts = options();
    const result = await verifyBundle(b, {
      ...opts,
      keys: { ...opts.keys, tsaRoots: ['-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----'] },
    });
    expect(step(result, 'timestamp')?.status).toBe('fail');
    expect(result.ok).toBe(false);
  });
});

type Tamper = [name: string, change: (b: ProofBundle) => void | Promise<void>, expected: string];

describe('verifyBundle: tampered bundles fail at the right step with the right code', () => {
  const tampers: Tamper[] = [
    [
      'the record claims another document',
      (b) => {
        b.record.digests.sha256 = toHex(sha256(new Uint8Array([9])));
      },
      'digest:DIGEST_MISMATCH',
    ],
    [
      'details changed',
      (b) => {
        b.details!.amount = '999999999';
      },
      'details:DETAILS_MISMATCH',
    ],
    [
      'details with a number',
      (b) => {
        (b.details as unknown as Record<string, unknown>).amount = 1.5;
      },
      'details:NOT_CANONICALISABLE',
    ],
    [
      'record kind changed',
      (b) => {
        b.record.kind = 'payment_approval';
      },
      'inclusion:BAD_PROOF',
    ],
    [
      'record submitter changed',
      (b) => {
        b.record.submitter.org = 'someone-else';
      },
      'inclusion:BAD_PROOF',
    ],
    [
      'record with an unknown field',
      (b) => {
        (b.record as unknown as Record<string, unknown>).extra = 1;
      },
      'leaf:BAD_RECORD',
    ],
    [
      'record with a wrong CID',
      (b) => {
        b.record.cid = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku';
      },
      'leaf:BAD_RECORD',
    ],
    [
      'record with an unknown kind',
      (b) => {
        (b.record as unknown as Record<string, unknown>).kind = 'poem';
      },
      'leaf:BAD_RECORD',
    ],
    [
      'record missing',
      (b) => {
        delete (b as Partial<ProofBundle>).record;
      },
      'digest:BAD_RECORD',
    ],
    [
      'a flipped path hash',
      (b) => {
        b.inclusion!.path[1] = flipHex(b.inclusion!.path[1]!);
      },
      'inclusion:BAD_PROOF',
    ],
    [
      'a shorter path',
      (b) => {
        b.inclusion!.path.pop();
      },
      'inclusion:BAD_PROOF',
    ],
    [
      'another index',
      (b) => {
        b.inclusion!.index = I + 1;
      },
      'inclusion:BAD_PROOF',
    ],
    [
      'an index out of range',
      (b) => {
        b.inclusion!.index = 12;
      },
      'inclusion:INDEX_OUT_OF_RANGE',
    ],
    [
      'another size',
      (b) => {
        b.inclusion!.size = 13;
      },
      'inclusion:SIZE_MISMATCH',
    ],
    [
      'a path that is not hex',
      (b) => {
        b.inclusion!.path[0] = 'xyz';
      },
      'inclusion:BAD_BUNDLE',
    ],
    [
      'a negative index',
      (b) => {
        b.inclusion!.index = -1;
      },
      'inclusion:BAD_BUNDLE',
    ],
    [
      'a checkpoint with another root',
      (b) => {
        b.inclusion!.checkpoint = swapRoot(b.inclusion!.checkpoint);
      },
      'inclusion:BAD_PROOF',
    ],
    [
      'a malformed checkpoint',
      (b) => {
        b.inclusion!.checkpoint = 'garbage';
      },
      'inclusion:BAD_NOTE',
    ],
    ['a checkpoint signed by an unknown key', resignWithOtherKey, 'checkpoint:UNKNOWN_KEY'],
    ['a receipt for another record', receiptFor(6), 'receipt:RECEIPT_MISMATCH'],
    [
      "a group receipt of another record's group item",
      async (b) => {
        b.receipt = (await makeGroupReceipts(fx, log.records.slice(0, 8)))[6]!;
      },
      'receipt:RECEIPT_MISMATCH',
    ],
    [
      'a group receipt whose item was swapped in from another group',
      async (b) => {
        const [jws] = (await makeGroupReceipts(fx, log.records.slice(0, 8)))[0]!.split('~');
        const [, item] = (await makeGroupReceipts(fx, log.records.slice(0, 9)))[I]!.split('~');
        b.receipt = `${jws}~${item}`;
      },
      'receipt:BAD_SIGNATURE',
    ],
    [
      'a receipt with a broken signature',
      (b) => {
        b.receipt = `${b.receipt.slice(0, -4)}AAAA`;
      },
      'receipt:BAD_SIGNATURE',
    ],
    [
      'no receipt',
      (b) => {
        delete (b as Partial<ProofBundle>).receipt;
      },
      'receipt:BAD_RECEIPT',
    ],
    [
      'a ledger ref to another tree',
      (b) => {
        b.ledger!.root = toHex(sha256(new Uint8Array(1)));
      },
      'ledger:LEDGER_MISMATCH',
    ],
    [
      'a ledger ref of another size',
      (b) => {
        b.ledger!.size = 11;
      },
      'ledger:LEDGER_MISMATCH',
    ],
    [
      'an anchor with a tampered consistency proof',
      (b) => {
        b.anchor!.consistency[0] = flipHex(b.anchor!.consistency[0]!);
      },
      'anchor:BAD_PROOF',
    ],
    [
      'an anchor of another root',
      (b) => {
        b.anchor!.root = toHex(sha256(new Uint8Array(2)));
      },
      'anchor:BAD_PROOF',
    ],
    [
      'an anchor before the checkpoint',
      (b) => {
        b.anchor!.size = 3;
      },
      'anchor:INDEX_OUT_OF_RANGE',
    ],
    [
      'a malformed anchor',
      (b) => {
        (b.anchor as unknown as Record<string, unknown>).size = 'big';
      },
      'anchor:BAD_BUNDLE',
    ],
  ];

  it.each(tampers)('%s', async (_name, change, expected) => {
    const b = clone(good);
    await change(b);
    const r = await verifyBundle(b, options());
    expect(firstFailure(r)).toBe(expected);
    expect(r.ok).toBe(false);
  });

  it('a checkpoint with another root also fails its signature', async () => {
    const b = clone(good);
    b.inclusion!.checkpoint = swapRoot(b.inclusion!.checkpoint);
    expect(step(await verifyBundle(b, options()), 'checkpoint')).toMatchObject({
      status: 'fail',
      code: 'BAD_SIGNATURE',
    });
  });

  it('a record re-pointed at a forged document fails the leaf step (its CID no longer matches)', async () => {
    const forged = new TextEncoder().encode('forged');
    const b = clone(good);
    b.record.digests.sha256 = toHex(sha256(forged));
    const r = await verifyBundle(b, options({ sha256: undefined, bytes: forged }));
    expect(firstFailure(r)).toBe('leaf:BAD_RECORD');
  });

  it('the wrong document fails the digest step', async () => {
    const r = await verifyBundle(
      good,
      options({ sha256: undefined, bytes: new TextEncoder().encode('forged') }),
    );
    expect(firstFailure(r)).toBe('digest:DIGEST_MISMATCH');
    expect(r.ok).toBe(false);
  });

  it('checks an SM3 digest against the record’s, when both are there', async () => {
    const sm3 = 'a'.repeat(64);
    const withSm3 = clone(good);
    withSm3.record.digests.sm3 = sm3;
    expect(step(await verifyBundle(withSm3, options({ sm3 })), 'digest')).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining(`SM3 ${sm3}`),
    });
    expect(step(await verifyBundle(withSm3, options({ sm3: 'b'.repeat(64) })), 'digest')).toMatchObject({
      status: 'fail',
      code: 'DIGEST_MISMATCH',
      detail: expect.stringMatching(/^SM3: /),
    });
    expect(step(await verifyBundle(withSm3, options({ sm3: 'xyz' })), 'digest')?.code).toBe('BAD_INPUT');
    // A record without one: the SHA-256 decides, and the detail says SM3 was not compared.
    const r = await verifyBundle(good, options({ sm3 }));
    expect(r.ok).toBe(true);
    expect(step(r, 'digest')?.detail).toMatch(/carries no SM3 digest/);
    // The record's SM3 is part of its leaf: changing it fails the leaf step.
    expect(firstFailure(await verifyBundle(withSm3, options()))).toMatch(/^(leaf|inclusion|receipt):/);
  });

  it('a malformed digest to compare fails the digest step, not the call', async () => {
    expect(firstFailure(await verifyBundle(good, options({ sha256: 'abc' })))).toBe('digest:BAD_HEX');
    expect(firstFailure(await verifyBundle(good, options({ sha256: new Uint8Array(3) })))).toBe(
      'digest:BAD_LENGTH',
    );
  });
});

describe('verifyBundle: look-ups', () => {
  const cases: [string, Partial<VerifyBundleOptions>, string][] = [
    [
      'an invalid ledger transaction',
      { getLedgerTx: async () => ({ ...(await ledgerOk(good)()), valid: false }) },
      'ledger:LEDGER_TX_INVALID',
    ],
    [
      'a ledger transaction of another tree',
      { getLedgerTx: async () => ({ ...(await ledgerOk(good)()), root: 'ab'.repeat(32) }) },
      'ledger:LEDGER_MISMATCH',
    ],
    [
      'a ledger transaction in another block',
      { getLedgerTx: async () => ({ ...(await ledgerOk(good)()), block: 8 }) },
      'ledger:LEDGER_MISMATCH',
    ],
    [
      'a ledger that cannot be reached',
      { getLedgerTx: async () => Promise.reject(new Error('ECONNREFUSED')) },
      'ledger:LEDGER_LOOKUP_FAILED',
    ],
    [
      'a chain that holds another root',
      { getAnchor: async () => ({ ...(await anchorOk(good)()), root: 'cd'.repeat(32) }) },
      'anchor:ANCHOR_MISMATCH',
    ],
    [
      'a chain that cannot be reached',
      {
        getAnchor: () => {
          throw new Error('timeout');
        },
      },
      'anchor:ANCHOR_LOOKUP_FAILED',
    ],
    [
      'a time-stamp verifier that fails',
      { verifyTimestamp: async () => ({ step: 'timestamp', status: 'fail', code: 'TSA_UNTRUSTED' }) },
      'timestamp:TSA_UNTRUSTED',
    ],
    [
      'a time-stamp verifier that throws',
      {
        verifyTimestamp: async () => {
          throw new Error('asn.1');
        },
      },
      'timestamp:TIMESTAMP_VERIFY_FAILED',
    ],
  ];
  it.each(cases)('%s', async (_name, extra, expected) => {
    const b = clone(good);
    b.timestamp = { token: 'dG9rZW4=' };
    const r = await verifyBundle(b, options(extra));
    expect(firstFailure(r)).toBe(expected);
    expect(r.ok).toBe(false);
  });
});

describe('verifyBundle: the anchor is pinned to the operator', () => {
  const anchorStep = async (
    info: Partial<AnchorInfo> | null,
    keys: Partial<VerifyBundleOptions['keys']> = {},
    extra: Partial<VerifyBundleOptions> = {},
    bundle: ProofBundle = good,
  ) => {
    const r = await verifyBundle(bundle, {
      ...options(),
      ...extra,
      keys: { ...options().keys, ...keys },
      ...(info === null ? {} : { getAnchor: async () => ({ ...(await anchorOk(good)()), ...info }) }),
    });
    return { r, s: step(r, 'anchor') };
  };

  it('passes an anchor sent by the pinned address on the pinned contract and chain', async () => {
    const { r, s } = await anchorStep({});
    expect(s).toMatchObject({ status: 'pass' });
    expect(s.detail).toContain(`sent by ${ANCHORER}`);
    expect(s.detail).toContain('root read back from the contract');
    expect(r.ok).toBe(true);
  });

  it('says "not pinned" — skipped, never passed — when no identity is given', async () => {
    const { r, s } = await anchorStep({}, { anchor: undefined });
    expect(s).toMatchObject({ status: 'skipped', code: 'ANCHOR_NOT_PINNED' });
    expect(s.detail).toContain('anyone may have sent it');
    expect(r.ok).toBe(true);
    // An old look-up (size, root, block only) of an old bundle: still not passed, still not failed.
    const old = await verifyBundle(good, {
      ...options({ getAnchor: async () => ({ size: good.anchor!.size, root: good.anchor!.root, block: 1 }) }),
      keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys },
    });
    expect(step(old, 'anchor')).toMatchObject({ status: 'skipped', code: 'ANCHOR_NOT_PINNED' });
  });

  it.each([
    [
      'the genuine checkpoint sent from another address',
      { from: `0x${'66'.repeat(20)}`, anchorer: `0x${'66'.repeat(20)}` },
      'ANCHOR_FOREIGN_SENDER',
    ],
    ['sent through a contract by another address', { from: `0x${'66'.repeat(20)}` }, 'ANCHOR_FOREIGN_SENDER'],
    [
      'emitted by another deployment of the contract',
      { contract: `0x${'77'.repeat(20)}` },
      'ANCHOR_FOREIGN_CONTRACT',
    ],
    ['read from another chain', { chainId: 'eip155:1' }, 'ANCHOR_FOREIGN_CHAIN'],
    [
      'a look-up that does not say who sent it',
      { from: undefined, anchorer: undefined },
      'ANCHOR_SENDER_UNKNOWN',
    ],
    ['another log origin', { originHash: `0x${'99'.repeat(32)}` }, 'ANCHOR_FOREIGN_ORIGIN'],
    ['a root the contract does not keep', { storedRoot: 'ee'.repeat(32) }, 'ANCHOR_ROOT_NOT_STORED'],
    ['a root never stored (zero)', { storedRoot: '00'.repeat(32) }, 'ANCHOR_ROOT_NOT_STORED'],
    ['fewer confirmations than the operator waits for', { confirmations: 2 }, 'ANCHOR_NOT_CONFIRMED'],
    ['no confirmation count', { confirmations: undefined }, 'ANCHOR_NOT_CONFIRMED'],
  ] as [string, Partial<AnchorInfo>, string][])('refuses %s (%s)', async (_name, info, code) => {
    const { r, s } = await anchorStep(info);
    expect(s).toMatchObject({ status: 'fail', code });
    expect(r.ok).toBe(false);
  });

  it('refuses a bundle naming another contract or chain before asking the chain', async () => {
    const other = clone(good);
    other.anchor!.contract = `0x${'77'.repeat(20)}`;
    expect((await anchorStep(null, {}, {}, other)).s).toMatchObject({
      status: 'fail',
      code: 'ANCHOR_FOREIGN_CONTRACT',
    });
    other.anchor!.chainId = 'eip155:5';
    expect((await anchorStep({}, {}, {}, other)).s).toMatchObject({ code: 'ANCHOR_FOREIGN_CHAIN' });
    // Offline, the pinned bundle's claim is checked and the chain look-up is said to be missing.
    expect((await anchorStep(null)).s).toMatchObject({ status: 'skipped', code: 'NO_ANCHOR_LOOKUP' });
  });

  it('accepts a retired site (a moved contract or a rotated key) as a triple only', async () => {
    const oldContract = `0x${'aa'.repeat(20)}`;
    const oldKey = `0x${'bb'.repeat(20)}`;
    const moved = clone(good);
    moved.anchor!.contract = oldContract;
    const retired = {
      anchor: { ...PIN, retired: [{ chainId: PIN.chainId, contract: oldContract, anchorer: oldKey }] },
    };
    const atOld = { contract: oldContract, from: oldKey, anchorer: oldKey };
    expect((await anchorStep(atOld, retired, {}, moved)).s).toMatchObject({ status: 'pass' });
    // The current key on the old contract, or the old key on the current one: not a published pair.
    expect(
      (await anchorStep({ ...atOld, from: ANCHORER, anchorer: ANCHORER }, retired, {}, moved)).s,
    ).toMatchObject({
      code: 'ANCHOR_FOREIGN_SENDER',
    });
    expect((await anchorStep({ from: oldKey, anchorer: oldKey }, retired)).s).toMatchObject({
      code: 'ANCHOR_FOREIGN_SENDER',
    });
  });

  it('takes the confirmations asked for over the published ones, and keeps old contracts (no roots) checkable', async () => {
    expect((await anchorStep({ confirmations: 2 }, {}, { anchorConfirmations: 2 })).s.status).toBe('pass');
    expect((await anchorStep({ confirmations: 5 }, {}, { anchorConfirmations: 6 })).s.code).toBe(
      'ANCHOR_NOT_CONFIRMED',
    );
    const { s } = await anchorStep({ storedRoot: null });
    expect(s.status).toBe('pass');
    expect(s.detail).toContain('keeps no roots');
  });

  it('takes a finalized block in place of the published confirmation count, and only a finalized one', async () => {
    const { s } = await anchorStep({ confirmations: 1, finalized: true });
    expect(s).toMatchObject({ status: 'pass' });
    expect(s.detail).toContain('in a finalized block (1 confirmations)');
    expect((await anchorStep({ confirmations: 1, finalized: false })).s.code).toBe('ANCHOR_NOT_CONFIRMED');
    expect((await anchorStep({ confirmations: 5, finalized: false })).s.status).toBe('pass');
    // A count the verifier asks for itself stays a count.
    expect(
      (await anchorStep({ confirmations: 5, finalized: true }, {}, { anchorConfirmations: 6 })).s.code,
    ).toBe('ANCHOR_NOT_CONFIRMED');
  });

  it('refuses a malformed identity as BAD_KEY and a bundle of another origin', async () => {
    expect((await anchorStep({}, { anchor: { ...PIN, anchorer: 'me' } })).s).toMatchObject({
      code: 'BAD_KEY',
    });
    expect((await anchorStep({}, { anchor: { ...PIN, origin: 'other.example/log' } })).s).toMatchObject({
      code: 'ANCHOR_FOREIGN_ORIGIN',
    });
  });
});

describe('verifyBundle: never throws', () => {
  it('reports missing keys as BAD_KEY at the steps that need them', async () => {
    const r = await verifyBundle(good, { sha256: log.records[I]!.digests.sha256 } as VerifyBundleOptions);
    expect(summary(r)).toMatchObject({
      digest: 'pass',
      inclusion: 'pass',
      checkpoint: 'fail:BAD_KEY',
      receipt: 'fail:BAD_KEY',
    });
    expect(r.ok).toBe(false);
  });

  it.each([null, 42, 'bundle', [], {}, { version: 'lianzheng-bundle/2' }])(
    'rejects %j as BAD_BUNDLE',
    async (value) => {
      const r = await verifyBundle(value, options());
      expect(r.ok).toBe(false);
      expect(r.steps.map((s) => s.step)).toEqual(VERIFY_STEPS);
      expect(r.steps.every((s) => s.status === 'fail' && s.code === 'BAD_BUNDLE')).toBe(true);
    },
  );

  it('on any value put anywhere in a good bundle', async () => {
    const paths = [
      ['record'],
      ['record', 'digests'],
      ['record', 'id'],
      ['record', 'refs'],
      ['details'],
      ['receipt'],
      ['inclusion'],
      ['inclusion', 'path'],
      ['inclusion', 'size'],
      ['inclusion', 'checkpoint'],
      ['ledger'],
      ['ledger', 'block'],
      ['anchor'],
      ['anchor', 'consistency'],
      ['timestamp'],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.anything(), async (path, value) => {
        const b = clone(good) as unknown as Record<string, unknown>;
        let target = b;
        for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
        target[path[path.length - 1]!] = value;
        const r = await verifyBundle(b, {
          ...options({ getLedgerTx: ledgerOk(good), getAnchor: anchorOk(good) }),
          verifyTimestamp: async () => ({ step: 'timestamp', status: 'skipped', code: 'TEST' }),
        });
        expect(r.steps.map((s) => s.step)).toEqual(VERIFY_STEPS);
        for (const s of r.steps) expect(['pass', 'fail', 'skipped']).toContain(s.status);
        for (const s of r.steps) if (s.status !== 'pass') expect(typeof s.code).toBe('string');
      }),
      { numRuns: 200 },
    );
  });
});

function flipHex(hex: string): string {
  return (hex[0] === '0' ? '1' : '0') + hex.slice(1);
}

function swapRoot(note: string): string {
  const lines = note.split('\n');
  lines[2] = Buffer.from(sha256(new Uint8Array([7]))).toString('base64');
  return lines.join('\n');
}

async function resignWithOtherKey(b: ProofBundle): Promise<void> {
  const cp = parseCheckpoint(b.inclusion!.checkpoint);
  const seed = sha256(new Uint8Array([42]));
  b.inclusion!.checkpoint = await signCheckpoint(formatCheckpoint(cp), { name: fx.origin, privateKey: seed });
  expect(noteVerifierKey(fx.origin, deriveNotePublicKey(seed))).not.toBe(fx.checkpointKeys[0]);
}

function receiptFor(i: number) {
  return async (b: ProofBundle) => {
    b.receipt = (await makeBundle(fx, log, i, 12, 12)).receipt;
  };
}

describe('verifyBundle: each crypto suite (intl, dual, gm)', () => {
  const sm2Key = sm2RandomPrivateKey();
  const sm2Pub = sm2PublicKey(sm2Key);
  const sm2Jwk = {
    kty: 'EC',
    crv: 'SM2',
    x: Buffer.from(sm2Pub.subarray(1, 33)).toString('base64url'),
    y: Buffer.from(sm2Pub.subarray(33)).toString('base64url'),
    kid: 'sm2',
    alg: RECEIPT_SM2_ALG,
    use: 'sig',
  };
  const receiptKey = { kid: 'sm2', privateKey: sm2Key };
  const noteSigner = { privateKey: sm2Key, algorithm: 'sm2' as const };
  const sm2Vkey = () => noteVerifierKey(fx.origin, sm2Pub, 'sm2');
  const claimsOf = (b: ProofBundle) => decodeReceipt(b.receipt)!;

  async function dual(): Promise<ProofBundle> {
    const b = clone(good);
    b.receiptSm2 = signSm2Jws(receiptKey, RECEIPT_TYPE, claimsOf(b));
    b.inclusion!.checkpoint = await signCheckpoint(b.inclusion!.checkpoint, {
      ...noteSigner,
      name: fx.origin,
    });
    return b;
  }
  async function gm(): Promise<ProofBundle> {
    const b = clone(good);
    b.receipt = signSm2Jws(receiptKey, RECEIPT_TYPE, claimsOf(b));
    const body = formatCheckpoint(parseCheckpoint(b.inclusion!.checkpoint));
    b.inclusion!.checkpoint = await signCheckpoint(body, { ...noteSigner, name: fx.origin });
    return b;
  }
  const keysFor = (suite: 'intl' | 'dual' | 'gm') => ({
    jwks: { keys: suite === 'gm' ? [sm2Jwk] : suite === 'dual' ? [...fx.jwks.keys, sm2Jwk] : fx.jwks.keys },
    checkpointKeys:
      suite === 'gm' ? [sm2Vkey()] : suite === 'dual' ? [...fx.checkpointKeys, sm2Vkey()] : fx.checkpointKeys,
  });

  it('passes each suite’s bundle with its keys, and says which signatures it checked', async () => {
    for (const [suite, bundle] of [
      ['intl', clone(good)],
      ['dual', await dual()],
      ['gm', await gm()],
    ] as const) {
      const result = await verifyBundle(bundle, options({ keys: keysFor(suite) }));
      expect(firstFailure(result), suite).toBeUndefined();
      expect(step(result, 'receipt').status, suite).toBe('pass');
      expect(step(result, 'checkpoint').status, suite).toBe('pass');
      const expected = {
        intl: ['(ES256)', '(ed25519)'],
        dual: ['(ES256 + SM2-with-SM3)', '(ed25519 + sm2)'],
        gm: ['(SM2-with-SM3)', '(sm2)'],
      }[suite];
      expect(step(result, 'receipt').detail, suite).toContain(expected[0]);
      expect(step(result, 'checkpoint').detail, suite).toContain(expected[1]);
    }
  });

  it('a dual bundle checked with only the international keys still checks its SM2 receipt, and fails on it', async () => {
    // Every signature present is checked: the SM2 receipt needs its key.
    const result = await verifyBundle(await dual(), options({ keys: keysFor('intl') }));
    expect(firstFailure(result)).toBe('receipt:UNKNOWN_KEY');
  });

  it('fails a dual bundle whose SM2 receipt is forged, restates other claims, or is not SM2', async () => {
    const forged = await dual();
    const [h, p] = forged.receiptSm2!.split('.');
    forged.receiptSm2 = `${h}.${p}.${signSm2Jws({ kid: 'sm2', privateKey: sm2RandomPrivateKey() }, RECEIPT_TYPE, {}).split('.')[2]}`;
    expect(firstFailure(await verifyBundle(forged, options({ keys: keysFor('dual') })))).toBe(
      'receipt:BAD_SIGNATURE',
    );
    const other = await dual();
    other.receiptSm2 = signSm2Jws(receiptKey, RECEIPT_TYPE, { ...claimsOf(other), iat: 1 });
    expect(firstFailure(await verifyBundle(other, options({ keys: keysFor('dual') })))).toBe(
      'receipt:RECEIPT_MISMATCH',
    );
    const notSm2 = await dual();
    notSm2.receiptSm2 = notSm2.receipt;
    expect(firstFailure(await verifyBundle(notSm2, options({ keys: keysFor('dual') })))).toBe(
      'receipt:BAD_RECEIPT',
    );
  });

  it('fails a gm bundle checked with the international keys alone: no checkpoint line by a known key', async () => {
    const result = await verifyBundle(await gm(), options({ keys: keysFor('intl') }));
    expect(summary(result).checkpoint).toBe('fail:UNKNOWN_KEY');
  });
});
