// The page's witnesses step and assurance when a witness cosigned a LATER checkpoint (the
// bundle's `witnessed` part): it is named with the size it cosigned and "consistent with the
// record's checkpoint", in zh-CN and en; a later checkpoint whose proof fails names nobody.
import {
  cosignCheckpoint,
  cosignerVerifierKey,
  deriveCosignerPublicKey,
  formatCheckpoint,
  type ProofBundle,
  signCheckpoint,
  toHex,
  verifyBundle,
} from '@lianzheng/proof';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBundle, makeFixture, makeLog } from '../../proof/src/lib/_fixtures.ts';
import { frontierRoot } from '../../proof/src/lib/merkle.ts';
import { generateConsistencyProof } from '../../proof/src/lib/merkle-proof.ts';
import { parseKeys } from './api.ts';
import { assuranceOf, type CheckRun, describeStep } from './checks.ts';
import { assuranceParts } from './components.ts';
import { setLang } from './i18n.ts';

const seeds = [new Uint8Array(32).fill(71), new Uint8Array(32).fill(72)];
const names = ['xicheng-notary.example/w', 'audit.example/w'];
const vkeys = names.map((n, i) => cosignerVerifierKey(n, deriveCosignerPublicKey(seeds[i]!)));
let fx: Awaited<ReturnType<typeof makeFixture>>;
let bundle: ProofBundle;

const keys = () =>
  parseKeys({
    jwks: fx.jwks,
    checkpointKeys: fx.checkpointKeys,
    tsaRoots: [],
    witnesses: [
      { displayName: 'Xicheng Notary Office', displayNameZh: '西城公证处', vkey: vkeys[0] },
      { displayName: 'Audit Bureau', displayNameZh: '审计局', vkey: vkeys[1] },
    ],
    witnessQuorum: 2,
  });

/** What the page does: verifyBundle with the published keys, then the assurance from its steps. */
async function page(b: ProofBundle) {
  const k = keys();
  const result = await verifyBundle(b, {
    keys: {
      jwks: fx.jwks,
      checkpointKeys: fx.checkpointKeys,
      witnesses: k.witnesses!.map((w) => w.vkey),
      witnessQuorum: 2,
    },
  });
  const run: CheckRun = { ok: result.ok, steps: result.steps };
  const assurance = assuranceOf(b, k, run);
  const step = result.steps.find((s) => s.step === 'witnesses')!;
  return {
    step,
    sentence: describeStep(step, b, 'file', assurance).sentence,
    words: assuranceParts(assurance).find((p) => p.part === 'witnesses')!.words,
  };
}

beforeAll(async () => {
  fx = await makeFixture();
  const log = makeLog(6);
  const b = await makeBundle(fx, log, 1, 3, 3);
  const own = cosignCheckpoint(
    b.inclusion!.checkpoint,
    { name: names[0]!, privateKey: seeds[0]! },
    1_765_000_000,
  );
  // The audit bureau's witness was down at size 3; it cosigned size 5.
  const later = await signCheckpoint(
    formatCheckpoint({ origin: fx.origin, size: 5, rootHash: frontierRoot(log.frontiers[5]!) }),
    { name: fx.origin, privateKey: fx.checkpointSeed },
  );
  const line = cosignCheckpoint(later, { name: names[1]!, privateKey: seeds[1]! }, 1_765_000_600);
  bundle = {
    ...b,
    cosignatures: [own.slice(0, -1)],
    witnessed: {
      checkpoint: later,
      cosignatures: [line.slice(0, -1)],
      consistency: (await generateConsistencyProof(log.store, 3, 5)).map(toHex),
    },
  };
});

describe('the page and a later cosigned checkpoint', () => {
  it('zh-CN: names the size and says it is consistent with the record’s checkpoint', async () => {
    setLang('zh-CN', null);
    const { step, sentence, words } = await page(bundle);
    expect(step.status).toBe('pass');
    expect(sentence).toBe(
      '2/2 家见证方联署，达到所需的 2 家；其中 1 家联署的是其后规模为 5 的检查点，一致性证明表明它包含本记录的检查点。',
    );
    expect(words).toContain('由审计局见证于');
    expect(words).toContain('（联署的是其后规模为 5 的检查点，与本记录的检查点一致）');
    expect(words).toContain('（2/2 家见证方联署，达到所需的 2 家）');
  });

  it('en: the same; a tampered consistency proof is refused and names nobody for it', async () => {
    setLang('en', null);
    const { sentence, words } = await page(bundle);
    expect(sentence).toContain("1 of them cosigned at size 5, consistent with the record's checkpoint");
    expect(words).toContain(
      "witnessed by Audit Bureau at 12/06/2025, 13:56:40 Beijing time (cosigned at size 5, consistent with the record's checkpoint)",
    );
    const tampered = {
      ...bundle,
      witnessed: {
        ...bundle.witnessed!,
        consistency: bundle.witnessed!.consistency.map(() => '00'.repeat(32)),
      },
    };
    const bad = await page(tampered);
    expect(bad.step).toMatchObject({ status: 'fail', code: 'WITNESSED_INCONSISTENT' });
    expect(bad.sentence).toContain('the consistency proof fails');
    expect(bad.words).not.toContain('Audit Bureau');
  });
});
