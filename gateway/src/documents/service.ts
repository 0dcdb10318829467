// The gateway's document signer, made once per app on first use: the font is read and the
// document-signing certificate issued (or reused) only when someone asks for a PDF, so a gateway
// that never makes one pays nothing at boot.
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { loadDocumentSigningFiles, PkiError } from '../tsa/index.ts';
import { type CjkFont, FontError, loadCjkFont } from './font.ts';
import { type DocumentSigner, type SignOptions, signPdf } from './sign.ts';

export interface DocumentService {
  font: CjkFont;
  signer: DocumentSigner;
  /** PEM roots a reader needs to trust the signature (the local PKI root). */
  rootsPem: string[];
  sign(pdf: Buffer, options: SignOptions): Promise<Buffer>;
}

/**
 * The rate limit of the routes that make signed documents (a PDF, a package: signatures, TSA
 * tokens, ~0.1–0.5 s of CPU each): 20 a minute per caller — per credential when there is one
 * (the gateway's global limit leaves credentialed callers alone), per address otherwise.
 */
export const DOCUMENT_RATE_LIMIT = {
  max: 20,
  timeWindow: 60_000,
  allowList: () => false,
  keyGenerator: (request: FastifyRequest) => {
    const p = request.principal;
    return p && p.role !== 'public' ? `${p.role}:${p.subject ?? p.org ?? p.region ?? ''}` : request.ip;
  },
};

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
