import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClockSerial,
  initPki,
  loadDocumentSigningFiles,
  loadLocalTimeStampSigner,
  pkiPaths,
} from '../tsa/index.ts';
import { FontError, loadCjkFont } from './font.ts';
import { pdfsig, pdftotext } from './poppler.ts';
import { renderPdf } from './render.ts';
import { type DocumentSigner, signPdf } from './sign.ts';
import { verifyPdfSignature } from './verify.ts';

const run = promisify(execFile);

let dir: string;
let signer: DocumentSigner;
let rootPem: string;
let signed: Buffer;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-documents-'));
  await initPki({ dir });
  const tsa = await loadLocalTimeStampSigner(dir, { nextSerial: createClockSerial() });
  signer = { ...(await loadDocumentSigningFiles(dir)), tsa };
  rootPem = await fs.readFile(pkiPaths(dir).rootCert, 'utf8');
  const pdf = await renderPdf(
    {
      title: '存证证书 Evidence Certificate',
      subtitle: '链证 LianZheng',
      info: { title: '存证证书', subject: 'test' },
      createdAt: new Date('2026-05-06T07:08:09Z'),
      footer: 'record 0192',
      blocks: [
        { kind: 'heading', text: '记录 Record' },
        { kind: 'fields', rows: [['标题 Title', '村道硬化工程 第一期 进度款支付凭证']] },
        {
          kind: 'table',
          columns: [
            { title: '状态 Status', width: 1 },
            { title: '摘要 SHA-256', width: 3 },
          ],
          rows: [['已上链 recorded', 'ab'.repeat(32)]],
        },
      ],
    },
    loadCjkFont(),
  );
  signed = await signPdf(pdf, signer, { reason: 'LianZheng test' });
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('CJK font', () => {
  it('chooses a proportional face with Chinese glyphs from a collection', () => {
    const font = loadCjkFont();
    expect(font.data.length).toBeGreaterThan(100_000);
    if (font.path.endsWith('.ttc')) {
      expect(font.postscriptName).toBeTruthy();
      expect(font.postscriptName).not.toMatch(/mono/i);
    }
  });

  it('fails with a coded error when the configured font is missing or has no Chinese', () => {
    expect(() => loadCjkFont('/nonexistent/font.ttc')).toThrow(FontError);
    // DejaVu has no CJK glyphs: refused rather than rendering empty boxes.
    const dejavu = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
    expect(() => loadCjkFont(dejavu)).toThrow(/DOCUMENT_NO_CJK_FONT/);
  });
});

describe('signed PDF (PAdES B-T)', () => {
  it('pdftotext extracts the Chinese and English text', async () => {
    const text = await pdftotext(signed);
    expect(text).toContain('存证证书 Evidence Certificate');
    expect(text).toContain('村道硬化工程 第一期 进度款支付凭证');
    expect(text).toContain('已上链 recorded');
  });

  it('pdfsig: valid signature over the whole document, trusted through the local root', async () => {
    const result = await pdfsig(signed, [rootPem]);
    expect(result.signature).toBe('Signature is Valid.');
    expect(result.certificate).toBe('Certificate is Trusted.');
    expect(result.subFilter).toBe('ETSI.CAdES.detached');
    expect(result.totalDocumentSigned).toBe(true);
    // Without our root, poppler still checks signature and digest but cannot trust the issuer.
    const untrusted = await pdfsig(signed);
    expect(untrusted.signature).toBe('Signature is Valid.');
    expect(untrusted.certificate).not.toBe('Certificate is Trusted.');
  });

  it('our own verifier: digest, signature, chain and the signature time-stamp', async () => {
    const check = await verifyPdfSignature(signed, [rootPem]);
    expect(check).toMatchObject({ ok: true, signer: 'LianZheng Document Signing' });
    expect(Date.parse(check.timestamp!)).toBeGreaterThan(Date.now() - 600_000);
    // The token is an ordinary RFC 3161 token: openssl checks it against sha256(signature value).
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-ts-'));
    try {
      await fs.writeFile(path.join(tmp, 'token.der'), check.timestampToken!);
      await fs.writeFile(path.join(tmp, 'root.pem'), rootPem);
      const { stdout } = await run('openssl', [
        'ts',
        '-verify',
        '-digest',
        check.signatureValueSha256!,
        '-in',
        path.join(tmp, 'token.der'),
        '-token_in',
        '-CAfile',
        path.join(tmp, 'root.pem'),
      ]);
      expect(stdout).toContain('Verification: OK');
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });

  it('a changed byte inside the signed ranges is refused by pdfsig and by our verifier', async () => {
    const tampered = Buffer.from(signed);
    const at = tampered.indexOf('/Producer');
    tampered[at + 3]! ^= 0x01;
    expect((await pdfsig(tampered, [rootPem])).signature).not.toBe('Signature is Valid.');
    expect(await verifyPdfSignature(tampered, [rootPem])).toMatchObject({
      ok: false,
      code: 'PDF_DIGEST_MISMATCH',
    });
  });

  it('a root the verifier does not trust is refused', async () => {
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-other-'));
    try {
      await initPki({ dir: other });
      const otherRoot = await fs.readFile(pkiPaths(other).rootCert, 'utf8');
      expect(await verifyPdfSignature(signed, [otherRoot])).toMatchObject({
        ok: false,
        code: 'PDF_UNTRUSTED_SIGNER',
      });
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
  });
});
