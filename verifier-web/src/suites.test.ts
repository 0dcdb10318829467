import {
  deriveNotePublicKey,
  noteVerifierKey,
  type ProofBundle,
  RECEIPT_TYPE,
  signCheckpoint,
  signSm2Jws,
  sm2RandomPrivateKey,
} from '@lianzheng/proof';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBundle, makeFixture, makeLog } from '../../proof/src/lib/_fixtures.ts';
import { setLang } from './i18n.ts';
import { bundleSuites, suitesWords } from './suites.ts';

// An intl bundle from proof's fixture (ES256 receipt, Ed25519 checkpoint line), and the same bundle
// made dual: an SM2 receipt beside it and an SM2 line on the checkpoint, really signed.
let intl: ProofBundle;
let dual: ProofBundle;
let keys: string[];
let sm2Vkey: string;
let gmCheckpoint: string;

beforeAll(async () => {
  const fx = await makeFixture();
  intl = await makeBundle(fx, makeLog(8), 3, 5, 8);
  const sm2 = sm2RandomPrivateKey();
  sm2Vkey = noteVerifierKey(fx.origin, deriveNotePublicKey(sm2, 'sm2'), 'sm2');
  keys = [...fx.checkpointKeys, sm2Vkey];
  const checkpoint = await signCheckpoint(intl.inclusion!.checkpoint, {
    name: fx.origin,
    privateKey: sm2,
    algorithm: 'sm2',
  });
  // gm: the checkpoint body signed with SM2 alone.
  const note = intl.inclusion!.checkpoint;
  gmCheckpoint = await signCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1), {
    name: fx.origin,
    privateKey: sm2,
    algorithm: 'sm2',
  });
  const claims = JSON.parse(Buffer.from(intl.receipt.split('.')[1]!, 'base64url').toString());
  dual = {
    ...intl,
    receiptSm2: signSm2Jws({ kid: 'sm2-1', privateKey: sm2 }, RECEIPT_TYPE, claims),
    inclusion: { ...intl.inclusion!, checkpoint },
  };
});

describe('bundleSuites: which signatures a bundle carries', () => {
  it('reads the receipts from their JWS headers and the checkpoint lines through the published keys', () => {
    expect(bundleSuites(intl, keys)).toEqual({ receipts: ['ES256'], checkpoint: ['Ed25519'] });
    expect(bundleSuites(dual, keys)).toEqual({ receipts: ['ES256', 'SM2'], checkpoint: ['Ed25519', 'SM2'] });
    // gm: the SM2 receipt as `receipt`, the SM2 line alone.
    const gm: ProofBundle = {
      ...dual,
      receipt: dual.receiptSm2!,
      receiptSm2: undefined,
      inclusion: { ...dual.inclusion!, checkpoint: gmCheckpoint },
    };
    expect(bundleSuites(gm, keys)).toEqual({ receipts: ['SM2'], checkpoint: ['SM2'] });
  });

  it('counts no checkpoint line whose key is not published (not guessed), and survives garbage', () => {
    expect(bundleSuites(dual, [])).toEqual({ receipts: ['ES256', 'SM2'], checkpoint: [] });
    expect(bundleSuites(dual, [sm2Vkey, 'not a key'])).toEqual({
      receipts: ['ES256', 'SM2'],
      checkpoint: ['SM2'],
    });
    const junk = {
      ...dual,
      receipt: '!!.x.y',
      receiptSm2: 42,
      inclusion: { checkpoint: 5 },
    } as unknown as ProofBundle;
    expect(bundleSuites(junk, keys)).toEqual({ receipts: [], checkpoint: [] });
  });

  it('says it in zh-CN with full-width punctuation, and in English', () => {
    setLang('zh-CN', null);
    expect(suitesWords(bundleSuites(dual, keys))).toBe('回执 ES256、SM2；检查点 Ed25519、SM2');
    expect(suitesWords({ receipts: [], checkpoint: [] })).toBe('无法识别');
    setLang('en', null);
    expect(suitesWords(bundleSuites(dual, keys))).toBe('receipts ES256, SM2; checkpoint Ed25519, SM2');
    expect(suitesWords(bundleSuites(intl, []))).toBe('receipts ES256');
    setLang('zh-CN', null);
  });
});
