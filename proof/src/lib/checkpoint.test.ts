import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import vectors from '../../test-vectors/checkpoint.json' with { type: 'json' };
import {
  deriveNotePublicKey,
  formatCheckpoint,
  noteKeyAlgorithm,
  noteVerifierKey,
  parseCheckpoint,
  signCheckpoint,
  signNote,
  verifyCheckpoint,
  verifyNote,
} from './checkpoint.ts';
import { sha256 } from './digest.ts';
import * as browserEd from './ed25519-browser.ts';
import * as nodeEd from './ed25519-node.ts';
import { fromBase64, fromHex, toHex } from './encoding.ts';
import { ProofError } from './errors.ts';
import { sm2RandomPrivateKey, sm2Sign } from './sm2.ts';

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return err instanceof ProofError ? err.code : `untyped ${String(err)}`;
  }
  return undefined;
}

const cp = vectors.checkpoint;
const seed = fromHex(cp.seed);
const signer = { name: cp.name, privateKey: seed };
const go = vectors.goNote;
// The Go signer key is PRIVATE+KEY+<name>+<hash>+base64(0x01 ‖ seed).
const goSeed = fromBase64(go.signerKey.split('+').slice(4).join('+')).subarray(1);

describe('signed notes (C2SP signed-note)', () => {
  it('reproduces the Go sumdb/note example byte for byte and verifies it', () => {
    expect(noteVerifierKey('PeterNeumann', deriveNotePublicKey(goSeed))).toBe(go.verifierKey);
    expect(signNote(go.text, { name: 'PeterNeumann', privateKey: goSeed })).toBe(go.note);
    expect(verifyNote(go.note, [go.verifierKey])).toEqual({
      text: go.text,
      verifiedBy: ['PeterNeumann'],
      algorithms: ['ed25519'],
    });
  });

  it('rejects the Go example with one changed letter', async () => {
    expect(
      await codeOf(() => verifyNote(go.note.replace('cryptography', 'cryptographY'), [go.verifierKey])),
    ).toBe('BAD_SIGNATURE');
  });

  it('node and browser Ed25519 agree on keys, signatures and verification', () => {
    const msg = new TextEncoder().encode(cp.body);
    expect(toHex(browserEd.publicKey(seed))).toBe(toHex(nodeEd.publicKey(seed)));
    const sig = nodeEd.signMessage(seed, msg);
    expect(toHex(browserEd.signMessage(seed, msg))).toBe(toHex(sig));
    const pub = nodeEd.publicKey(seed);
    expect(browserEd.verifyMessage(pub, msg, sig)).toBe(true);
    expect(nodeEd.verifyMessage(pub, msg, sig)).toBe(true);
    const bad = sig.slice();
    bad[10]! ^= 1;
    expect(browserEd.verifyMessage(pub, msg, bad)).toBe(false);
    expect(nodeEd.verifyMessage(pub, msg, bad)).toBe(false);
    expect(nodeEd.verifyMessage(new Uint8Array(32).fill(0xff), msg, sig)).toBe(false);
    expect(browserEd.verifyMessage(new Uint8Array(32).fill(0xff), msg, sig)).toBe(false);
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  it('formats the body and signs it as in the vector', async () => {
    const body = formatCheckpoint({ origin: cp.origin, size: cp.size, rootHash: fromHex(cp.rootHash) });
    expect(body).toBe(cp.body);
    expect(body).toBe(`${cp.origin}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n`);
    expect(await signCheckpoint(body, signer)).toBe(cp.note);
    expect(noteVerifierKey(cp.name, deriveNotePublicKey(seed))).toBe(cp.verifierKey);
  });

  it('verifies, and the signature checks out with node:crypto directly', async () => {
    const { checkpoint, verifiedBy } = await verifyCheckpoint(cp.note, [cp.verifierKey]);
    expect(verifiedBy).toEqual([cp.name]);
    expect(checkpoint.origin).toBe(cp.origin);
    expect(checkpoint.size).toBe(8);
    expect(toHex(checkpoint.rootHash)).toBe(cp.rootHash);
    const sigLine = cp.note.split('\n').find((l) => l.startsWith('\u2014'))!;
    const raw = fromBase64(sigLine.split(' ')[2]!);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), fromHex(cp.publicKey)]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(verify(null, Buffer.from(cp.body), key, raw.subarray(4))).toBe(true);
  });

  it('carries extension lines', () => {
    const body = formatCheckpoint({
      origin: cp.origin,
      size: 8,
      rootHash: fromHex(cp.rootHash),
      extensions: vectors.withExtension.extensions,
    });
    expect(body).toBe(vectors.withExtension.body);
    expect(parseCheckpoint(body).extensions).toEqual(vectors.withExtension.extensions);
  });

  it('accepts cosignatures: either key alone verifies, both verify together, unknown signers are ignored', async () => {
    const co = vectors.cosigned;
    expect(await signCheckpoint(cp.note, { name: co.name, privateKey: fromHex(co.seed) })).toBe(co.note);
    expect((await verifyCheckpoint(co.note, [cp.verifierKey])).verifiedBy).toEqual([cp.name]);
    expect((await verifyCheckpoint(co.note, [co.verifierKey])).verifiedBy).toEqual([co.name]);
    expect((await verifyCheckpoint(co.note, [co.verifierKey, cp.verifierKey])).verifiedBy).toEqual([
      cp.name,
      co.name,
    ]);
  });

  it('parses a signed note or a bare body without checking signatures', () => {
    expect(toHex(parseCheckpoint(cp.note).rootHash)).toBe(cp.rootHash);
    expect(parseCheckpoint(cp.body).size).toBe(8);
  });

  it('fails with UNKNOWN_KEY when no known key signed', async () => {
    expect(await codeOf(() => verifyCheckpoint(cp.note, [go.verifierKey]))).toBe('UNKNOWN_KEY');
    expect(await codeOf(() => verifyCheckpoint(cp.note, []))).toBe('UNKNOWN_KEY');
    // same name, other key: the key hash differs, so it is not this key's signature
    const other = noteVerifierKey(cp.name, deriveNotePublicKey(new Uint8Array(32).fill(1)));
    expect(await codeOf(() => verifyCheckpoint(cp.note, [other]))).toBe('UNKNOWN_KEY');
  });

  it('fails with BAD_SIGNATURE when the body or signature is tampered with', async () => {
    const tampered = cp.note.replace('\n8\n', '\n9\n');
    expect(await codeOf(() => verifyCheckpoint(tampered, [cp.verifierKey]))).toBe('BAD_SIGNATURE');
    const lines = cp.note.split('\n');
    const sigLine = lines[4]!;
    const raw = fromBase64(sigLine.split(' ')[2]!);
    raw[20]! ^= 0x80;
    const badSig = cp.note.replace(sigLine, `\u2014 ${cp.name} ${Buffer.from(raw).toString('base64')}`);
    expect(await codeOf(() => verifyCheckpoint(badSig, [cp.verifierKey]))).toBe('BAD_SIGNATURE');
  });

  const malformedNotes: [string, string][] = [
    ['no signature block', cp.body],
    ['no final newline', cp.note.slice(0, -1)],
    ['a hyphen instead of an em dash', cp.note.replace('\u2014', '-')],
    ['a signature that is not base64', cp.note.replace(/ [A-Za-z0-9+/=]+\n$/, ' !!!!\n')],
    ['a signature too short', cp.note.replace(/ [A-Za-z0-9+/=]+\n$/, ' AAAA\n')],
    ['a control character', cp.note.replace('lianzheng.test/log\n8', 'lianzheng.test/log\u0007\n8')],
    ['an empty signature line', `${cp.note}\n`],
    ['not a string', 42 as unknown as string],
  ];
  it.each(malformedNotes)('fails with BAD_NOTE for %s', async (_name, note) => {
    expect(await codeOf(() => verifyCheckpoint(note, [cp.verifierKey]))).toBe('BAD_NOTE');
  });

  const malformedBodies: [string, string][] = [
    ['two lines', 'origin\n8\n'],
    ['an empty origin', '\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n'],
    ['a size with a leading zero', 'o\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n'],
    ['a negative size', 'o\n-1\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n'],
    ['a size beyond 2^53', 'o\n9007199254740993\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n'],
    ['a short root', 'o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQ==\n'],
    ['a root that is not base64', 'o\n8\n%%%\n'],
  ];
  it.each(malformedBodies)(
    'fails with BAD_CHECKPOINT for a body with %s, signed or not',
    async (_name, body) => {
      expect(await codeOf(() => parseCheckpoint(body))).toBe('BAD_CHECKPOINT');
      const signed = signNote(body, signer);
      expect(await codeOf(() => verifyCheckpoint(signed, [cp.verifierKey]))).toBe('BAD_CHECKPOINT');
      expect(await codeOf(() => signCheckpoint(body, signer))).toBe('BAD_CHECKPOINT');
    },
  );

  it('refuses bad checkpoint fields when formatting', async () => {
    const rootHash = fromHex(cp.rootHash);
    expect(await codeOf(() => formatCheckpoint({ origin: '', size: 1, rootHash }))).toBe('BAD_CHECKPOINT');
    expect(await codeOf(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash }))).toBe(
      'BAD_CHECKPOINT',
    );
    expect(await codeOf(() => formatCheckpoint({ origin: 'o', size: -1, rootHash }))).toBe('BAD_CHECKPOINT');
    expect(await codeOf(() => formatCheckpoint({ origin: 'o', size: 1.5, rootHash }))).toBe('BAD_CHECKPOINT');
    expect(
      await codeOf(() => formatCheckpoint({ origin: 'o', size: 1, rootHash: rootHash.subarray(1) })),
    ).toBe('BAD_LENGTH');
    expect(await codeOf(() => formatCheckpoint({ origin: 'o', size: 1, rootHash, extensions: [''] }))).toBe(
      'BAD_CHECKPOINT',
    );
  });

  const [, keyHashHex] = cp.verifierKey.split('+') as [string, string];
  const keyB64 = cp.verifierKey.split('+').slice(2).join('+');
  const badKeys: [string, string][] = [
    ['two parts', 'name+c74f20a3'],
    ['a wrong hash', cp.verifierKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+')],
    ['an unknown algorithm', `${cp.name}+${keyHashHex}+Ag${keyB64.slice(2)}`],
    ['a short key', `${cp.name}+${keyHashHex}+AQID`],
    ['a name with a space', 'a b+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
  ];
  it.each(badKeys)('fails with BAD_KEY for a verifier key with %s', async (_name, key) => {
    expect(await codeOf(() => verifyCheckpoint(cp.note, [key]))).toBe('BAD_KEY');
  });

  it('refuses bad signer keys and names', async () => {
    expect(
      await codeOf(() => signCheckpoint(cp.body, { name: cp.name, privateKey: new Uint8Array(31) })),
    ).toBe('BAD_KEY');
    expect(await codeOf(() => signCheckpoint(cp.body, { name: 'a+b', privateKey: seed }))).toBe('BAD_KEY');
    expect(await codeOf(() => noteVerifierKey('', deriveNotePublicKey(seed)))).toBe('BAD_KEY');
    expect(await codeOf(() => noteVerifierKey('n', new Uint8Array(5)))).toBe('BAD_KEY');
  });
});

describe('SM2 checkpoint signatures (signed-note type 0xff ‖ "SM2-with-SM3")', () => {
  const sm2Key = sm2RandomPrivateKey();
  const sm2Signer = { name: cp.name, privateKey: sm2Key, algorithm: 'sm2' as const };
  const sm2Vkey = noteVerifierKey(cp.name, deriveNotePublicKey(sm2Key, 'sm2'), 'sm2');

  it('writes the verifier key as name+hash+base64(0xff ‖ "SM2-with-SM3" ‖ 04 ‖ x ‖ y)', () => {
    const [name, hash, b64] = [
      sm2Vkey.slice(0, cp.name.length),
      ...sm2Vkey.slice(cp.name.length + 1).split(/\+(.*)/s),
    ];
    expect(name).toBe(cp.name);
    expect(hash).toMatch(/^[0-9a-f]{8}$/);
    const raw = fromBase64(b64!);
    expect(raw[0]).toBe(0xff);
    expect(new TextDecoder().decode(raw.subarray(1, 13))).toBe('SM2-with-SM3');
    expect(toHex(raw.subarray(13))).toBe(toHex(deriveNotePublicKey(sm2Key, 'sm2')));
    expect(noteKeyAlgorithm(sm2Vkey)).toBe('sm2');
    expect(noteKeyAlgorithm(cp.verifierKey)).toBe('ed25519');
  });

  it('dual: an Ed25519 and an SM2 line on one checkpoint, both checked, either key alone enough', async () => {
    const dual = await signCheckpoint(await signCheckpoint(cp.body, signer), sm2Signer);
    expect(dual.split('\n— ').length).toBe(3);
    const both = await verifyCheckpoint(dual, [cp.verifierKey, sm2Vkey]);
    expect(both.algorithms).toEqual(['ed25519', 'sm2']);
    expect((await verifyCheckpoint(dual, [sm2Vkey])).algorithms).toEqual(['sm2']);
    expect((await verifyCheckpoint(dual, [cp.verifierKey])).algorithms).toEqual(['ed25519']);
  });

  it('gm: an SM2 line alone verifies; the Ed25519 key alone finds no signature', async () => {
    const gm = await signCheckpoint(cp.body, sm2Signer);
    expect((await verifyCheckpoint(gm, [sm2Vkey])).checkpoint.size).toBe(parseCheckpoint(cp.body).size);
    expect(await codeOf(() => verifyCheckpoint(gm, [cp.verifierKey]))).toBe('UNKNOWN_KEY');
  });

  it('refuses a dual checkpoint whose SM2 line is bad even though its Ed25519 line is good', async () => {
    const body = new TextEncoder().encode(cp.body);
    const dual = await signCheckpoint(await signCheckpoint(cp.body, signer), sm2Signer);
    const lines = dual.split('\n');
    const sm2Line = lines.findLastIndex((l) => l.startsWith('— '));
    const raw = fromBase64(lines[sm2Line]!.split(' ')[2]!);
    // A genuine SM2 signature, but of other text: the key hash matches, the signature does not.
    raw.set(sm2Sign(sm2Key, body.subarray(1)), 4);
    lines[sm2Line] = `— ${cp.name} ${Buffer.from(raw).toString('base64')}`;
    expect(await codeOf(() => verifyCheckpoint(lines.join('\n'), [cp.verifierKey, sm2Vkey]))).toBe(
      'BAD_SIGNATURE',
    );
    // Under another ID the same text's signature is not SM2-valid either (Z binds the ID).
    raw.set(sm2Sign(sm2Key, body, { id: 'ALICE123@YAHOO.COM' }), 4);
    lines[sm2Line] = `— ${cp.name} ${Buffer.from(raw).toString('base64')}`;
    expect(await codeOf(() => verifyCheckpoint(lines.join('\n'), [sm2Vkey]))).toBe('BAD_SIGNATURE');
  });

  it('refuses an SM2 verifier key that is off the curve or of the wrong length', async () => {
    const raw = fromBase64(sm2Vkey.split('+').slice(2).join('+'));
    expect(
      await codeOf(() =>
        verifyCheckpoint(cp.note, [
          `${sm2Vkey.split('+').slice(0, 2).join('+')}+${Buffer.from(raw.subarray(0, 70)).toString('base64')}`,
        ]),
      ),
    ).toBe('BAD_KEY');
    const gm = await signCheckpoint(cp.body, sm2Signer);
    const off = raw.slice();
    off[off.length - 1]! ^= 1;
    const offKey = noteVerifierKeyUnchecked(cp.name, off);
    expect(await codeOf(() => verifyCheckpoint(gm, [offKey]))).toBe('BAD_KEY');
  });
});

/** A verifier key with a correct hash over whatever bytes are given (to test the point check). */
function noteVerifierKeyUnchecked(name: string, typeAndKey: Uint8Array): string {
  const hash = sha256(new Uint8Array([...new TextEncoder().encode(name), 0x0a, ...typeAndKey])).subarray(
    0,
    4,
  );
  return `${name}+${toHex(hash)}+${Buffer.from(typeAndKey).toString('base64')}`;
}
