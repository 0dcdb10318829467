import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import schema from '../bundle.schema.json' with { type: 'json' };
import { makeBundle, makeFixture, makeGroupReceipts, makeLog } from './_fixtures.ts';
import type { ProofBundle } from './bundle.ts';

const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);
// biome-ignore lint/suspicious/noExplicitAny: the cases reach into arbitrary JSON paths
type Json = Record<string, any>;
let good: ProofBundle;
let groupReceipt: string;

beforeAll(async () => {
  const fx = await makeFixture();
  const log = makeLog(9);
  good = await makeBundle(fx, log, 3, 6, 9);
  groupReceipt = (await makeGroupReceipts(fx, log.records))[3]!;
  good.timestamp = { token: 'dG9rZW4=' };
});

describe('bundle.schema.json', () => {
  it('accepts a bundle verifyBundle passes, and a bare accepted one', () => {
    expect(validate(good), JSON.stringify(validate.errors)).toBe(true);
    const accepted: Partial<ProofBundle> = structuredClone(good);
    delete accepted.inclusion;
    delete accepted.ledger;
    delete accepted.anchor;
    delete accepted.timestamp;
    delete accepted.details;
    expect(validate(accepted), JSON.stringify(validate.errors)).toBe(true);
  });

  it('accepts a group receipt, and refuses a receipt with a malformed item', () => {
    expect(validate({ ...good, receipt: groupReceipt }), JSON.stringify(validate.errors)).toBe(true);
    for (const receipt of [`${good.receipt}~`, `${good.receipt}~a.01.b`, `${groupReceipt}~x`]) {
      expect(validate({ ...good, receipt }), receipt.slice(-20)).toBe(false);
    }
  });

  const bad: [string, (b: Json) => void][] = [
    ['another version', (b) => (b.version = 'lianzheng-bundle/2')],
    ['an unknown top-level field', (b) => (b.extra = true)],
    ['an unknown record field', (b) => (b.record.extra = true)],
    ['an upper-case digest', (b) => (b.record.digests.sha256 = b.record.digests.sha256.toUpperCase())],
    ['an unknown kind', (b) => (b.record.kind = 'poem')],
    ['a time without milliseconds', (b) => (b.record.acceptedAt = '2026-03-01T08:00:00Z')],
    ['a fractional amount', (b) => (b.details.amount = '1.5')],
    ['a short salt', (b) => (b.details.salt = 'abcd')],
    ['a negative index', (b) => (b.inclusion.index = -1)],
    ['a path of non-hashes', (b) => (b.inclusion.path = ['xyz'])],
    ['an unknown ledger network', (b) => (b.ledger.network = 'bitcoin')],
    ['a chain id that is not CAIP-2', (b) => (b.anchor.chainId = '31337')],
    ['no receipt', (b) => delete b.receipt],
  ];
  it.each(bad)('rejects %s', (_name, change) => {
    const b = structuredClone(good) as unknown as Json;
    change(b);
    expect(validate(b)).toBe(false);
  });
});
