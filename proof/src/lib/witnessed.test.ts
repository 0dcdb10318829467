// The bundle's `witnessed` part: witnesses that cosigned a LATER checkpoint count for a record
// once the later checkpoint is the log's and a consistency proof ties it to the record's. Real
// Ed25519 signatures (log and witnesses) and real Merkle proofs throughout; each refusal below
// passes if the consistency check (or the origin, size, signature check) were skipped.
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import schema from '../bundle.schema.json' with { type: 'json' };
import { type Fixture, type LogFixture, makeBundle, makeFixture, makeLog } from './_fixtures.ts';
import { assuranceSummary, deriveAssurance } from './assurance.ts';
import { type ProofBundle, verifyBundle } from './bundle.ts';
import { formatCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.ts';
import { cosignCheckpoint, cosignerVerifierKey, deriveCosignerPublicKey } from './cosignature.ts';
import { sha256 } from './digest.ts';
import { toHex } from './encoding.ts';
import { appendLeavesWithSubtrees, emptyFrontier, frontierRoot } from './merkle.ts';
import { generateConsistencyProof, MemorySubtreeStore } from './merkle-proof.ts';
import { checkWitnessed, type WitnessedRef } from './witnessed.ts';

const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);
const seed = (n: number) => new Uint8Array(32).fill(60 + n);
const names = ['notary.example/w', 'audit.example/w', 'court.example/w'];
const vkeys = names.map((name, i) => cosignerVerifierKey(name, deriveCosignerPublicKey(seed(i))));
const cosign = (note: string, i: number, time = 1_765_000_000 + i) =>
  cosignCheckpoint(note, { name: names[i]!, privateKey: seed(i) }, time).slice(0, -1);

let fx: Fixture;
let log: LogFixture;
let base: ProofBundle;

/** The log's signed checkpoint of `lg` at `size` (another origin or key when asked). */
async function checkpointAt(
  lg: LogFixture,
  size: number,
  opts: { origin?: string; seed?: Uint8Array } = {},
): Promise<string> {
  const origin = opts.origin ?? fx.origin;
  return signCheckpoint(formatCheckpoint({ origin, size, rootHash: frontierRoot(lg.frontiers[size]!) }), {
    name: origin,
    privateKey: opts.seed ?? fx.checkpointSeed,
  });
}

async function witnessedAt(size: number, who: number[], from = 5): Promise<WitnessedRef> {
  const checkpoint = await checkpointAt(log, size);
  return {
    checkpoint,
    cosignatures: who.map((i) => cosign(checkpoint, i)),
    consistency: (await generateConsistencyProof(log.store, from, size)).map(toHex),
  };
}

const step = async (b: ProofBundle, quorum = 2) => {
  const r = await verifyBundle(b, {
    bytes: log.documents[2]!,
    keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys, witnesses: vkeys, witnessQuorum: quorum },
  });
  return { ok: r.ok, ...r.steps.find((s) => s.step === 'witnesses')! };
};

beforeAll(async () => {
  fx = await makeFixture();
  log = makeLog(12);
  // Record 2, included at size 5; only the first witness cosigned size 5 (the others were down).
  base = await makeBundle(fx, log, 2, 5, 5);
  base = { ...base, cosignatures: [cosign(base.inclusion!.checkpoint, 0)] };
});

describe('witnessed: cosignatures over a later checkpoint', () => {
  it('counts the later cosignatures for the record and says so; the schema accepts the part', async () => {
    expect((await step(base)).code).toBe('WITNESS_QUORUM_NOT_MET');
    const b = { ...base, witnessed: await witnessedAt(9, [1, 2]) };
    expect(validate(b), JSON.stringify(validate.errors)).toBe(true);
    const s = await step(b, 3);
    expect(s).toMatchObject({ ok: true, status: 'pass' });
    expect(s.detail).toContain('3 of 3 witnesses cosigned (quorum 3)');
    expect(s.detail).toContain("cosigned at size 9, consistent with the record's checkpoint (size 5)");
    expect(s.detail).toContain(`${names[1]} at `);
    // A witness on both checkpoints counts once.
    const both = { ...base, witnessed: await witnessedAt(9, [0, 1]) };
    expect((await step(both, 3)).detail).toContain('2 of 3 witnesses cosigned (quorum 3)');
    // The same size as the record's, with the empty proof, is a checkpoint it may carry too.
    const same = { ...base, witnessed: await witnessedAt(5, [1]) };
    expect(await step(same)).toMatchObject({ status: 'pass' });
  });

  it('refuses a wrong consistency proof (WITNESSED_INCONSISTENT) and then counts none of it', async () => {
    const good = await witnessedAt(9, [1, 2]);
    const flipped = good.consistency.map((h, i) =>
      i === 0 ? `${h[0] === '0' ? '1' : '0'}${h.slice(1)}` : h,
    );
    for (const consistency of [
      flipped,
      [],
      good.consistency.slice(1),
      [...good.consistency, good.consistency[0]!],
    ]) {
      const s = await step({ ...base, witnessed: { ...good, consistency } });
      expect(s, JSON.stringify(consistency)).toMatchObject({
        ok: false,
        status: 'fail',
        code: 'WITNESSED_INCONSISTENT',
      });
    }
    // A history that does not extend the record's: another log of the same size, signed by the
    // log's own key and cosigned by the witnesses (a split view), with its own honest proof.
    const store = new MemorySubtreeStore();
    const leaves = Array.from({ length: 9 }, (_, i) => sha256(new TextEncoder().encode(`forked ${i}`)));
    const { frontier, subtrees } = appendLeavesWithSubtrees(emptyFrontier(), leaves);
    store.add(subtrees);
    const forked = await signCheckpoint(
      formatCheckpoint({ origin: fx.origin, size: 9, rootHash: frontierRoot(frontier) }),
      { name: fx.origin, privateKey: fx.checkpointSeed },
    );
    const forkProof = (await generateConsistencyProof(store, 5, 9)).map(toHex);
    const s = await step({
      ...base,
      witnessed: {
        checkpoint: forked,
        cosignatures: [cosign(forked, 1), cosign(forked, 2)],
        consistency: forkProof,
      },
    });
    expect(s).toMatchObject({ status: 'fail', code: 'WITNESSED_INCONSISTENT' });
    // And the assurance counts only the record's own witness.
    const a = deriveAssurance(
      { ...base, witnessed: { ...good, consistency: flipped } },
      { witnesses: vkeys.map((vkey) => ({ vkey })), witnessQuorum: 2 },
    );
    expect(a.witnesses).toMatchObject({ level: 'below-quorum', cosigned: [{ name: names[0] }] });
  });

  it('refuses another origin, a smaller size, and a checkpoint the log did not sign', async () => {
    const foreign = await checkpointAt(log, 9, { origin: 'other.example/log' });
    const proof = (await generateConsistencyProof(log.store, 5, 9)).map(toHex);
    expect(
      await step({
        ...base,
        witnessed: { checkpoint: foreign, cosignatures: [cosign(foreign, 1)], consistency: proof },
      }),
    ).toMatchObject({ status: 'fail', code: 'WITNESSED_FOREIGN_ORIGIN' });
    const smaller = await checkpointAt(log, 4);
    expect(
      await step({
        ...base,
        witnessed: { checkpoint: smaller, cosignatures: [cosign(smaller, 1)], consistency: [] },
      }),
    ).toMatchObject({ status: 'fail', code: 'WITNESSED_SMALLER' });
    const unsigned = await checkpointAt(log, 9, { seed: new Uint8Array(32).fill(9) });
    expect(
      await step({
        ...base,
        witnessed: { checkpoint: unsigned, cosignatures: [cosign(unsigned, 1)], consistency: proof },
      }),
    ).toMatchObject({ status: 'fail', code: 'WITNESSED_BAD_CHECKPOINT' });
    // A trusted witness's line that does not verify over the later checkpoint.
    const good = await witnessedAt(9, [1]);
    const wrongLine = cosign(await checkpointAt(log, 8), 2);
    expect(
      await step({ ...base, witnessed: { ...good, cosignatures: [...good.cosignatures, wrongLine] } }),
    ).toMatchObject({ status: 'fail', code: 'BAD_COSIGNATURE' });
    expect(await step({ ...base, witnessed: { checkpoint: 5 } as unknown as WitnessedRef })).toMatchObject({
      status: 'fail',
      code: 'BAD_BUNDLE',
    });
  });

  it('the assurance names the later checkpoint', async () => {
    const b = { ...base, witnessed: await witnessedAt(9, [1]) };
    const a = deriveAssurance(b, {
      witnesses: vkeys.map((vkey, i) => ({ vkey, displayName: `W${i}` })),
      witnessQuorum: 2,
    });
    expect(a.witnesses).toMatchObject({
      level: 'quorum',
      cosigned: [{ name: names[0] }, { name: names[1], size: 9 }],
    });
    expect(a.witnesses.level !== 'none' && a.witnesses.cosigned[0]).not.toHaveProperty('size');
    expect(assuranceSummary(a)).toContain(
      "W1 at 2025-12-06T05:46:41.000Z (cosigned at size 9, consistent with the record's checkpoint)",
    );
  });

  it('property: any record size, any later size — the honest proof passes, any changed proof byte fails', async () => {
    const lg = makeLog(40);
    const note = async (size: number) =>
      signCheckpoint(
        formatCheckpoint({ origin: fx.origin, size, rootHash: frontierRoot(lg.frontiers[size]!) }),
        {
          name: fx.origin,
          privateKey: fx.checkpointSeed,
        },
      );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 39 }),
        fc.integer({ min: 0, max: 39 }),
        fc.nat(),
        fc.integer({ min: 0, max: 63 }),
        async (m, extra, which, digit) => {
          const n = Math.min(40, m + extra);
          const record = parseCheckpoint(await note(m));
          const later = await note(n);
          const consistency = (await generateConsistencyProof(lg.store, m, n)).map(toHex);
          const w = { checkpoint: later, cosignatures: [cosign(later, 1)], consistency };
          const ok = checkWitnessed(record, w, vkeys);
          expect(ok.ok && ok.check.cosignatures.map((c) => c.name)).toEqual([names[1]]);
          if (consistency.length === 0) return;
          const i = which % consistency.length;
          const h = consistency[i]!;
          const changed = `${h.slice(0, digit)}${h[digit] === 'a' ? 'b' : 'a'}${h.slice(digit + 1)}`;
          const bad = checkWitnessed(record, { ...w, consistency: consistency.with(i, changed) }, vkeys);
          expect(bad).toMatchObject({ ok: false, code: 'WITNESSED_INCONSISTENT' });
        },
      ),
      { numRuns: 60 },
    );
  });
});
