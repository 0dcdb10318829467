import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import cidVectors from '../../test-vectors/cid.json' with { type: 'json' };
import shaVectors from '../../test-vectors/sha256.json' with { type: 'json' };
import { cidFromSha256, createSha256, sha256 } from './digest.ts';
import { fromBase64, fromHex, hashFromHex, isSha256Hex, toBase64, toHex } from './encoding.ts';
import { ProofError } from './errors.ts';
import * as browser from './sha256-browser.ts';
import * as node from './sha256-node.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const nodeSha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ProofError ? err.code : `untyped ${String(err)}`;
  }
  return undefined;
}

function vectorInput(v: { utf8?: string; repeat?: string; count?: number }): Uint8Array {
  return v.repeat !== undefined ? utf8(v.repeat.repeat(v.count ?? 1)) : utf8(v.utf8 ?? '');
}

describe('sha256', () => {
  it.each(shaVectors.vectors)('matches the known answer %#', (v) => {
    const input = vectorInput(v);
    expect(toHex(sha256(input))).toBe(v.sha256);
    expect(toHex(browser.sha256Impl(input))).toBe(v.sha256);
    expect(toHex(createSha256().update(input).digest())).toBe(v.sha256);
  });

  it('returns plain 32-byte Uint8Arrays', () => {
    const d = sha256(utf8('abc'));
    expect(d).toBeInstanceOf(Uint8Array);
    expect(d.length).toBe(32);
  });

  it('agrees with node:crypto, and the node and browser implementations agree, on random inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const want = toHex(nodeSha(bytes));
        expect(toHex(sha256(bytes))).toBe(want);
        expect(toHex(node.sha256Impl(bytes))).toBe(want);
        expect(toHex(browser.sha256Impl(bytes))).toBe(want);
      }),
    );
  });

  it('streams in chunks of any size to the one-shot digest, in both implementations', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
        const whole = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) {
          whole.set(c, at);
          at += c.length;
        }
        const n = node.createSha256Impl();
        const b = browser.createSha256Impl();
        for (const c of chunks) {
          n.update(c);
          b.update(c);
        }
        const want = toHex(nodeSha(whole));
        expect(toHex(n.digest())).toBe(want);
        expect(toHex(b.digest())).toBe(want);
      }),
    );
  });

  it('leaf and node hashes agree between implementations and with node:crypto, large leaves included', () => {
    const left = randomBytes(32);
    const right = randomBytes(32);
    const want = nodeSha(Buffer.concat([Buffer.from([1]), left, right]));
    expect(toHex(node.nodeHashImpl(left, right))).toBe(toHex(want));
    expect(toHex(browser.nodeHashImpl(left, right))).toBe(toHex(want));
    for (const size of [0, 1, 64, 1023, 1024, 5000, 70_000, 200_000]) {
      const data = randomBytes(size);
      const leafWant = toHex(nodeSha(Buffer.concat([Buffer.from([0]), data])));
      expect(toHex(node.leafHashImpl(data))).toBe(leafWant);
      expect(toHex(browser.leafHashImpl(data))).toBe(leafWant);
    }
  });

  it('does not let a reused scratch buffer leak into earlier results', () => {
    const a = node.nodeHashImpl(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
    const copy = toHex(a);
    node.nodeHashImpl(new Uint8Array(32).fill(3), new Uint8Array(32).fill(4));
    node.leafHashImpl(new Uint8Array(5000).fill(9));
    expect(toHex(a)).toBe(copy);
  });
});

describe('cidFromSha256', () => {
  it.each(cidVectors.vectors)('gives the known CID of $utf8', (v) => {
    const digest = sha256(utf8(v.utf8));
    expect(toHex(digest)).toBe(v.sha256);
    expect(cidFromSha256(digest)).toBe(v.cid);
  });

  it('refuses a digest that is not 32 bytes', () => {
    expect(codeOf(() => cidFromSha256(new Uint8Array(31)))).toBe('BAD_LENGTH');
    expect(codeOf(() => cidFromSha256('ab' as unknown as Uint8Array))).toBe('BAD_LENGTH');
  });
});

describe('hex and base64', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(fromHex(toHex(bytes))).toEqual(bytes);
        expect(fromBase64(toBase64(bytes))).toEqual(bytes);
        expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      }),
    );
  });

  it('accepts either case of hex but produces lowercase', () => {
    expect(toHex(fromHex('ABcd'))).toBe('abcd');
  });

  it.each(['abc', 'zz', '0g', ' 00', 'éé'])('refuses %j as hex with BAD_HEX', (bad) => {
    expect(codeOf(() => fromHex(bad))).toBe('BAD_HEX');
  });

  it('isSha256Hex takes exactly 64 lowercase hex digits', () => {
    expect(isSha256Hex('a'.repeat(64))).toBe(true);
    expect(isSha256Hex('A'.repeat(64))).toBe(false);
    expect(isSha256Hex('a'.repeat(63))).toBe(false);
    expect(isSha256Hex('a'.repeat(65))).toBe(false);
    expect(isSha256Hex(42)).toBe(false);
    expect(codeOf(() => hashFromHex('A'.repeat(64)))).toBe('BAD_HEX');
  });

  it.each(['AA', 'AA=', 'AAA', 'A A=', 'AB==', '!!!!'])('refuses non-canonical base64 %j', (bad) => {
    expect(codeOf(() => fromBase64(bad))).toBe('BAD_BASE64');
  });
});
