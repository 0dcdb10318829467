// Checkpoint time-stamps with an SM3 imprint (CRYPTO_SUITE gm, issue #23): the token is over SM3 of
// the 32-byte root, from the SM2 TSA; proof's verifyCheckpointTimestamp reads which imprint a
// token holds, so SHA-256 tokens (intl, dual) and SM3 ones verify through the same call.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  checkpointTimestampImprint,
  sm3,
  timestampImprintAlgorithm,
  verifyCheckpointTimestamp,
} from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTimestampToken } from './checkpoint-token.ts';
import { initPki, loadLocalSm2TimeStampSigner, loadLocalTimeStampSigner } from './pki.ts';
import { createClockSerial } from './serial.ts';
import { routeByImprint, type TimeStampSigner } from './signer.ts';

let dir: string;
let signer: TimeStampSigner;
let roots: { ecdsa: string; sm2: string };
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-sm3-cp-'));
  const { paths } = await initPki({ dir, sm2Tsa: true });
  const nextSerial = createClockSerial();
  signer = routeByImprint(
    await loadLocalTimeStampSigner(dir, { nextSerial }),
    await loadLocalSm2TimeStampSigner(dir, { nextSerial }),
  );
  roots = {
    ecdsa: await fs.readFile(paths.rootCert, 'utf8'),
    sm2: await fs.readFile(paths.sm2RootCert, 'utf8'),
  };
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');

describe('checkpoint time-stamps by imprint', () => {
  it('an SM3 token is over SM3 of the root, and verifies against either root; a SHA-256 one is over the root', async () => {
    const root = randomBytes(32);
    const sm3Token = await createTimestampToken(signer, root, 'sm3');
    const shaToken = await createTimestampToken(signer, root);
    expect(timestampImprintAlgorithm(sm3Token)).toBe('sm3');
    expect(timestampImprintAlgorithm(shaToken)).toBe('sha256');
    expect(checkpointTimestampImprint(root, 'sm3')).toEqual(sm3(root));
    for (const pem of [roots.sm2, roots.ecdsa]) {
      const check = await verifyCheckpointTimestamp(b64(sm3Token), root, [pem]);
      expect(check.status, check.detail).toBe('pass');
    }
    expect((await verifyCheckpointTimestamp(b64(shaToken), root, [roots.ecdsa])).status).toBe('pass');
    // The SHA-256 token does not chain to the SM2 root (its TSA is the ECDSA root's).
    expect((await verifyCheckpointTimestamp(b64(shaToken), root, [roots.sm2])).code).toBe('TSA_UNTRUSTED');
  });

  it('refuses an SM3 token over another root, and one whose imprint is the root itself', async () => {
    const root = randomBytes(32);
    const other = await createTimestampToken(signer, randomBytes(32), 'sm3');
    expect((await verifyCheckpointTimestamp(b64(other), root, [roots.sm2])).code).toBe(
      'TSA_IMPRINT_MISMATCH',
    );
    // An SM3 token whose imprint is the root's bytes, not SM3 of them: not a checkpoint's.
    const raw = await signer.timestamp(root, { hashAlgorithm: 'sm3', certReq: true });
    expect((await verifyCheckpointTimestamp(b64(raw), root, [roots.sm2])).code).toBe('TSA_IMPRINT_MISMATCH');
    expect(timestampImprintAlgorithm(new Uint8Array([0x30, 0x00]))).toBeUndefined();
    expect(
      (await verifyCheckpointTimestamp(b64(new Uint8Array([0x30, 0x00])), root, [roots.sm2])).status,
    ).toBe('fail');
  });
});
