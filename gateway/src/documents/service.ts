// The gateway's document signer, made once per app on first use: the font is read and the
// document-signing certificate issued (or reused) only when someone asks for a PDF, so a gateway
// that never makes one pays nothing at boot.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import { loadDocumentSigningFiles, PkiError } from '../tsa/pki.ts';
import { type CjkFont, FontError, loadCjkFont } from './font.ts';
import { type DocumentSigner, type SignOptions, signPdf } from './sign.ts';

export interface DocumentService {
  font: CjkFont;
  signer: DocumentSigner;
  /** PEM roots a reader needs to trust the signature (the local PKI root). */
  rootsPem: string[];
  sign(pdf: Buffer, options: SignOptions): Promise<Buffer>;
}

const services = new WeakMap<FastifyInstance, Promise<DocumentService>>();

async function create(app: FastifyInstance): Promise<DocumentService> {
  const timestamps = app.timestamps;
  if (!timestamps) {
    throw new AppError('SERVICE_UNAVAILABLE', 'signed documents need the time-stamp authority (TSA_ENABLED)');
  }
  let font: CjkFont;
  try {
    font = loadCjkFont();
  } catch (err) {
    if (err instanceof FontError) throw new AppError('SERVICE_UNAVAILABLE', err.message);
    throw err;
  }
  let files: Awaited<ReturnType<typeof loadDocumentSigningFiles>>;
  try {
    files = await loadDocumentSigningFiles(path.join(app.config.dataDir, 'pki'));
  } catch (err) {
    // An external CA's TSA (TSA_KEY_FILE) leaves no local root to issue a document certificate.
    if (err instanceof PkiError) {
      throw new AppError('SERVICE_UNAVAILABLE', `signed documents need the local PKI: ${err.message}`);
    }
    throw err;
  }
  const signer: DocumentSigner = { ...files, tsa: timestamps.signer };
  return {
    font,
    signer,
    rootsPem: timestamps.roots,
    sign: (pdf, options) => signPdf(pdf, signer, options),
  };
}

/** The app's document service; a failure is not remembered, so a fixed font or PKI is picked up. */
export function documentService(app: FastifyInstance): Promise<DocumentService> {
  let service = services.get(app);
  if (!service) {
    service = create(app);
    services.set(app, service);
    service.catch(() => services.delete(app));
  }
  return service;
}
