// The page names the witnesses that cosigned a record's checkpoint ("由 XX 公证处见证于 …"), in
// zh-CN and en, from the keys GET /v1/keys publishes; a forged line names nobody.
import {
  cosignCheckpoint,
  cosignerVerifierKey,
  deriveCosignerPublicKey,
  type ProofBundle,
} from '@lianzheng/proof';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBundle, makeFixture, makeLog } from '../../proof/src/lib/_fixtures.ts';
import { parseKeys } from './api.ts';
import { assuranceOf, describeStep } from './checks.ts';
import { assuranceParts } from './components.ts';
import { setLang } from './i18n.ts';

const seeds = [new Uint8Array(32).fill(61), new Uint8Array(32).fill(62)];
const names = ['xicheng-notary.example/w', 'audit.example/w'];
const vkeys = names.map((n, i) => cosignerVerifierKey(n, deriveCosignerPublicKey(seeds[i]!)));
let bundle: ProofBundle;
let fx: Awaited<ReturnType<typeof makeFixture>>;

const keysAnswer = (quorum: number) =>
  parseKeys({
    jwks: fx.jwks,
    checkpointKeys: fx.checkpointKeys,
    tsaRoots: [],
    witnesses: [
      {
        name: '西城公证处',
        displayName: 'Xicheng Notary Office',
        displayNameZh: '西城公证处',
        vkey: vkeys[0],
      },
      { displayName: 'Audit Bureau', displayNameZh: '审计局', vkey: vkeys[1] },
      { vkey: 42 },
    ],
    witnessQuorum: quorum,
  });

beforeAll(async () => {
  fx = await makeFixture();
  const b = await makeBundle(fx, makeLog(4), 1, 3, 4);
  const line = cosignCheckpoint(
    b.inclusion!.checkpoint,
    { name: names[0]!, privateKey: seeds[0]! },
    1_765_000_000,
  );
  bundle = { ...b, cosignatures: [line.slice(0, -1)] };
});

const witnessPart = (b: ProofBundle, quorum: number) =>
  assuranceParts(assuranceOf(b, keysAnswer(quorum), null)).find((p) => p.part === 'witnesses')!.words;

describe('the page names the witnesses', () => {
  it('zh-CN: 由西城公证处见证于 … and the quorum, in full-width punctuation', () => {
    setLang('zh-CN', null);
    const words = witnessPart(bundle, 1);
    expect(words).toMatch(/^由西城公证处见证于2025\/12\/06 13:46:40 /);
    expect(words).toContain('（1/2 家见证方联署，达到所需的 1 家）');
    // Full-width punctuation beside Chinese (zh-punctuation.test.ts checks the messages themselves).
    expect(words).not.toMatch(/\p{Script=Han}[(),;:!?]|[(),;:!?]\p{Script=Han}/u);
    expect(witnessPart(bundle, 2)).toContain('未达到所需的 2 家');
  });

  it('en: witnessed by … at …, below the quorum said so', () => {
    setLang('en', null);
    expect(witnessPart(bundle, 2)).toMatch(
      /^witnessed by Xicheng Notary Office at .* \(only 1 of 2 witnesses cosigned; 2 are needed\)$/,
    );
    // No cosignature at all, and a forged one: nobody is named.
    expect(witnessPart({ ...bundle, cosignatures: [] }, 1)).toBe(
      "no witness has cosigned this record's log checkpoint yet (1 of 2 needed)",
    );
    const forged = `${bundle.cosignatures![0]!.slice(0, -6)}AAAAA=`;
    expect(witnessPart({ ...bundle, cosignatures: [forged] }, 1)).toMatch(/^no witness has cosigned/);
    // A gateway that publishes no witnesses: the old words.
    const plain = parseKeys({ jwks: fx.jwks, checkpointKeys: fx.checkpointKeys });
    expect(assuranceParts(assuranceOf(bundle, plain, null)).find((p) => p.part === 'witnesses')!.words).toBe(
      'no independent witnesses',
    );
  });

  it('the witnesses step has a sentence for each outcome, with the count against the quorum', () => {
    setLang('zh-CN', null);
    const a = assuranceOf(bundle, keysAnswer(1), null);
    const say = (status: 'pass' | 'fail' | 'skipped', code?: string) =>
      describeStep({ step: 'witnesses', status, ...(code ? { code } : {}) }, bundle, 'file', a).sentence;
    expect(say('pass')).toBe('1/2 家见证方联署了这个日志检查点，达到所需的 1 家。');
    expect(say('skipped', 'NO_WITNESSES')).toBe('运营方没有设见证方。');
    setLang('en', null);
    const below = assuranceOf(bundle, keysAnswer(2), null);
    expect(
      describeStep(
        { step: 'witnesses', status: 'skipped', code: 'WITNESS_QUORUM_NOT_MET' },
        bundle,
        'file',
        below,
      ).sentence,
    ).toBe('Fewer witnesses than needed cosigned this log checkpoint (1 of 2; 2 needed).');
    expect(say('fail', 'BAD_COSIGNATURE')).toContain('does not verify');
  });
});
