// Outside checkers of the gateway's PDFs, for tests and `lianzheng verify-package`: poppler's
// pdfsig (signature, digest and — with an NSS database holding our root — the certificate chain)
// and pdftotext (the embedded Chinese text can be extracted). scripts/install-system-deps.sh
// installs poppler-utils and libnss3-tools (certutil).
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PdfsigResult {
  /** pdfsig's own words, e.g. "Signature is Valid." */
  signature: string;
  /** e.g. "Certificate is Trusted." or "Certificate issuer isn't Trusted." */
  certificate: string;
  subFilter: string;
  totalDocumentSigned: boolean;
  output: string;
}

/**
 * Run pdfsig on a PDF. With `rootsPem`, a throw-away NSS database trusting those roots is made
 * first, so the chain check means something; without it poppler checks against the system's NSS
 * store (where our local root is not).
 */
export async function pdfsig(pdf: Uint8Array, rootsPem: string[] = []): Promise<PdfsigResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-pdfsig-'));
  try {
    const file = path.join(dir, 'document.pdf');
    await fs.writeFile(file, pdf);
    const args = [file];
    if (rootsPem.length > 0) {
      const nss = path.join(dir, 'nss');
      await fs.mkdir(nss);
      await run('certutil', ['-N', '-d', `sql:${nss}`, '--empty-password']);
      for (const [i, pem] of rootsPem.entries()) {
        const rootFile = path.join(dir, `root-${i}.pem`);
        await fs.writeFile(rootFile, pem);
        await run('certutil', ['-A', '-d', `sql:${nss}`, '-n', `root-${i}`, '-t', 'CT,C,C', '-i', rootFile]);
      }
      args.unshift('-nssdir', `sql:${nss}`);
    }
    // pdfsig exits non-zero for an invalid signature; its report is what we want either way.
    const { stdout } = await run('pdfsig', args).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: `${err.stdout ?? ''}${err.stderr ?? ''}`,
    }));
    const field = (name: string) => new RegExp(`${name}: (.*)`).exec(stdout)?.[1]?.trim() ?? '';
    return {
      signature: field('Signature Validation'),
      certificate: field('Certificate Validation'),
      subFilter: field('Signature Type'),
      totalDocumentSigned: /Total document signed/.test(stdout),
      output: stdout,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * The text poppler extracts from a PDF (UTF-8). `raw`: in the order the page draws it (cell by
 * cell) instead of poppler's reading order, which can interleave the lines of neighbouring cells.
 */
export async function pdftotext(pdf: Uint8Array, options: { raw?: boolean } = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lianzheng-pdftotext-'));
  try {
    const file = path.join(dir, 'document.pdf');
    await fs.writeFile(file, pdf);
    const args = ['-enc', 'UTF-8', ...(options.raw ? ['-raw'] : []), file, '-'];
    const { stdout } = await run('pdftotext', args, { maxBuffer: 64 << 20 });
    return stdout;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
