import {
  createHash,
  type createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  deriveNotePublicKey,
  formatCheckpoint,
  noteVerifierKey,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint.ts';
import {
  acceptCosignatureLines,
  checkWitnessQuorum,
  cosignCheckpoint,
  cosignerVerifierKey,
  deriveCosignerPublicKey,
  parseCosignerKey,
  verifyCosignatures,
} from './cosignature.ts';
import { ProofError } from './errors.ts';

// A second implementation of C2SP tlog-cosignature (cosignature/v1), written from the spec text
// with node:crypto and Buffer only — none of the library's encoding, hashing or Ed25519 code — so
// a shared misreading cannot make both sides agree.
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
function specKeyId(name: string, pub: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0x0a, 0x04]), pub]))
    .digest()
    .subarray(0, 4);
}
function specVerify(note: string, name: string, pub: Buffer): { time: bigint } | null {
  const cut = note.lastIndexOf('\n\n');
  const body = note.slice(0, cut + 1);
  const want = specKeyId(name, pub);
  for (const line of note.slice(cut + 2).split('\n')) {
    const prefix = `\u2014 ${name} `;
    if (!line.startsWith(prefix)) continue;
    const blob = Buffer.from(line.slice(prefix.length), 'base64');
    if (blob.length !== 76 || !blob.subarray(0, 4).equals(want)) continue;
    const time = blob.readBigUInt64BE(4);
    const msg = Buffer.from(`cosignature/v1\ntime ${time.toString()}\n${body}`, 'utf8');
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, pub]), format: 'der', type: 'spki' });
    if (verify(null, msg, key, blob.subarray(12))) return { time };
  }
  return null;
}
function specCosign(
  body: string,
  name: string,
  seedKey: ReturnType<typeof createPrivateKey>,
  pub: Buffer,
  time: number,
) {
  const msg = Buffer.from(`cosignature/v1\ntime ${time}\n${body}`, 'utf8');
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(time));
  const blob = Buffer.concat([specKeyId(name, pub), ts, sign(null, msg, seedKey)]);
  return `\u2014 ${name} ${blob.toString('base64')}\n`;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ProofError ? err.code : `untyped ${String(err)}`;
  }
  return undefined;
}

const logSeed = new Uint8Array(32).fill(7);
const logKey = noteVerifierKey('log.example', deriveNotePublicKey(logSeed));
const wSeed = (n: number) => new Uint8Array(32).fill(n);
const witness = (n: number) => ({ name: `witness${n}.example/w`, privateKey: wSeed(n) });
const wKey = (n: number) => cosignerVerifierKey(witness(n).name, deriveCosignerPublicKey(wSeed(n)));
const body = formatCheckpoint({ origin: 'log.example', size: 5, rootHash: new Uint8Array(32).fill(9) });
const signed = await signCheckpoint(body, { name: 'log.example', privateKey: logSeed });

describe('cosignature/v1 (C2SP tlog-cosignature)', () => {
  it('is verified by an independent implementation written from the spec', () => {
    const line = cosignCheckpoint(signed, witness(1), 1_700_000_000);
    const note = signed + line;
    const pub = Buffer.from(deriveCosignerPublicKey(wSeed(1)));
    expect(specVerify(note, witness(1).name, pub)).toEqual({ time: 1_700_000_000n });
    // The vkey is name+hex(key ID)+base64(0x04 ‖ key), as the spec's vkey encoding says.
    expect(wKey(1)).toBe(
      `${witness(1).name}+${specKeyId(witness(1).name, pub).toString('hex')}+${Buffer.concat([Buffer.from([4]), pub]).toString('base64')}`,
    );
    // A changed body or time makes the independent check fail.
    expect(specVerify(note.replace('\n5\n', '\n6\n'), witness(1).name, pub)).toBeNull();
  });

  it('verifies a cosignature made by the independent implementation', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pub = Buffer.from(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
    const vkey = cosignerVerifierKey('notary.example/1', new Uint8Array(pub));
    const note = signed + specCosign(body, 'notary.example/1', privateKey, pub, 1_765_000_000);
    expect(verifyCosignatures(note, [vkey])).toEqual({
      cosignatures: [{ name: 'notary.example/1', time: 1_765_000_000, vkey }],
      invalid: [],
    });
  });

  it('leaves the log signature verifiable and the log line ignored by witness checks', async () => {
    const note = signed + cosignCheckpoint(signed, witness(1), 1);
    expect((await verifyCheckpoint(note, [logKey])).verifiedBy).toEqual(['log.example']);
    expect(verifyCosignatures(note, [wKey(2)]).cosignatures).toEqual([]);
  });

  it('counts a quorum and names invalid and untrusted lines apart', () => {
    let note = signed;
    for (const n of [1, 2, 3]) note += cosignCheckpoint(signed, witness(n), 100 + n);
    const all = checkWitnessQuorum(note, [wKey(1), wKey(2), wKey(3), wKey(4)], 3);
    expect(all.met).toBe(true);
    expect(all.cosignatures.map((c) => c.time)).toEqual([101, 102, 103]);
    expect(checkWitnessQuorum(note, [wKey(1), wKey(4)], 2).met).toBe(false);
    // A line by witness 2 over another checkpoint: invalid, and not counted.
    const other = formatCheckpoint({ origin: 'log.example', size: 6, rootHash: new Uint8Array(32).fill(1) });
    const forged = signed + cosignCheckpoint(other, witness(2), 5) + cosignCheckpoint(signed, witness(1), 5);
    const r = checkWitnessQuorum(forged, [wKey(1), wKey(2)], 2);
    expect(r).toMatchObject({ met: false, invalid: ['witness2.example/w'], quorum: 2, of: 2 });
    expect(r.cosignatures.map((c) => c.name)).toEqual(['witness1.example/w']);
  });

  it('refuses cosignatures dated too far in the future when asked', () => {
    const note = signed + cosignCheckpoint(signed, witness(1), 2_000);
    expect(verifyCosignatures(note, [wKey(1)], { now: 1_000, maxFutureSeconds: 60 }).invalid).toEqual([
      'witness1.example/w',
    ]);
    expect(
      verifyCosignatures(note, [wKey(1)], { now: 1_990, maxFutureSeconds: 60 }).cosignatures,
    ).toHaveLength(1);
  });

  it('refuses malformed keys: wrong type byte, wrong ID, a log key', () => {
    const good = parseCosignerKey(wKey(1));
    expect(good.publicKey).toHaveLength(32);
    expect(codeOf(() => parseCosignerKey(logKey))).toBe('BAD_KEY');
    expect(codeOf(() => parseCosignerKey(wKey(1).replace(/\+[0-9a-f]{8}\+/, '+00000000+')))).toBe('BAD_KEY');
    expect(codeOf(() => parseCosignerKey('a b+00000000+BA=='))).toBe('BAD_KEY');
    expect(codeOf(() => checkWitnessQuorum(signed, [wKey(1)], 2))).toBe('BAD_KEY');
  });

  it('keeps the valid lines of a witness answer and refuses an answer with none', () => {
    const line = cosignCheckpoint(signed, witness(1), 42);
    expect(acceptCosignatureLines(signed, line, wKey(1))).toEqual([line]);
    expect(codeOf(() => acceptCosignatureLines(signed, line, wKey(2)))).toBe('BAD_SIGNATURE');
    expect(codeOf(() => acceptCosignatureLines(signed, 'nonsense\n', wKey(1)))).toBe('BAD_NOTE');
  });
});
