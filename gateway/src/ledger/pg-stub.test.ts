import { createCompositeKey as fabricCompositeKey } from '@lianzheng/chaincode/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LedgerError } from './ledger.ts';
import { createCompositeKey, keyBytes } from './pg-stub.ts';

describe('the PostgreSQL stub’s keys', () => {
  it('encodes composite keys exactly as Fabric (and the chaincode’s test stub) do', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => !s.includes('\u0000') && !s.includes('\u{10FFFF}')),
        fc.array(
          fc.string().filter((s) => !s.includes('\u0000') && !s.includes('\u{10FFFF}')),
          { maxLength: 4 },
        ),
        (type, attributes) => {
          expect(createCompositeKey(type, attributes)).toBe(fabricCompositeKey(type, attributes));
        },
      ),
    );
    expect(() => createCompositeKey('record', ['a\u0000b'])).toThrow();
  });

  it('orders keys bytewise as UTF-8, which is the order of the bytea primary key', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const byCodePoint = [...a].map((c) => c.codePointAt(0)!);
        const other = [...b].map((c) => c.codePointAt(0)!);
        let expected = 0;
        for (let i = 0; i < Math.min(byCodePoint.length, other.length) && expected === 0; i++) {
          expected = Math.sign(byCodePoint[i]! - other[i]!);
        }
        if (expected === 0) expected = Math.sign(byCodePoint.length - other.length);
        expect(Math.sign(Buffer.compare(keyBytes(a), keyBytes(b)))).toBe(expected);
      }),
    );
  });
});

describe('LedgerError', () => {
  it('tells a refused record from a refused batch by code', () => {
    expect(new LedgerError('BAD_REFERENCE', 'x').refusesRecord).toBe(true);
    expect(new LedgerError('NO_SUCH_PROJECT', 'x').refusesRecord).toBe(true);
    expect(new LedgerError('LOG_GAP', 'x').refusesRecord).toBe(false);
    expect(new LedgerError('LEDGER_UNAVAILABLE', 'x').refusesRecord).toBe(false);
  });
});
