// An anchored record's evidence package: anchor/anchor.json carries the anchor transaction and the
// operator's anchoring identity, the certificate names the chain and the transaction, and
// verify-package — which reads no chain — reports the anchor (NOTE) instead of passing or failing
// it. The anchored bundle is the verifier page's fixture: real signatures, a real anchor reference
// (no EVM node is needed for the package itself).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deriveAssurance, type ProofBundle } from '@lianzheng/proof';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCjkFont } from '../../gateway/src/documents/font.ts';
import { pdftotext } from '../../gateway/src/documents/poppler.ts';
import type { DocumentService } from '../../gateway/src/documents/service.ts';
import { signPdf } from '../../gateway/src/documents/sign.ts';
import { buildEvidencePackage } from '../../gateway/src/evidence-package/build.ts';
import { MEMBERS } from '../../gateway/src/evidence-package/checks.ts';
import { verifyEvidencePackage } from '../../gateway/src/evidence-package/verify.ts';
import { readZip } from '../../gateway/src/evidence-package/zip.ts';
import {
  initPki,
  loadDocumentSigningFiles,
  loadLocalTimeStampSigner,
  pkiPaths,
} from '../../gateway/src/tsa/pki.ts';
import { createClockSerial } from '../../gateway/src/tsa/serial.ts';
import { ANCHOR, makeFixture } from '../e2e/verifier-page-support.ts';

let dir: string;
let documents: DocumentService;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-anchor-package-'));
  await initPki({ dir });
  const tsa = await loadLocalTimeStampSigner(dir, { nextSerial: createClockSerial() });
  const signer = { ...(await loadDocumentSigningFiles(dir)), tsa };
  documents = {
    font: loadCjkFont(),
    signer,
    rootsPem: [await fs.readFile(pkiPaths(dir).rootCert, 'utf8')],
    sign: (pdf, options) => signPdf(pdf, signer, options),
  };
});

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('the package of an anchored record', () => {
  it('carries the anchor transaction, names it on the certificate, and verify-package reports it', async () => {
    const fx = await makeFixture();
    const rec = fx.records.find((r) => r.bundle.anchor)!;
    const bundle = rec.bundle as ProofBundle;
    const zip = await buildEvidencePackage(
      {
        bundle,
        status: rec.status,
        standing: { state: 'standing' },
        flags: [],
        assurance: deriveAssurance(bundle, { anchor: fx.keys.anchor as never }),
        keys: fx.keys as never,
        certificatesPem: documents.rootsPem.join(''),
        ledger: { transaction: fx.ledgerTx.get(bundle.ledger!.txId) },
        generatedAt: new Date(),
        restrictedDetails: false,
      },
      documents,
    );
    const files = await readZip(zip);
    const anchor = JSON.parse(files.get(MEMBERS.anchor)!.toString('utf8'));
    expect(anchor.anchor).toMatchObject({
      chainId: ANCHOR.chainId,
      txHash: ANCHOR.txHash,
      block: ANCHOR.block,
    });
    expect(anchor.identity).toMatchObject({ chainId: ANCHOR.chainId, contract: ANCHOR.contract });
    const text = (await pdftotext(files.get(MEMBERS.certificate)!, { raw: true })).replace(/\s+/g, '');
    expect(text).toContain('公链锚定');
    expect(text).toContain(ANCHOR.txHash);

    const result = await verifyEvidencePackage(zip);
    expect(result.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(result.ok).toBe(true);
    const step = result.checks.find((c) => c.id === 'bundle.anchor')!;
    expect(step.status).toBe('warn');
    expect(step.commands.join(' ')).toContain('--rpc');
    expect(result.checks.find((c) => c.id === 'bundle.ledger')?.status).toBe('pass');
  });
});
