import { describe, expect, it } from 'vitest';
import { normaliseSha256Input } from './normalise.ts';

const HEX = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

describe('normaliseSha256Input', () => {
  it.each([
    HEX,
    HEX.toUpperCase(),
    `  ${HEX}\n`,
    HEX.replace(/(.{8})/g, '$1 '),
    HEX.replace(/(.{16})/g, '$1\n'),
    `sha256:${HEX}`,
    `SHA-256=${HEX}`,
    `"${HEX}"`,
    `0x${HEX}`,
    // Full-width digits and letters, as some Chinese input methods produce them.
    HEX.replace(/[0-9a-f]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)),
  ])('accepts %j', (input) => {
    expect(normaliseSha256Input(input)).toEqual({ ok: true, sha256: HEX });
  });

  it.each([
    ['', 'EMPTY'],
    ['   ', 'EMPTY'],
    [HEX.slice(1), 'BAD_LENGTH'],
    [`${HEX}00`, 'BAD_LENGTH'],
    [`${HEX.slice(1)}g`, 'NOT_HEX'],
    ['not a hash', 'NOT_HEX'],
  ])('refuses %j with %s', (input, code) => {
    const r = normaliseSha256Input(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });
});
