// What people paste is rarely clean: a digest copied from a PDF has spaces or line breaks in it,
// tools print it in upper case, some prefix it with "sha256:" or wrap it in quotes. Accept all of
// that, and nothing that is not 64 hexadecimal digits once cleaned.

export type Sha256InputResult =
  | { ok: true; sha256: string }
  | { ok: false; code: 'EMPTY' | 'BAD_LENGTH' | 'NOT_HEX'; length: number };

export function normaliseSha256Input(input: string): Sha256InputResult {
  let s = input.normalize('NFKC').replace(/[\s\u200b-\u200d\ufeff"'`“”‘’]/g, '');
  s = s.replace(/^sha-?256[:=]/i, '').replace(/^0x/i, '');
  s = s.toLowerCase();
  if (s.length === 0) return { ok: false, code: 'EMPTY', length: 0 };
  if (!/^[0-9a-f]*$/.test(s)) return { ok: false, code: 'NOT_HEX', length: s.length };
  if (s.length !== 64) return { ok: false, code: 'BAD_LENGTH', length: s.length };
  return { ok: true, sha256: s };
}
