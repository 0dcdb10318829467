import { describe, expect, it } from 'vitest';
import { children, DerError, parseDer, readOid, readTime, readUint, TAG } from './_der.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));

describe('DER reader', () => {
  it('reads OIDs, integers and nested sequences', () => {
    const t = parseDer(hex('300e 0609 608648016503040201 020105'));
    const [oid, int] = children(t);
    expect(readOid(oid)).toBe('2.16.840.1.101.3.4.2.1');
    expect(readUint(int)).toBe(5n);
  });

  it('reads long-form lengths', () => {
    const body = new Uint8Array(200).fill(0x41);
    const der = new Uint8Array([0x04, 0x81, 200, ...body]);
    const t = parseDer(der);
    expect(t.end - t.contentStart).toBe(200);
  });

  it('reads GeneralizedTime with and without fractions, and UTCTime', () => {
    const gt = (s: string) => ({
      buf: new TextEncoder().encode(s),
      tag: TAG.GENERALIZED_TIME,
      start: 0,
      contentStart: 0,
      end: s.length,
    });
    expect(readTime(gt('20260102030405.12Z')).toISOString()).toBe('2026-01-02T03:04:05.120Z');
    expect(readTime(gt('20260102030405Z')).toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(() => readTime(gt('20260102030405.10Z'))).toThrow(DerError); // trailing zero is not DER
    const ut = { ...gt('491231235959Z'), tag: TAG.UTC_TIME };
    expect(readTime(ut).toISOString()).toBe('2049-12-31T23:59:59.000Z');
  });

  it('refuses indefinite, non-minimal and truncated lengths, trailing bytes and negative integers', () => {
    for (const bad of ['3080 0000', '04 81 05 0102030405', '04 05 0102', '02 01 01 00', '30']) {
      expect(() => parseDer(hex(bad.replace(/ /g, '')))).toThrow(DerError);
    }
    expect(() => readUint(parseDer(hex('0201ff')))).toThrow(DerError);
  });
});
