// `lianzheng pki init`, `keys rotate` and `pki rotate-tsa` with an SM2 key (issue #23): the SM2
// root certifies the SM2 keys, a rotated SM2 receipt key gets its certificate at once, and the
// TSA keys rotate one or both.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPemAll } from '../tsa/certificate.ts';
import { pkiPaths } from '../tsa/index.ts';
import { EXIT, run } from './main.ts';

const openssl = promisify(execFile);
let dir: string;
let env: Record<string, string>;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-cli-pki-sm2-'));
  env = { DATA_DIR: dir, CRYPTO_SUITE: 'dual', LOG_LEVEL: 'silent' };
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { log: (s: string) => out.push(s), error: (s: string) => err.push(s) } };
}

const verifySm2 = (caFile: string, file: string) =>
  openssl('openssl', ['verify', '-vfyopt', 'distid:1234567812345678', '-CAfile', caFile, file]);

describe('lianzheng pki with CRYPTO_SUITE dual', () => {
  it('pki init makes the SM2 root; keys rotate certifies the new SM2 receipt key under it', async () => {
    const p = pkiPaths(path.join(dir, 'pki'));
    const init = capture();
    expect(await run(['pki', 'init'], env, init.io)).toBe(EXIT.OK);
    const made = JSON.parse(init.out.join('')) as { created: string[] };
    expect(made.created).toEqual(
      expect.arrayContaining([p.sm2RootCert, p.sm2RootCross, p.tsaSm2Cert, p.sm2Cert]),
    );
    for (const f of [p.tsaSm2Cert, p.sm2Cert])
      expect((await verifySm2(p.sm2RootCert, f)).stdout).toMatch(/OK/);

    const rotate = capture();
    expect(await run(['keys', 'rotate'], env, rotate.io)).toBe(EXIT.OK);
    const rotated = JSON.parse(rotate.out.join('')) as {
      sm2Keys: { kid: string; current: boolean }[];
      certificates: string[];
    };
    const current = rotated.sm2Keys.find((k) => k.current)!;
    const file = path.join(p.sm2ReceiptCertsDir, `${current.kid}.cert.pem`);
    expect(rotated.certificates).toEqual([file]);
    expect((await verifySm2(p.sm2RootCert, file)).stdout).toMatch(/OK/);
    expect(await fs.readFile(p.published, 'utf8')).toContain((await fs.readFile(file, 'utf8')).trim());
    // The key of sm2-key.json keeps its own certificate (keys/sm2.cert.pem), not a second one.
    expect(await fs.readdir(p.sm2ReceiptCertsDir)).toEqual([`${current.kid}.cert.pem`]);
  });

  it('pki rotate-tsa rotates both TSA keys, or the one named; old certificates stay published', async () => {
    const p = pkiPaths(path.join(dir, 'pki'));
    const before = await Promise.all([p.tsaCert, p.tsaSm2Cert].map((f) => fs.readFile(f, 'utf8')));
    const both = capture();
    expect(await run(['pki', 'rotate-tsa'], env, both.io)).toBe(EXIT.OK);
    const lines = both.out.map((l) => JSON.parse(l) as { algorithm: string; retired: string });
    expect(lines.map((l) => l.algorithm)).toEqual(['ecdsa', 'sm2']);
    const after = await Promise.all([p.tsaCert, p.tsaSm2Cert].map((f) => fs.readFile(f, 'utf8')));
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    const published = await fs.readFile(p.published, 'utf8');
    for (const pem of [...before, ...after]) expect(published).toContain(pem.trim());
    expect(both.err.join('\n')).toMatch(/restart the gateway/);

    const sm2Only = capture();
    expect(await run(['pki', 'rotate-tsa', '--sm2'], env, sm2Only.io)).toBe(EXIT.OK);
    expect(sm2Only.out.map((l) => JSON.parse(l).algorithm)).toEqual(['sm2']);
    expect(await fs.readFile(p.tsaCert, 'utf8')).toBe(after[0]);
    expect(await fs.readFile(p.tsaSm2Cert, 'utf8')).not.toBe(after[1]);
    expect(fromPemAll(published).length).toBeLessThan(
      fromPemAll(await fs.readFile(p.published, 'utf8')).length,
    );

    expect(await run(['pki', 'rotate-tsa', '--sm2', '--ecdsa'], env, capture().io)).toBe(EXIT.USAGE);
  });

  it('keys rotate --sm2-checkpoint: a new SM2 checkpoint key, the old one kept, certified under the SM2 root', async () => {
    const p = pkiPaths(path.join(dir, 'pki'));
    const c = capture();
    expect(await run(['keys', 'rotate', '--sm2-checkpoint'], env, c.io)).toBe(EXIT.OK);
    const r = JSON.parse(c.out.join('')) as {
      vkey: string;
      checkpointKeys: string[];
      checkpointRotations: number;
      certificates: string[];
    };
    // Ed25519, the first SM2 key, the new one.
    expect(r.checkpointKeys).toHaveLength(3);
    expect(r.checkpointKeys[2]).toBe(r.vkey);
    expect(r.checkpointRotations).toBe(1);
    expect(r.certificates).toHaveLength(1);
    expect(path.dirname(r.certificates[0]!)).toBe(p.sm2CheckpointCertsDir);
    expect((await verifySm2(p.sm2RootCert, r.certificates[0]!)).stdout).toMatch(/OK/);
    expect(
      await run(['keys', 'rotate', '--sm2-checkpoint', '--gateway', 'http://127.0.0.1:9'], env, capture().io),
    ).toBe(EXIT.USAGE);
  });

  it('pki rotate-tsa --sm2 without an SM2 TSA key says how to make one', async () => {
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-cli-pki-intl-'));
    try {
      const intl = { DATA_DIR: other, CRYPTO_SUITE: 'intl', LOG_LEVEL: 'silent' };
      expect(await run(['pki', 'init'], intl, capture().io)).toBe(EXIT.OK);
      const c = capture();
      expect(await run(['pki', 'rotate-tsa', '--sm2'], intl, c.io)).toBe(EXIT.USAGE);
      expect(c.err.join('\n')).toMatch(/PKI_NOT_INITIALISED.*CRYPTO_SUITE dual or gm/);
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
  });
});
