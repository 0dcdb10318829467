// The browser build: bundle the package the way Vite does for the page (the `browser` condition,
// no Node built-ins), then run that bundle and verify a real proof bundle with it, so the noble
// implementations behind the conditional imports are checked end to end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import vectors from '../../test-vectors/checkpoint.json' with { type: 'json' };
import { makeBundle, makeFixture, makeGroupReceipts, makeLog, receiptItemOf } from './_fixtures.ts';
import { buildReceiptGroup } from './receipt.ts';
import { sm2Sign, sm2Verify } from './sm2.ts';

const dir = mkdtempSync(join(tmpdir(), 'proof-browser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function browserBuild(): Promise<string> {
  const result = await build({
    entryPoints: [resolve(import.meta.dirname, '../index.ts')],
    bundle: true,
    platform: 'browser',
    conditions: ['browser'],
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

describe('the browser build', () => {
  it('bundles without Node built-ins and verifies a proof bundle with the noble implementations', async () => {
    const code = await browserBuild();
    expect(code).not.toMatch(/from\s*["']node:/);
    expect(code).not.toMatch(/require\(["'](node:)?crypto["']\)/);
    expect(code).toContain('@noble'); // the browser implementations were picked
    expect(code).not.toMatch(/\bBuffer\./); // … and the portable codec, not Node's Buffer
    const file = join(dir, 'proof.mjs');
    writeFileSync(file, code);
    const proof = (await import(pathToFileURL(file).href)) as typeof import('../index.ts');

    const fx = await makeFixture();
    const log = makeLog(11);
    const bundle = await makeBundle(fx, log, 4, 9, 11);
    const result = await proof.verifyBundle(bundle, {
      bytes: log.documents[4]!,
      keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys },
    });
    expect(result.ok).toBe(true);
    // group receipts: verified, and built to the same bytes as in Node
    const grouped = { ...bundle, receipt: (await makeGroupReceipts(fx, log.records))[4]! };
    expect(
      (
        await proof.verifyBundle(grouped, {
          bytes: log.documents[4]!,
          keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys },
        })
      ).ok,
    ).toBe(true);
    const items = log.records.map((r, i) => ({ ...receiptItemOf(r), projectId: `${r.projectId}-村${i}` }));
    expect(proof.buildReceiptGroup(items).items).toEqual(buildReceiptGroup(items).items);
    const tampered = structuredClone(bundle);
    tampered.inclusion!.checkpoint = tampered.inclusion!.checkpoint.replace('\n9\n', '\n8\n');
    const bad = await proof.verifyBundle(tampered, {
      bytes: log.documents[4]!,
      keys: { jwks: fx.jwks, checkpointKeys: fx.checkpointKeys },
    });
    expect(bad.steps.find((s) => s.step === 'checkpoint')).toMatchObject({
      status: 'fail',
      code: 'BAD_SIGNATURE',
    });

    // and signing in the browser build gives the same bytes as in Node
    const cp = vectors.checkpoint;
    expect(await proof.signCheckpoint(cp.body, { name: cp.name, privateKey: proof.fromHex(cp.seed) })).toBe(
      cp.note,
    );
    expect(proof.cidFromSha256(proof.sha256(new Uint8Array(0)))).toBe(
      'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku',
    );

    // SM3 and SM2 in the browser build ([k]G by @noble/curves, no OpenSSL): the standards' known
    // answers (GB/T 32905 "abc"; GM/T 0003.5's recommended-curve key, Z and signature), and an SM2
    // signature made here verifies in Node and the other way round.
    expect(proof.toHex(proof.sm3(new TextEncoder().encode('abc')))).toBe(
      '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0',
    );
    const d = proof.fromHex('3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8');
    const pub = proof.sm2PublicKey(d);
    expect(proof.toHex(proof.sm2Z(pub))).toBe(
      'b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3',
    );
    const message = new TextEncoder().encode('message digest');
    const annex = proof.fromHex(
      'F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA',
    );
    expect(proof.sm2Verify(pub, message, annex)).toBe(true);
    const inBrowser = proof.sm2Sign(d, message);
    expect(sm2Verify(pub, message, inBrowser)).toBe(true);
    expect(proof.sm2Verify(pub, message, sm2Sign(d, message))).toBe(true);
  }, 30_000);
});
