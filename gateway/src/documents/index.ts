// Signed PDFs for people outside the system (courts, auditors): the document model and its
// renderer, the CJK font, and the PAdES B-T signature. See README.md in this folder.
export { CJK_FONT_CANDIDATES, type CjkFont, FontError, loadCjkFont } from './font.ts';
export { type PdfsigResult, pdfsig, pdftotext } from './poppler.ts';
export { type Block, DOCUMENT_LIMITS, type DocumentSpec, renderPdf } from './render.ts';
export { createCadesSignature, type DocumentSigner, type SignOptions, signPdf } from './sign.ts';
export { type PdfCheckCode, type PdfSignatureCheck, verifyPdfSignature } from './verify.ts';
