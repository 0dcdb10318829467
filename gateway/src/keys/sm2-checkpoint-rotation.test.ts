// Rotating the SM2 checkpoint key (issue #23): old checkpoints keep verifying, the hand-over is a
// note signed by both keys that a trust file pinning the old key follows, other processes pick the
// new key up in place (the batcher holds the signer), and receipt rotations stay a chain of their own.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  checkCheckpointKeyRotation,
  checkTrustWithRotations,
  followRotations,
  formatCheckpoint,
  jwkThumbprint,
  signCheckpoint,
  trustOf,
  verifyCheckpoint,
} from '@lianzheng/proof';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyRing } from './key-ring.ts';

const dirs: string[] = [];
async function tempDir() {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-keys-cp-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

const ORIGIN = 'example.org/log';
async function checkpoint(ring: KeyRing, size: number): Promise<string> {
  let note = formatCheckpoint({ origin: ORIGIN, size, rootHash: new Uint8Array(32).fill(size) });
  for (const s of ring.checkpointSigners()) note = await signCheckpoint(note, s);
  return note;
}
const published = (ring: KeyRing) => ({
  jwks: ring.jwks(),
  checkpointKeys: ring.checkpointKeys(),
  rotations: ring.rotations(),
  checkpointRotations: ring.checkpointRotations(),
});

describe('KeyRing.rotateSm2CheckpointKey', () => {
  it('signs with a new SM2 key; old and new checkpoints verify; a trust file pinning the old key follows the statement', async () => {
    const dir = await tempDir();
    const ring = await KeyRing.load(dir, { logOrigin: ORIGIN, suite: 'dual' });
    const trust = trustOf(published(ring));
    const [ed, sm2Before] = ring.checkpointKeys() as [string, string];
    const signers = ring.checkpointSigners();
    const before = await checkpoint(ring, 1);
    expect(ring.checkpointRotations()).toEqual([]);

    const { vkey, statement } = await ring.rotateSm2CheckpointKey();
    expect(vkey).not.toBe(sm2Before);
    expect(ring.checkpointKeys()).toEqual([ed, sm2Before, vkey]);
    // The batcher's signer objects are the ring's: updated in place.
    expect(signers[1]!.vkey).toBe(vkey);
    expect(ring.checkpointSigners()[1]).toBe(signers[1]);
    expect(checkCheckpointKeyRotation(statement)).toMatchObject({ previous: sm2Before, next: vkey });

    const after = await checkpoint(ring, 2);
    for (const note of [before, after])
      expect((await verifyCheckpoint(note, ring.checkpointKeys())).algorithms).toEqual(['ed25519', 'sm2']);
    // The new checkpoint's SM2 line is the new key's: the old key alone does not verify it.
    await expect(verifyCheckpoint(after, [sm2Before])).rejects.toMatchObject({ code: 'UNKNOWN_KEY' });
    expect((await verifyCheckpoint(after, [vkey])).algorithms).toEqual(['sm2']);

    expect(await checkTrustWithRotations(trust, published(ring))).toEqual({
      ok: true,
      differences: [],
      followed: 1,
    });
    // Without the statement the new key is a difference.
    const bare = await checkTrustWithRotations(trust, { ...published(ring), checkpointRotations: [] });
    expect(bare.ok).toBe(false);

    // A second rotation extends the chain; the files hold it across a restart.
    const second = await ring.rotateSm2CheckpointKey();
    const reloaded = await KeyRing.load(dir, { logOrigin: ORIGIN, suite: 'dual' });
    expect(reloaded.checkpointKeys()).toEqual([ed, sm2Before, vkey, second.vkey]);
    expect(reloaded.checkpointSigners()[1]!.vkey).toBe(second.vkey);
    expect(reloaded.checkpointRotations()).toHaveLength(2);
    expect(await checkTrustWithRotations(trust, published(reloaded))).toMatchObject({
      ok: true,
      followed: 2,
    });
    // The SM2 key of sm2-key.json stays the first SM2 receipt key; its JWK is still published.
    expect(reloaded.sm2ReceiptPublicKeys()).toHaveLength(1);
    expect(reloaded.sm2CheckpointPublicKeys()).toHaveLength(3);
  });

  it('another process picks the rotation up on refresh, in the signer it already handed out', async () => {
    const dir = await tempDir();
    const sealer = await KeyRing.load(dir, { logOrigin: ORIGIN, suite: 'gm' });
    const held = sealer.checkpointSigners();
    const cli = await KeyRing.load(dir, { logOrigin: ORIGIN });
    const { vkey } = await cli.rotateSm2CheckpointKey();
    expect(held[0]!.vkey).not.toBe(vkey);
    expect(await sealer.refresh()).toBe(true);
    expect(held[0]!.vkey).toBe(vkey);
    expect(sealer.checkpointKeys()).toEqual(cli.checkpointKeys());
    expect(await sealer.refresh()).toBe(false);
    const note = await checkpoint(sealer, 3);
    expect((await verifyCheckpoint(note, [vkey])).algorithms).toEqual(['sm2']);
  });

  it('keeps receipt key rotations a chain of their own: no fork with the checkpoint statements', async () => {
    const dir = await tempDir();
    const ring = await KeyRing.load(dir, { logOrigin: ORIGIN, suite: 'dual' });
    const trust = trustOf(published(ring));
    await ring.rotateSm2CheckpointKey();
    await ring.rotate();
    await ring.rotateSm2CheckpointKey();
    // The first SM2 key handed its receipt role to one key and its checkpoint role to another.
    const pinned = trust.receiptKeys;
    const chain = await followRotations(pinned, ring.rotations());
    expect(chain).toMatchObject({ ok: true, unreached: [] });
    expect(ring.checkpointKeys()).toHaveLength(4);
    const check = await checkTrustWithRotations(trust, published(ring));
    expect(check).toMatchObject({ ok: true, differences: [] });
    // Both SM2 receipt keys are published (the first one stays), each with its thumbprint pinned or reached.
    const sm2Jwks = ring.jwks().keys.filter((k) => k.crv === 'SM2');
    expect(sm2Jwks.map((k) => k.kid)).toEqual(sm2Jwks.map((k) => jwkThumbprint(k as never)));
  });

  it('refuses without an SM2 key', async () => {
    const ring = await KeyRing.load(await tempDir(), { logOrigin: ORIGIN, suite: 'intl' });
    await expect(ring.rotateSm2CheckpointKey()).rejects.toThrow(/no SM2 key/);
    expect(ring.checkpointRotations()).toEqual([]);
  });
});
