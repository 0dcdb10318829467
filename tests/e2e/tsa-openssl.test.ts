// Interop with a client nobody here wrote: `openssl ts` makes the queries, our POST /tsa answers
// over real HTTP, and `openssl ts -reply` / `openssl ts -verify` judge the replies.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tsaPlugin, { TIMESTAMP_QUERY, TIMESTAMP_REPLY } from '../../gateway/src/routes/tsa/index.ts';
import {
  createClockSerial,
  createTimestampToken,
  initPki,
  loadLocalTimeStampSigner,
  pkiPaths,
  type TimeStampSigner,
} from '../../gateway/src/tsa/index.ts';
import fixtures from '../../proof/src/timestamp/fixtures/tokens.json' with { type: 'json' };

const run = promisify(execFile);
let dir: string;
let app: FastifyInstance;
let url: string;
let signer: TimeStampSigner;
let rootPem: string;
let tsaPem: string;

async function openssl(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('openssl', args, { cwd: dir });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

async function post(file: string, out: string, type = TIMESTAMP_QUERY): Promise<Response> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': type },
    body: await fs.readFile(path.join(dir, file)),
  });
  await fs.writeFile(path.join(dir, out), Buffer.from(await res.arrayBuffer()));
  return res;
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lz-tsa-openssl-'));
  await initPki({ dir: path.join(dir, 'pki') });
  const p = pkiPaths(path.join(dir, 'pki'));
  rootPem = p.rootCert;
  tsaPem = p.tsaCert;
  signer = await loadLocalTimeStampSigner(p.dir, { nextSerial: createClockSerial() });
  app = Fastify();
  await app.register(tsaPlugin, { signer, rateLimit: false });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  url = `${address}/tsa`;
  await fs.writeFile(path.join(dir, 'f'), 'a public-works contract, 2026');
});

afterAll(async () => {
  await app?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('openssl ts against POST /tsa', () => {
  it.each([
    ['sha256', true, true],
    ['sha256', false, false],
    ['sha256', true, false],
    ['sha256', false, true],
    ['sha384', true, true],
    ['sha512', false, true],
  ])('%s, nonce %s, certReq %s: openssl parses the reply and verifies it', async (alg, nonce, certReq) => {
    const name = `${alg}-${nonce}-${certReq}`;
    const q = await openssl(
      'ts',
      '-query',
      '-data',
      'f',
      `-${alg}`,
      ...(certReq ? ['-cert'] : []),
      ...(nonce ? [] : ['-no_nonce']),
      '-out',
      `${name}.tsq`,
    );
    expect(q.code).toBe(0);
    const res = await post(`${name}.tsq`, `${name}.tsr`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(TIMESTAMP_REPLY);

    const text = await openssl('ts', '-reply', '-in', `${name}.tsr`, '-text');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Status: Granted\./);
    expect(text.stdout).toContain(`Hash Algorithm: ${alg}`);
    expect(text.stdout).toContain(`Policy OID: ${signer.policyOid}`);
    expect(text.stdout).toMatch(/Time stamp: .+\d{2}:\d{2}:\d{2}(\.\d{1,3})? \d{4} GMT/);
    expect(text.stdout).toMatch(/Accuracy: 0x01 seconds/);
    expect(text.stdout).toMatch(nonce ? /Nonce: 0x[0-9A-F]+/ : /Nonce: unspecified/);

    // By the data, with the TSA certificate given as untrusted (needed when certReq was off).
    const byData = await openssl(
      'ts',
      '-verify',
      '-data',
      'f',
      '-in',
      `${name}.tsr`,
      '-CAfile',
      rootPem,
      '-untrusted',
      tsaPem,
    );
    expect(byData.stdout).toContain('Verification: OK');
    // By the query (this also checks the nonce and the imprint algorithm).
    const byQuery = await openssl(
      'ts',
      '-verify',
      '-queryfile',
      `${name}.tsq`,
      '-in',
      `${name}.tsr`,
      '-CAfile',
      rootPem,
      '-untrusted',
      tsaPem,
    );
    expect(byQuery.stdout).toContain('Verification: OK');
    if (certReq) {
      // The token carries its certificate: the root alone is enough.
      const rootOnly = await openssl('ts', '-verify', '-data', 'f', '-in', `${name}.tsr`, '-CAfile', rootPem);
      expect(rootOnly.stdout).toContain('Verification: OK');
    }
    // Another document does not verify against the same reply.
    await fs.writeFile(path.join(dir, 'g'), 'another document');
    const other = await openssl(
      'ts',
      '-verify',
      '-data',
      'g',
      '-in',
      `${name}.tsr`,
      '-CAfile',
      rootPem,
      '-untrusted',
      tsaPem,
    );
    expect(other.stdout).not.toContain('Verification: OK');
    expect(other.code).not.toBe(0);
  });

  it('answers a malformed query with a rejection openssl can read', async () => {
    await fs.writeFile(path.join(dir, 'bad.tsq'), Buffer.from('30030201ff', 'hex'));
    const res = await post('bad.tsq', 'bad.tsr');
    expect(res.status).toBe(200);
    const text = await openssl('ts', '-reply', '-in', 'bad.tsr', '-text');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Status: Rejected\./);
    expect(text.stdout).toMatch(/Failure info: the data submitted has the wrong format/);
  });

  it('answers a SHA-1 query with badAlg', async () => {
    expect((await openssl('ts', '-query', '-data', 'f', '-sha1', '-out', 'sha1.tsq')).code).toBe(0);
    await post('sha1.tsq', 'sha1.tsr');
    const text = await openssl('ts', '-reply', '-in', 'sha1.tsr', '-text');
    expect(text.stdout).toMatch(/Status: Rejected\./);
    expect(text.stdout).toMatch(/Failure info: unrecognized or unsupported algorithm identifier/i);
  });

  it('answers a query for an unknown policy with unacceptedPolicy', async () => {
    expect(
      (await openssl('ts', '-query', '-data', 'f', '-sha256', '-tspolicy', '1.2.3.4', '-out', 'pol.tsq'))
        .code,
    ).toBe(0);
    await post('pol.tsq', 'pol.tsr');
    const text = await openssl('ts', '-reply', '-in', 'pol.tsr', '-text');
    expect(text.stdout).toMatch(/Status: Rejected\./);
    expect(text.stdout).toMatch(/Failure info: the requested TSA policy is not supported by the TSA/);
  });

  it('refuses a query sent with the wrong content type with 415', async () => {
    const res = await post('sha256-true-true.tsq', 'wrong.out', 'application/octet-stream');
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('makes checkpoint tokens that openssl verifies by the root hash alone', async () => {
    const root = createHash('sha256').update('checkpoint root').digest();
    await fs.writeFile(path.join(dir, 'cp.tst'), await createTimestampToken(signer, root));
    const v = await openssl(
      'ts',
      '-verify',
      '-digest',
      root.toString('hex'),
      '-in',
      'cp.tst',
      '-token_in',
      '-CAfile',
      rootPem,
    );
    expect(v.stdout).toContain('Verification: OK');
  });
});

// proof/'s verifier must run in a browser (the verifier page): bundle it for the browser, load it
// into Debian's Chromium, and check a fresh checkpoint token and the fixed openssl tokens there.
describe.skipIf(!existsSync('/usr/bin/chromium'))('verifyTimestampToken in Chromium', () => {
  it('passes real tokens and fails an untrusted one, with WebCrypto only', async () => {
    const bundle = await build({
      entryPoints: [path.join(import.meta.dirname, '../../proof/src/timestamp/index.ts')],
      bundle: true,
      format: 'iife',
      globalName: 'lzTimestamp',
      platform: 'browser',
      write: false,
    });
    const root = createHash('sha256').update('browser checkpoint').digest();
    const token = Buffer.from(await createTimestampToken(signer, root)).toString('base64');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage();
      // WebCrypto needs a secure context: serve an empty page as http://localhost/.
      await page.route('http://localhost/**', (route) =>
        route.fulfill({ contentType: 'text/html', body: '<p></p>' }),
      );
      await page.goto('http://localhost/');
      await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
      const results = await page.evaluate(
        async ({ token, rootHex, ourRoot, fx }) => {
          type Check = { status: string; code?: string };
          const lz = (
            window as unknown as {
              lzTimestamp: { verifyTimestampToken: (...a: unknown[]) => Promise<Check> };
            }
          ).lzTimestamp;
          const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
          const hex = (s: string) => Uint8Array.from(s.match(/../g)!, (h) => Number.parseInt(h, 16));
          const dig = async (alg: string) =>
            new Uint8Array(await crypto.subtle.digest(alg, new TextEncoder().encode(fx.data)));
          const out: Check[] = [
            await lz.verifyTimestampToken(b64(token), hex(rootHex), [ourRoot]),
            await lz.verifyTimestampToken(b64(fx.openssl.tokenSha256WithCert), await dig('SHA-256'), [
              fx.openssl.root,
            ]),
            await lz.verifyTimestampToken(
              b64(fx.openssl.tokenSha384NoCert),
              await dig('SHA-384'),
              [fx.openssl.root],
              {
                certificates: [fx.openssl.tsaCert],
              },
            ),
            await lz.verifyTimestampToken(b64(token), hex(rootHex), [fx.openssl.root]),
          ];
          return out.map((r) => [r.status, r.code ?? null]);
        },
        { token, rootHex: root.toString('hex'), ourRoot: await fs.readFile(rootPem, 'utf8'), fx: fixtures },
      );
      expect(results).toEqual([
        ['pass', null],
        ['pass', null],
        ['pass', null],
        ['fail', 'TSA_UNTRUSTED'],
      ]);
    } finally {
      await browser.close();
    }
  });
});
