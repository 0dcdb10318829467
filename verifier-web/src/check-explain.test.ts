import { type ProofBundle, parseCheckpoint, recordLeafHash, toHex, VERIFY_STEPS } from '@lianzheng/proof';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBundle, makeFixture, makeLog } from '../../proof/src/lib/_fixtures.ts';
import { stepValues } from './check-explain.ts';
import { setLang } from './i18n.ts';
import { messagesEn, messagesZh } from './messages.ts';

let bundle: ProofBundle;

beforeAll(async () => {
  setLang('zh-CN', null);
  bundle = await makeBundle(await makeFixture(), makeLog(20), 5, 12, 20);
});

describe('what each check compared (the details toggle)', () => {
  it('shows the hashes a check compared, computed from the bundle itself', () => {
    expect(stepValues('digest', bundle)).toEqual([['SHA-256 摘要', bundle.record.digests.sha256]]);
    expect(stepValues('leaf', bundle)).toEqual([['叶子哈希', toHex(recordLeafHash(bundle.record))]]);
    const root = toHex(parseCheckpoint(bundle.inclusion!.checkpoint).rootHash);
    expect(stepValues('inclusion', bundle)).toEqual([
      ['位置', '5 / 12'],
      ['日志根哈希', root],
    ]);
    expect(stepValues('receipt', bundle)).toEqual([['签名密钥', 'receipt-1']]);
    expect(stepValues('anchor', bundle).map(([k]) => k)).toEqual(['锚定交易', '合约', '区块']);
  });

  it('shows nothing for a step the bundle has nothing for', () => {
    const { ledger: _l, anchor: _a, timestamp: _t, ...bare } = bundle;
    expect(stepValues('ledger', bare as ProofBundle)).toEqual([]);
    expect(stepValues('timestamp', bare as ProofBundle)).toEqual([]);
    expect(stepValues('unknown', bundle)).toEqual([]);
  });

  it('has a plain explanation for every step, in both languages', () => {
    // Every step the checks run, from the one list they run in: a new step needs its words.
    for (const step of VERIFY_STEPS) {
      const key = `explain.${step}` as keyof typeof messagesZh;
      expect(messagesZh[key], step).toBeTruthy();
      expect(messagesEn[key], step).toBeTruthy();
    }
  });
});
