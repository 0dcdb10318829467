import { buildReceiptGroup, type ProofBundle, RECEIPT_GROUP_TYPE, type StepResult } from '@lianzheng/proof';
import { generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBundle, makeFixture, makeLog } from '../../proof/src/lib/_fixtures.ts';
import { type AnchorTxAnswer, ApiError, type KeysAnswer, parseAnchorTx } from './api.ts';
import {
  anchorIdentityWords,
  type CheckRun,
  describeStep,
  ledgerWords,
  runChecks,
  verdictOf,
} from './checks.ts';
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
      'Hyperledger Fabric 联盟链（由 FinanceMSP、InspectionMSP 背书）',
    );
    setLang('en', null);
    expect(ledgerWords(fabricBundle(['FinanceMSP', 'InspectionMSP']))).toBe(
      'Hyperledger Fabric consortium ledger (endorsed by FinanceMSP, InspectionMSP)',
    );
    expect(ledgerWords(fabricBundle())).toBe('Hyperledger Fabric consortium ledger');
  });
});

describe('runChecks: the anchor step pinned to the identity /v1/keys publishes', () => {
  // proof's fixture bundle (record 5 proved at 12, anchored at 20) and the proxy's answers in the
  // shapes /v1/anchor/tx/{txHash} sends (gateway/src/anchor/plugin.ts).
  const operator = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
  const stranger = '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc';
  let bundle: ProofBundle;
  let keys: KeysAnswer;
  let genuine: Record<string, unknown>;

  beforeAll(async () => {
    const fx = await makeFixture();
    bundle = await makeBundle(fx, makeLog(20), 5, 12, 20);
    const anchor = bundle.anchor!;
    keys = {
      jwks: fx.jwks as never,
      checkpointKeys: fx.checkpointKeys,
      tsaRoots: [],
      anchor: {
        chainId: anchor.chainId,
        contract: anchor.contract.toLowerCase(),
        anchorer: operator,
        origin: fx.origin,
        confirmations: 3,
        retired: [],
      },
    };
    genuine = {
      size: anchor.size,
      root: anchor.root,
      block: anchor.block,
      chainId: anchor.chainId,
      contract: anchor.contract.toLowerCase(),
      anchorer: operator,
      from: operator,
      confirmations: 5,
    };
  });

  function apiAnswering(answer: Record<string, unknown> | 'not-found') {
    const asked: { txHash: string; contract?: string }[] = [];
    return {
      asked,
      api: {
        ledgerTx: async () => ({
          valid: true,
          block: bundle.ledger!.block,
          size: bundle.ledger!.size,
          root: bundle.ledger!.root,
        }),
        anchorTx: async (txHash: string, contract?: string): Promise<AnchorTxAnswer> => {
          asked.push({ txHash, contract });
          if (answer === 'not-found') throw new ApiError('NOT_FOUND', 404);
          return parseAnchorTx(answer);
        },
      },
    };
  }
  const anchorOf = (run: CheckRun) => run.steps.find((s) => s.step === 'anchor')!;

  it("passes the operator's own anchor, asking the proxy for the bundle's contract", async () => {
    const { api, asked } = apiAnswering(genuine);
    const run = await runChecks(bundle, bundle.record.digests.sha256, { api, keys });
    expect(anchorOf(run)).toMatchObject({ status: 'pass' });
    expect(verdictOf([run])).toBe('ok');
    expect(asked).toEqual([{ txHash: bundle.anchor!.txHash, contract: bundle.anchor!.contract }]);
    setLang('en', null);
    expect(describeStep(anchorOf(run), bundle, 'certificate').sentence).toMatch(
      /^Read through the operator's proxy: .*sent from the operator's published address; the weaker check/,
    );
  });

  it('marks a pass read through the proxy as the weaker check, unlike one read from the reader’s node', async () => {
    const { api } = apiAnswering(genuine);
    const viaProxy = await runChecks(bundle, bundle.record.digests.sha256, { api, keys });
    expect(viaProxy.anchorRead).toEqual({ via: 'proxy' });
    const onNode = { ...viaProxy, anchorRead: { via: 'node' as const, rpcUrl: 'http://127.0.0.1:8545/' } };
    for (const lang of ['en', 'zh-CN'] as const) {
      setLang(lang, null);
      const proxied = describeStep(anchorOf(viaProxy), bundle, 'file', undefined, viaProxy.anchorRead);
      const own = describeStep(anchorOf(onNode), bundle, 'file', undefined, onNode.anchorRead);
      expect(proxied).toMatchObject({ status: 'pass', read: 'proxy' });
      expect(own).toMatchObject({ status: 'pass', read: 'node' });
      expect(proxied.statusWord).not.toBe(own.statusWord);
      expect(own.sentence).toContain('127.0.0.1:8545');
      if (lang === 'en') {
        expect(proxied.statusWord).toBe("Passed (via the operator's proxy)");
        expect(proxied.sentence).toMatch(/^Read through the operator's proxy: .*the weaker check.*\?rpc=/);
      } else {
        expect(proxied.statusWord).toBe('通过（经运营方代理）');
        expect(proxied.sentence).toMatch(/^经运营方代理读取：.*较弱的核对.*\?rpc=/);
      }
    }
  });

  it('fails the genuine checkpoint anchored from another address, and says so', async () => {
    const { api } = apiAnswering({ ...genuine, anchorer: stranger, from: stranger });
    const run = await runChecks(bundle, bundle.record.digests.sha256, { api, keys });
    expect(anchorOf(run)).toMatchObject({ status: 'fail', code: 'ANCHOR_FOREIGN_SENDER' });
    expect(verdictOf([run])).toBe('fail');
    setLang('en', null);
    expect(describeStep(anchorOf(run), bundle, 'file').sentence).toContain(
      "not sent from the operator's published anchoring address",
    );
    setLang('zh-CN', null);
    expect(describeStep(anchorOf(run), bundle, 'file').sentence).toContain(
      '不是从运营方公布的锚定地址发送的',
    );
  });

  it('fails an anchor on another deployment of the contract without asking the proxy', async () => {
    const { api, asked } = apiAnswering(genuine);
    const foreign = structuredClone(bundle);
    foreign.anchor!.contract = `0x${'77'.repeat(20)}`;
    const run = await runChecks(foreign, bundle.record.digests.sha256, { api, keys });
    expect(anchorOf(run)).toMatchObject({ status: 'fail', code: 'ANCHOR_FOREIGN_CONTRACT' });
    expect(asked).toEqual([]);
    setLang('en', null);
    expect(describeStep(anchorOf(run), foreign, 'file').sentence).toContain('not on the operator');
    // The proxy itself reading the event from another contract: refused the same way.
    const { api: proxied } = apiAnswering({ ...genuine, contract: `0x${'77'.repeat(20)}` });
    const viaProxy = await runChecks(bundle, bundle.record.digests.sha256, { api: proxied, keys });
    expect(anchorOf(viaProxy)).toMatchObject({ status: 'fail', code: 'ANCHOR_FOREIGN_CONTRACT' });
  });

  it('fails another chain, too few confirmations, and a transaction without the anchor', async () => {
    for (const [answer, code] of [
      [{ ...genuine, chainId: 'eip155:1' }, 'ANCHOR_FOREIGN_CHAIN'],
      [{ ...genuine, confirmations: 1 }, 'ANCHOR_NOT_CONFIRMED'],
      ['not-found', 'ANCHOR_MISMATCH'],
    ] as const) {
      const { api } = apiAnswering(answer);
      const run = await runChecks(bundle, bundle.record.digests.sha256, { api, keys });
      expect(anchorOf(run)).toMatchObject({ status: 'fail', code });
    }
  });

  it('says "not pinned" when the gateway publishes no identity: neither passed nor failed', async () => {
    const { api } = apiAnswering({ size: genuine.size, root: genuine.root, block: genuine.block });
    const unpinned = { ...keys, anchor: undefined };
    const run = await runChecks(bundle, bundle.record.digests.sha256, { api, keys: unpinned });
    expect(anchorOf(run)).toMatchObject({ status: 'skipped', code: 'ANCHOR_NOT_PINNED' });
    expect(verdictOf([run])).toBe('ok');
    setLang('en', null);
    expect(describeStep(anchorOf(run), bundle, 'file').sentence).toContain('publishes no anchoring address');
    expect(anchorIdentityWords(unpinned)).toBe('no anchoring address or contract published by this gateway');
    expect(anchorIdentityWords(keys)).toContain(`sent from ${operator}`);
  });

  it("checks the file's SM3 against a record that carries one, and ignores it for a record without", async () => {
    const { api } = apiAnswering(genuine);
    const digestOf = (run: CheckRun) => run.steps.find((s) => s.step === 'digest')!;
    const sm3 = 'ab'.repeat(32);
    expect(digestOf(await runChecks(bundle, bundle.record.digests.sha256, { api, keys, sm3 })).status).toBe(
      'pass',
    );
    // A record with digests.sm3 (its leaf no longer matches, but the digest step judges alone).
    const withSm3 = structuredClone(bundle);
    withSm3.record.digests.sm3 = sm3;
    const same = digestOf(await runChecks(withSm3, bundle.record.digests.sha256, { api, keys, sm3 }));
    expect(same.status).toBe('pass');
    expect(same.detail).toContain(`SM3 ${sm3}`);
    const other = digestOf(
      await runChecks(withSm3, bundle.record.digests.sha256, { api, keys, sm3: 'cd'.repeat(32) }),
    );
    expect(other).toMatchObject({ status: 'fail', code: 'DIGEST_MISMATCH' });
  });
});
