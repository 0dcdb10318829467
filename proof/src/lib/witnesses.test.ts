// Witness cosignatures in proof bundles: the optional `cosignatures` field, the `witnesses` step
// of verifyBundle, and the witnesses part of the assurance.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import schema from '../bundle.schema.json' with { type: 'json' };
import { makeBundle, makeFixture, makeLog } from './_fixtures.ts';
import { assuranceSummary, deriveAssurance } from './assurance.ts';
import { type ProofBundle, verifyBundle } from './bundle.ts';
import { cosignCheckpoint, cosignerVerifierKey, deriveCosignerPublicKey } from './cosignature.ts';

const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);
const seed = (n: number) => new Uint8Array(32).fill(40 + n);
const names = ['notary.example/w', 'audit.example/w', 'court.example/w'];
const vkeys = names.map((name, i) => cosignerVerifierKey(name, deriveCosignerPublicKey(seed(i))));
const line = (b: ProofBundle, i: number, time: number) =>
  cosignCheckpoint(b.inclusion!.checkpoint, { name: names[i]!, privateKey: seed(i) }, time).slice(0, -1);

let fx: Awaited<ReturnType<typeof makeFixture>>;
let base: ProofBundle;
const witnessStep = async (b: ProofBundle, extra: object = {}, quorum = 2) =>
  (
    await verifyBundle(b, {
      bytes: fxDoc,
      keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys, witnesses: vkeys, witnessQuorum: quorum },
      ...extra,
    })
  ).steps.find((s) => s.step === 'witnesses');
let fxDoc: Uint8Array;

beforeAll(async () => {
  fx = await makeFixture();
  const log = makeLog(6);
  base = await makeBundle(fx, log, 2, 5, 6);
  fxDoc = log.documents[2]!;
});

describe('witness cosignatures in bundles', () => {
  it('passes with the quorum, and the schema accepts the field', async () => {
    const b = { ...base, cosignatures: [line(base, 0, 1_765_000_000), line(base, 2, 1_765_000_005)] };
    expect(validate(b), JSON.stringify(validate.errors)).toBe(true);
    const step = await witnessStep(b);
    expect(step).toMatchObject({ status: 'pass' });
    expect(step?.detail).toContain('2 of 3 witnesses cosigned (quorum 2)');
    const r = await verifyBundle(b, {
      bytes: fxDoc,
      keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys },
    });
    // Without trusted witness keys the step is skipped, never passed, and the bundle stays ok.
    expect(r.steps.find((s) => s.step === 'witnesses')).toMatchObject({
      status: 'skipped',
      code: 'NO_WITNESSES',
    });
  });

  it('below the quorum: skipped by default, failed when the verifier requires it', async () => {
    const b = { ...base, cosignatures: [line(base, 1, 5)] };
    expect(await witnessStep(b)).toMatchObject({ status: 'skipped', code: 'WITNESS_QUORUM_NOT_MET' });
    expect(await witnessStep(b, { requireWitnessQuorum: true })).toMatchObject({
      status: 'fail',
      code: 'WITNESS_QUORUM_NOT_MET',
    });
    // An old bundle without the field: the same.
    expect(await witnessStep(base)).toMatchObject({ status: 'skipped', code: 'WITNESS_QUORUM_NOT_MET' });
  });

  it('fails a cosignature that does not verify (another checkpoint, a changed byte)', async () => {
    const other = await makeBundle(fx, makeLog(6), 2, 4, 6);
    const b = { ...base, cosignatures: [line(other, 0, 5), line(base, 1, 5)] };
    expect(await witnessStep(b)).toMatchObject({ status: 'fail', code: 'BAD_COSIGNATURE' });
    const r = await verifyBundle(b, {
      bytes: fxDoc,
      keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys, witnesses: vkeys, witnessQuorum: 1 },
    });
    expect(r.ok).toBe(false);
    expect(await witnessStep({ ...base, cosignatures: ['not a line'] })).toMatchObject({
      status: 'fail',
      code: 'BAD_BUNDLE',
    });
    expect(validate({ ...base, cosignatures: ['not a line'] })).toBe(false);
  });

  it('the assurance names the witnesses that cosigned and whether the quorum was met', () => {
    const published = names.map((_, i) => ({
      vkey: vkeys[i]!,
      displayName: `W${i}`,
      displayNameZh: `见证${i}`,
    }));
    const b = { ...base, cosignatures: [line(base, 0, 1_765_000_000), line(base, 1, 1_765_000_060)] };
    const a = deriveAssurance(b, { witnesses: published, witnessQuorum: 2 });
    expect(a.witnesses).toEqual({
      level: 'quorum',
      quorum: 2,
      of: 3,
      cosigned: [
        { name: names[0], displayName: 'W0', displayNameZh: '见证0', at: '2025-12-06T05:46:40.000Z' },
        { name: names[1], displayName: 'W1', displayNameZh: '见证1', at: '2025-12-06T05:47:40.000Z' },
      ],
    });
    expect(assuranceSummary(a)).toContain('2 of 3 witnesses cosigned (quorum 2): W0 at');
    const one = deriveAssurance(
      { ...base, cosignatures: [line(base, 0, 1)] },
      { witnesses: published, witnessQuorum: 2 },
    );
    expect(one.witnesses).toMatchObject({ level: 'below-quorum', cosigned: [{ name: names[0] }] });
    expect(assuranceSummary(one)).toContain('below the quorum');
    // A forged line counts for nothing; no published witnesses: none.
    const forged = deriveAssurance(
      { ...base, cosignatures: [`${line(base, 0, 1).slice(0, -4)}AAA=`] },
      { witnesses: published },
    );
    expect(forged.witnesses).toMatchObject({ level: 'below-quorum', cosigned: [] });
    expect(deriveAssurance(b, {}).witnesses).toEqual({ level: 'none' });
  });
});
