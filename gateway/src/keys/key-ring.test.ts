import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  followRotations,
  formatCheckpoint,
  jwkThumbprint,
  noteKeyAlgorithm,
  RECEIPT_GROUP_TYPE,
  RECEIPT_TYPE,
  signCheckpoint,
  sm2PublicKey,
  verifyCheckpoint,
  verifyReceipt,
} from '@lianzheng/proof';
import { calculateJwkThumbprint, compactVerify, createLocalJWKSet } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyRing } from './key-ring.ts';
import { SigningThread } from './signing-thread.ts';

const dirs: string[] = [];
async function tempDir() {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-keys-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

const claims = (sub: string) => ({
  iss: 'lianzheng.local',
  sub,
  iat: 1_800_000_000,
  sha256: 'a'.repeat(64),
  cid: 'bafkreifkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvkvi',
  projectId: 'p',
  kind: 'notice' as const,
  leaf: 'b'.repeat(64),
  ledger: 'embedded' as const,
});

describe('KeyRing', () => {
  it('creates keys once, with private files, and reuses them on reload', async () => {
    const dir = await tempDir();
    const a = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    const b = await KeyRing.load(dir, { logOrigin: 'other.org/log' });
    expect(b.receiptSigner.kid).toBe(a.receiptSigner.kid);
    expect(b.checkpointSigner.vkey).toBe(a.checkpointSigner.vkey);
    expect(b.checkpointSigner.name).toBe('example.org/log');
    expect(a.checkpointSigner.vkey.startsWith('example.org/log+')).toBe(true);
    for (const f of await fs.readdir(dir)) expect((await fs.stat(path.join(dir, f))).mode & 0o077).toBe(0);
  });

  it('uses the RFC 7638 thumbprint as kid and publishes no private parts', async () => {
    const ring = await KeyRing.load(await tempDir(), { logOrigin: 'example.org/log' });
    const jwks = ring.jwks();
    for (const k of jwks.keys) {
      expect(k).not.toHaveProperty('d');
      const { kid, alg: _a, use: _u, ...bare } = k;
      expect(await calculateJwkThumbprint(bare, 'sha256')).toBe(kid);
    }
    expect(jwks.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA']);
  });

  it('signs receipts proof/ verifies, and keeps retired keys verifiable after rotate()', async () => {
    const ring = await KeyRing.load(await tempDir(), { logOrigin: 'example.org/log' });
    const first = ring.receiptSigner.sign(claims('r1'));
    const header = JSON.parse(Buffer.from(first.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'ES256', kid: ring.receiptSigner.kid, typ: RECEIPT_TYPE });
    const oldKid = ring.receiptSigner.kid;
    const newKid = await ring.rotate();
    expect(newKid).not.toBe(oldKid);
    const second = ring.receiptSigner.sign(claims('r2'));
    expect((await verifyReceipt(first, ring.jwks())).sub).toBe('r1');
    expect((await verifyReceipt(second, ring.jwks())).sub).toBe('r2');
    expect(ring.receiptKeys().map((k) => [k.kid, k.current])).toEqual([
      [newKid, true],
      [oldKid, false],
    ]);
    const tampered = `${second.slice(0, -4)}AAAA`;
    await expect(verifyReceipt(tampered, ring.jwks())).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
  });

  it('signs single receipts on the signing thread as standard JWS that jose and proof/ verify, before and after a rotation', async () => {
    const onThread = vi.spyOn(SigningThread.prototype, 'sign');
    const ring = await KeyRing.load(await tempDir(), { logOrigin: 'example.org/log', signingThread: true });
    const first = await Promise.all(['r1', 'r2', 'r3'].map((s) => ring.receiptSigner.signAsync(claims(s))));
    const oldKid = ring.receiptSigner.kid;
    await ring.rotate();
    const second = await ring.receiptSigner.signAsync(claims('r4'));
    const jwks = createLocalJWKSet(ring.jwks());
    for (const [i, jws] of [...first, second].entries()) {
      expect((await verifyReceipt(jws, ring.jwks())).sub).toBe(`r${i + 1}`);
      const kid = i < 3 ? oldKid : ring.receiptSigner.kid;
      expect((await compactVerify(jws, jwks)).protectedHeader).toMatchObject({ alg: 'ES256', kid });
    }
    expect(ring.receiptSigner.kid).not.toBe(oldKid);
    expect(onThread).toHaveBeenCalledTimes(4);
    onThread.mockRestore();
  });

  it('signs a group once: every record gets a receipt proof/ verifies to its own claims; a group of one is a plain receipt', async () => {
    const ring = await KeyRing.load(await tempDir(), { logOrigin: 'example.org/log' });
    const shared = { iss: 'lianzheng.local', iat: 1_800_000_000, ledger: 'embedded' as const };
    const items = ['g1', 'g2', 'g3'].map((sub, i) => {
      const { iss: _i, iat: _t, ledger: _l, ...own } = claims(sub);
      return { ...own, sha256: String(i + 1).repeat(64) };
    });
    const receipts = ring.receiptSigner.signGroup(shared, items);
    expect(receipts).toHaveLength(3);
    const signed = new Set(receipts.map((r) => r.split('~')[0]));
    expect(signed.size).toBe(1);
    const header = JSON.parse(Buffer.from(receipts[0]!.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'ES256', kid: ring.receiptSigner.kid, typ: RECEIPT_GROUP_TYPE });
    for (const [i, r] of receipts.entries()) {
      expect(await verifyReceipt(r, ring.jwks())).toEqual({ ...items[i], ...shared });
    }
    const [one] = ring.receiptSigner.signGroup(shared, items.slice(1, 2));
    expect(one).not.toContain('~');
    expect(await verifyReceipt(one!, ring.jwks())).toEqual({ ...items[1], ...shared });
    expect(ring.receiptSigner.signGroup(shared, [])).toEqual([]);
  });

  it('signGroupAsync gives what signGroup gives, for the ES256 and the SM2 signer: one signature per group, a plain receipt for one', async () => {
    const ring = await KeyRing.load(await tempDir(), { logOrigin: 'example.org/log', suite: 'dual' });
    const shared = { iss: 'lianzheng.local', iat: 1_800_000_000, ledger: 'embedded' as const };
    const items = ['a1', 'a2', 'a3'].map((sub, i) => {
      const { iss: _i, iat: _t, ledger: _l, ...own } = claims(sub);
      return { ...own, sha256: String(i + 4).repeat(64) };
    });
    for (const signer of [ring.receiptSigner, ring.receiptSm2Signer!]) {
      const receipts = await signer.signGroupAsync(shared, items);
      expect(receipts).toHaveLength(3);
      expect(new Set(receipts.map((r) => r.split('~')[0])).size).toBe(1);
      const header = JSON.parse(Buffer.from(receipts[0]!.split('.')[0]!, 'base64url').toString());
      expect(header).toEqual({ alg: signer.alg, kid: signer.kid, typ: RECEIPT_GROUP_TYPE });
      for (const [i, r] of receipts.entries()) {
        expect(await verifyReceipt(r, ring.jwks())).toEqual({ ...items[i], ...shared });
      }
      const [one] = await signer.signGroupAsync(shared, items.slice(2));
      expect(one).not.toContain('~');
      expect(JSON.parse(Buffer.from(one!.split('.')[0]!, 'base64url').toString()).typ).toBe(RECEIPT_TYPE);
      expect(await verifyReceipt(one!, ring.jwks())).toEqual({ ...items[2], ...shared });
      expect(await signer.signGroupAsync(shared, [])).toEqual([]);
    }
  });

  it('refresh() takes a rotation made by another process on the same files, and rotate() builds on it', async () => {
    const dir = await tempDir();
    const a = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    const b = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    const first = a.receiptSigner.kid;
    expect(await b.refresh()).toBe(false); // nothing changed yet
    const second = await a.rotate();
    expect(b.receiptSigner.kid).toBe(first);
    expect(await b.refresh()).toBe(true);
    expect(b.receiptSigner.kid).toBe(second);
    expect(b.jwks().keys.map((k) => k.kid)).toEqual(a.jwks().keys.map((k) => k.kid));
    expect(await b.refresh()).toBe(false);
    // b, up to date, rotates next: every key so far stays in the file.
    const third = await b.rotate();
    const c = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    expect(c.receiptKeys().map((k) => k.kid)).toEqual([third, second, first]);
    // A stale ring rotating also keeps every key (it reads the file first).
    const fourth = await a.rotate();
    const d = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    expect(d.receiptKeys().map((k) => k.kid)).toEqual([fourth, third, second, first]);
    const receipt = d.receiptSigner.sign(claims('r4'));
    expect((await verifyReceipt(receipt, a.jwks())).sub).toBe('r4');
  });

  it('publishes each rotation as a statement signed by the old and the new key, surviving a restart', async () => {
    const dir = await tempDir();
    const ring = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    const first = ring.receiptSigner.kid;
    expect(ring.rotations()).toEqual([]);
    const second = await ring.rotate();
    const third = await ring.rotate();
    const reloaded = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    expect(reloaded.rotations()).toEqual(ring.rotations());
    const statements = reloaded.rotations();
    expect(statements).toHaveLength(2);
    const claims0 = JSON.parse(Buffer.from(statements[0]!.byPrevious.split('.')[1]!, 'base64url').toString());
    expect(claims0).toMatchObject({
      type: 'lianzheng-key-rotation/v1',
      previous: { kid: first },
      next: { kid: second, jwk: { kty: 'EC', crv: 'P-256' } },
    });
    expect(claims0.next.jwk.d).toBeUndefined();
    const followed = await followRotations([{ thumbprint: first }], statements);
    expect(followed).toMatchObject({ ok: true, followed: 2 });
    if (followed.ok) expect(followed.keys.map((k) => k.kid)).toEqual([second, third]);
  });

  it('loses no rotation when two processes rotate at once (the lock), and writes statements for old key files', async () => {
    const dir = await tempDir();
    const a = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    const b = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    const first = a.receiptSigner.kid;
    const made = await Promise.all([a.rotate(), b.rotate(), a.rotate(), b.rotate()]);
    const c = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    expect(c.receiptKeys()).toHaveLength(5);
    expect(new Set(c.receiptKeys().map((k) => k.kid))).toEqual(new Set([first, ...made]));
    const chain = await followRotations([first], c.rotations());
    expect(chain).toMatchObject({ ok: true, followed: 4, unreached: [] });
    await expect(fs.stat(path.join(dir, 'receipt-keys.json.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    // A key file from before statements were published: the statements are made on load.
    const file = path.join(dir, 'receipt-keys.json');
    const { rotations: _dropped, ...old } = JSON.parse(await fs.readFile(file, 'utf8'));
    await fs.writeFile(file, JSON.stringify(old));
    const upgraded = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    expect(upgraded.rotations()).toHaveLength(4);
    expect(await followRotations([first], upgraded.rotations())).toMatchObject({ ok: true, followed: 4 });
  });

  it('refresh() keeps the keys it has when the file is unreadable', async () => {
    const dir = await tempDir();
    const ring = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    const kid = ring.receiptSigner.kid;
    await fs.writeFile(path.join(dir, 'receipt-keys.json'), '{"current":');
    expect(await ring.refresh()).toBe(false);
    expect(ring.receiptSigner.kid).toBe(kid);
  });
});

describe('KeyRing: the SM2 key (CRYPTO_SUITE)', () => {
  it('intl makes no SM2 key; dual makes one (private file), publishes it and signs checkpoints with both', async () => {
    const dir = await tempDir();
    const intl = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'intl' });
    expect(intl.sm2).toBeUndefined();
    expect(intl.checkpointKeys()).toEqual([intl.checkpointSigner.vkey]);
    expect(intl.jwks().keys.map((k) => k.crv)).not.toContain('SM2');
    await expect(fs.access(path.join(dir, 'sm2-key.json'))).rejects.toThrow();

    const dual = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'dual' });
    expect((await fs.stat(path.join(dir, 'sm2-key.json'))).mode & 0o077).toBe(0);
    const sm2 = dual.sm2!;
    expect(sm2.publicKey).toEqual(sm2PublicKey(sm2.privateKey));
    expect(dual.checkpointSigners().map((s) => s.algorithm)).toEqual(['ed25519', 'sm2']);
    expect(dual.checkpointKeys()).toEqual([dual.checkpointSigner.vkey, sm2.checkpointSigner.vkey]);
    expect(noteKeyAlgorithm(sm2.checkpointSigner.vkey)).toBe('sm2');
    // The published JWK: kty EC, crv SM2, alg SM2-with-SM3; kid its RFC 7638 thumbprint; x ‖ y the key.
    const jwk = dual.jwks().keys.at(-1)!;
    expect(jwk).toEqual({
      kty: 'EC',
      crv: 'SM2',
      x: jwk.x,
      y: jwk.y,
      kid: sm2.kid,
      alg: 'SM2-with-SM3',
      use: 'sig',
    });
    expect(jwkThumbprint({ ...jwk })).toBe(sm2.kid);
    expect(
      Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]),
    ).toEqual(Buffer.from(sm2.publicKey));
    expect(dual.jwks().keys[0]!.kid).toBe(dual.receiptSigner.kid);
    // A dual checkpoint verifies under either published key alone, and under both.
    let note = formatCheckpoint({ origin: 'example.org/log', size: 1, rootHash: new Uint8Array(32) });
    for (const s of dual.checkpointSigners()) note = await signCheckpoint(note, s);
    expect((await verifyCheckpoint(note, dual.checkpointKeys())).algorithms).toEqual(['ed25519', 'sm2']);

    // The same key on reload; gm signs with it alone; back to intl it stays published.
    const gm = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'gm' });
    expect(gm.sm2!.kid).toBe(sm2.kid);
    expect(gm.checkpointSigners().map((s) => s.algorithm)).toEqual(['sm2']);
    const back = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'intl' });
    expect(back.checkpointSigners().map((s) => s.algorithm)).toEqual(['ed25519']);
    expect(back.checkpointKeys()).toEqual(dual.checkpointKeys());
    expect(back.jwks().keys.map((k) => k.kid)).toContain(sm2.kid);
  });

  it('processes starting together on a fresh folder all end up with the one SM2 key written', async () => {
    const dir = await tempDir();
    const rings = await Promise.all(
      Array.from({ length: 6 }, () => KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'dual' })),
    );
    const onDisk = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'dual' });
    expect(new Set(rings.map((r) => r.sm2!.kid))).toEqual(new Set([onDisk.sm2!.kid]));
    expect((await fs.readdir(dir)).filter((f) => f.includes('sm2'))).toEqual(['sm2-key.json']);
  });

  it('gateways starting together on an empty folder all end up with the one receipt key and checkpoint key written', async () => {
    const dir = await tempDir();
    const rings = await Promise.all(
      Array.from({ length: 6 }, () => KeyRing.load(dir, { logOrigin: 'example.org/log' })),
    );
    const onDisk = await KeyRing.load(dir, { logOrigin: 'example.org/log' });
    expect(new Set(rings.map((r) => r.receiptSigner.kid))).toEqual(new Set([onDisk.receiptSigner.kid]));
    expect(onDisk.receiptKeys()).toHaveLength(1);
    expect(new Set(rings.map((r) => r.checkpointSigner.vkey))).toEqual(
      new Set([onDisk.checkpointSigner.vkey]),
    );
    expect((await fs.readdir(dir)).filter((f) => f.includes('.new') || f.includes('.tmp'))).toEqual([]);
  });

  it('rotate() under dual rotates the SM2 receipt key too: old SM2 receipts verify, the checkpoint key stays, both SM2 keys sign the statement', async () => {
    const dir = await tempDir();
    const ring = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'dual' });
    const firstSm2 = ring.receiptSm2Signer!.kid;
    expect(firstSm2).toBe(ring.sm2!.kid);
    const checkpointKeys = ring.checkpointKeys();
    const old = ring.receiptSm2Signer!.sign(claims('r1'));
    await ring.rotate();
    const nextSm2 = ring.receiptSm2Signer!.kid;
    expect(nextSm2).not.toBe(firstSm2);
    const fresh = ring.receiptSm2Signer!.sign(claims('r2'));
    const header = JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'SM2-with-SM3', kid: nextSm2, typ: RECEIPT_TYPE });
    expect((await verifyReceipt(old, ring.jwks())).sub).toBe('r1');
    expect((await verifyReceipt(fresh, ring.jwks())).sub).toBe('r2');
    expect(ring.sm2ReceiptKeys().map((k) => [k.kid, k.current, k.retiredAt !== undefined])).toEqual([
      [nextSm2, true, false],
      [firstSm2, false, true],
    ]);
    // The SM2 checkpoint line keeps its key (sm2-key.json), as the Ed25519 one does.
    expect(ring.checkpointKeys()).toEqual(checkpointKeys);
    expect(ring.checkpointSigners().map((s) => s.publicKey)).toContainEqual(ring.sm2!.publicKey);
    // One ES256 and one SM2 statement; the SM2 one signed SM2-with-SM3 by the old and the new key.
    const { es256, sm2 } = ring.lastRotation();
    expect(ring.rotations()).toEqual([es256, sm2]);
    const headers = [sm2!.byPrevious, sm2!.byNext].map((j) =>
      JSON.parse(Buffer.from(j.split('.')[0]!, 'base64url').toString()),
    );
    expect(headers.map((h) => [h.alg, h.kid])).toEqual([
      ['SM2-with-SM3', firstSm2],
      ['SM2-with-SM3', nextSm2],
    ]);
    const chain = await followRotations([firstSm2], ring.rotations());
    expect(chain.ok && chain.keys.map((k) => k.kid)).toEqual([nextSm2]);
    // A statement whose SM2 signature by the new key is swapped for another SM2 signature fails.
    const other = `${sm2!.byNext.split('.').slice(0, 2).join('.')}.${old.split('.')[2]}`;
    expect(await followRotations([firstSm2], [{ ...sm2!, byNext: other }])).toMatchObject({
      ok: false,
      code: 'BAD_SIGNATURE',
    });
    // Durable: a restart signs with the new SM2 key and still publishes the old one; gm signs with it.
    const again = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'gm' });
    expect(again.receiptSigner.kid).toBe(nextSm2);
    expect((await verifyReceipt(old, again.jwks())).sub).toBe('r1');
    expect(again.jwks().keys[0]!.kid).toBe(ring.jwks().keys[0]!.kid);
    // intl with no SM2 key rotates ES256 alone.
    const intl = await KeyRing.load(await tempDir(), { logOrigin: 'example.org/log', suite: 'intl' });
    await intl.rotate();
    expect(intl.lastRotation().sm2).toBeUndefined();
    expect(intl.sm2ReceiptKeys()).toEqual([]);
  });

  it('SM2 rotations by two processes at once lose nothing (the lock), and refresh() takes the other one', async () => {
    const dir = await tempDir();
    const a = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'dual' });
    const b = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'dual' });
    const first = a.receiptSm2Signer!.kid;
    await Promise.all([a.rotate(), b.rotate(), a.rotate(), b.rotate()]);
    const c = await KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'dual' });
    expect(c.sm2ReceiptKeys()).toHaveLength(5);
    expect(await followRotations([first], c.rotations())).toMatchObject({ ok: true, followed: 4 });
    const chain = await followRotations([first], c.rotations());
    expect(chain.ok && chain.keys.at(-1)!.kid).toBe(c.receiptSm2Signer!.kid);
    // A ring that saw none of it takes the current SM2 key on refresh().
    await a.refresh();
    expect(a.receiptSm2Signer!.kid).toBe(c.receiptSm2Signer!.kid);
    expect(a.jwks().keys.map((k) => k.kid)).toEqual(c.jwks().keys.map((k) => k.kid));
  });

  it('refuses an SM2 key file whose private key is not 64 hex digits', async () => {
    const dir = await tempDir();
    await fs.writeFile(
      path.join(dir, 'sm2-key.json'),
      JSON.stringify({ kid: 'x', privateKey: 'zz', createdAt: '' }),
    );
    await expect(KeyRing.load(dir, { logOrigin: 'example.org/log', suite: 'dual' })).rejects.toThrow(
      /64 hex/,
    );
  });
});
