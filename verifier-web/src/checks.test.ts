import { buildReceiptGroup, type ProofBundle, RECEIPT_GROUP_TYPE, type StepResult } from '@lianzheng/proof';
import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { type CheckRun, describeStep, ledgerWords, verdictOf } from './checks.ts';
import { setLang } from './i18n.ts';

const pass = (step: StepResult['step']): StepResult => ({ step, status: 'pass' });
const base: StepResult[] = [
  pass('digest'),
  pass('details'),
  pass('leaf'),
  pass('inclusion'),
  pass('checkpoint'),
  pass('receipt'),
];
const run = (...extra: StepResult[]): CheckRun => ({ ok: true, steps: [...base, ...extra] });

describe('verdictOf', () => {
  it('is ok when every required step passed and only anchor/timestamp are not done', () => {
    expect(
      verdictOf([
        run(
          pass('ledger'),
          { step: 'anchor', status: 'skipped', code: 'NO_ANCHOR_REF' },
          { step: 'timestamp', status: 'skipped', code: 'NO_TIMESTAMP' },
        ),
      ]),
    ).toBe('ok');
  });

  it('is ok for a restricted record whose details are not disclosed', () => {
    const steps = [
      ...base.filter((s) => s.step !== 'details'),
      { step: 'details' as const, status: 'skipped' as const, code: 'NO_DETAILS' },
    ];
    expect(verdictOf([{ ok: true, steps: [...steps, pass('ledger')] }])).toBe('ok');
  });

  it('is pending when the record is not on the ledger yet', () => {
    expect(verdictOf([run({ step: 'ledger', status: 'skipped', code: 'NO_LEDGER_REF' })])).toBe('pending');
  });

  it('is a failure when any step of any record failed', () => {
    expect(
      verdictOf([run(pass('ledger')), run({ step: 'ledger', status: 'fail', code: 'LEDGER_MISMATCH' })]),
    ).toBe('fail');
    expect(verdictOf([{ ok: false, steps: [], errorCode: 'KEYS_UNAVAILABLE' }])).toBe('fail');
  });

  it('is unchecked, not failed, when only a look-up could not be made', () => {
    expect(verdictOf([run({ step: 'ledger', status: 'fail', code: 'LEDGER_LOOKUP_FAILED' })])).toBe(
      'unchecked',
    );
  });
});

describe('describeStep: the receipt', () => {
  it('says when one signature covers the records accepted together, and how many', async () => {
    const item = (i: number) => ({
      sub: `0190a1b2-c3d4-7e5f-8a6b-00000000000${i}`,
      sha256: String(i).repeat(64),
      cid: 'bafkreib',
      projectId: 'P-1',
      kind: 'notice' as const,
      leaf: String(i + 1).repeat(64),
    });
    const group = buildReceiptGroup([item(1), item(2), item(3)]);
    const { privateKey } = await generateKeyPair('ES256');
    const jws = await new SignJWT({ ...group.claims({ iss: 'gw', iat: 1, ledger: 'embedded' }) })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: RECEIPT_GROUP_TYPE })
      .sign(privateKey);
    setLang('en', null);
    const sentence = (receipt: string) =>
      describeStep(pass('receipt'), { receipt } as ProofBundle, 'file').sentence;
    expect(sentence(`${jws}~${group.items[1]}`)).toContain(
      'one signature for the 3 records accepted together',
    );
    const single = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'lianzheng-receipt+jwt' })
      .sign(privateKey);
    expect(sentence(single)).not.toContain('one signature');
    expect(sentence(single)).toContain('validly signed (key k1)');
  });
});

describe('ledgerWords: which ledger, and who vouched for it', () => {
  const fabricBundle = (endorsers?: string[]) =>
    ({
      ledger: {
        network: 'fabric',
        channel: 'evidence',
        txId: 'ab'.repeat(32),
        block: 9,
        size: 3,
        root: 'cd'.repeat(32),
        ...(endorsers ? { endorsers } : {}),
      },
    }) as unknown as ProofBundle;

  it('names the organisations that endorsed a Fabric transaction, in either language', () => {
    setLang('zh-CN', null);
    expect(ledgerWords(fabricBundle(['FinanceMSP', 'InspectionMSP']))).toBe(
      'Hyperledger Fabric 联盟链(由 FinanceMSP、InspectionMSP 背书)',
    );
    setLang('en', null);
    expect(ledgerWords(fabricBundle(['FinanceMSP', 'InspectionMSP']))).toBe(
      'Hyperledger Fabric consortium ledger (endorsed by FinanceMSP, InspectionMSP)',
    );
    expect(ledgerWords(fabricBundle())).toBe('Hyperledger Fabric consortium ledger');
  });
});
