// A small document model rendered to PDF with pdfkit: headings, paragraphs, label/value fields
// and tables, in Chinese with English beside it. The gateway's PDFs (the 存证证书 in an evidence
// package, a project's audit report) are built from these blocks, so layout lives in one place
// and each document only says what it contains.
//
// Every glyph comes from one embedded CJK font (font.ts): its Latin glyphs serve the English text,
// so a line that mixes 中文 and English never switches fonts mid-word. pdfkit embeds only the
// glyphs used (a subset) with a ToUnicode map, which is what lets pdftotext and a reader's search
// find the Chinese text again.
import PDFDocument from 'pdfkit';
import type { CjkFont } from './font.ts';

export type Block =
  | { kind: 'heading'; text: string }
  | { kind: 'paragraph'; text: string; size?: number; color?: string }
  | { kind: 'fields'; rows: readonly (readonly [label: string, value: string])[] }
  | {
      kind: 'table';
      /** Column titles and relative widths (they are scaled to the page). */
      columns: readonly { title: string; width: number }[];
      rows: readonly (readonly string[])[];
    };

export interface DocumentSpec {
  title: string;
  subtitle?: string;
  /** The PDF's Info dictionary: what a reader shows under "Document properties". */
  info: { title: string; subject: string; keywords?: string; author?: string };
  blocks: readonly Block[];
  /** Printed at the bottom of every page (e.g. the record id and the generated time). */
  footer?: string;
  /** The document's CreationDate; the caller's clock, so tests can fix it. */
  createdAt: Date;
}

/** Limits that keep a hostile or runaway input from making a PDF nobody can open. */
export const DOCUMENT_LIMITS = { blocks: 20_000, tableRows: 20_000, cellChars: 2_000 } as const;

const FONT = 'cjk';
const MARGIN = 50;
const INK = '#1f2933';
const MUTED = '#52606d';
const RULE = '#cbd2d9';

const clip = (text: string) =>
  text.length > DOCUMENT_LIMITS.cellChars ? `${text.slice(0, DOCUMENT_LIMITS.cellChars)}…` : text;

/** Render the document; resolves with the PDF bytes (unsigned). */
export function renderPdf(spec: DocumentSpec, font: CjkFont): Promise<Buffer> {
  if (spec.blocks.length > DOCUMENT_LIMITS.blocks) throw new RangeError('DOCUMENT_TOO_LARGE: blocks');
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    bufferPages: true, // footers are written once the page count is known
    pdfVersion: '1.7',
    lang: 'zh-CN',
    displayTitle: true,
    info: {
      Title: spec.info.title,
      Subject: spec.info.subject,
      Author: spec.info.author ?? 'LianZheng 链证',
      Keywords: spec.info.keywords ?? '',
      Creator: 'LianZheng gateway',
      Producer: 'LianZheng gateway (pdfkit)',
      CreationDate: spec.createdAt,
      ModDate: spec.createdAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont(FONT, font.data as never, font.postscriptName as string);
  doc.font(FONT);

  const width = doc.page.width - 2 * MARGIN;
  const bottom = () => doc.page.height - MARGIN - 20; // room for the footer
  const ensureRoom = (height: number) => {
    if (doc.y + height > bottom()) doc.addPage();
  };

  doc.fillColor(INK).fontSize(20).text(spec.title, { align: 'center' });
  if (spec.subtitle) doc.moveDown(0.2).fillColor(MUTED).fontSize(11).text(spec.subtitle, { align: 'center' });
  doc.moveDown(1);

  for (const block of spec.blocks) {
    switch (block.kind) {
      case 'heading':
        ensureRoom(40);
        doc.moveDown(0.6).fillColor(INK).fontSize(13).text(clip(block.text));
        doc
          .moveTo(MARGIN, doc.y + 2)
          .lineTo(MARGIN + width, doc.y + 2)
          .strokeColor(RULE)
          .stroke();
        doc.moveDown(0.5);
        break;
      case 'paragraph':
        doc
          .fillColor(block.color ?? INK)
          .fontSize(block.size ?? 10)
          .text(clip(block.text), MARGIN, doc.y, { width });
        doc.moveDown(0.4);
        break;
      case 'fields':
        writeFields(doc, block.rows, width, ensureRoom);
        break;
      case 'table':
        writeTable(doc, block, width, ensureRoom);
        break;
    }
  }

  if (spec.footer) {
    const range = doc.bufferedPageRange();
    for (let i = 0; i < range.count; i++) {
      doc.switchToPage(range.start + i);
      // Writing inside the bottom margin would make pdfkit add a page; lift the margin for it.
      const margin = doc.page.margins.bottom;
      doc.page.margins.bottom = 0;
      doc
        .fillColor(MUTED)
        .fontSize(7.5)
        .text(`${spec.footer} · ${i + 1}/${range.count}`, MARGIN, doc.page.height - MARGIN + 10, {
          width,
          align: 'center',
          lineBreak: false,
        });
      doc.page.margins.bottom = margin;
    }
  }
  doc.end();
  return done;
}

type Doc = InstanceType<typeof PDFDocument>;

function writeFields(
  doc: Doc,
  rows: readonly (readonly [string, string])[],
  width: number,
  ensureRoom: (h: number) => void,
): void {
  const labelWidth = Math.round(width * 0.3);
  const valueWidth = width - labelWidth - 8;
  doc.fontSize(9.5);
  for (const [label, raw] of rows.slice(0, DOCUMENT_LIMITS.tableRows)) {
    const value = clip(raw);
    const h = Math.max(
      doc.heightOfString(label, { width: labelWidth }),
      doc.heightOfString(value, { width: valueWidth }),
    );
    ensureRoom(h + 4);
    const y = doc.y;
    doc.fillColor(MUTED).text(label, MARGIN, y, { width: labelWidth });
    doc.fillColor(INK).text(value, MARGIN + labelWidth + 8, y, { width: valueWidth });
    doc.y = y + h + 4;
  }
  doc.x = MARGIN;
  doc.moveDown(0.3);
}

function writeTable(
  doc: Doc,
  block: Extract<Block, { kind: 'table' }>,
  width: number,
  ensureRoom: (h: number) => void,
): void {
  const total = block.columns.reduce((s, c) => s + c.width, 0);
  const widths = block.columns.map((c) => (c.width / total) * width);
  const pad = 3;
  const row = (cells: readonly string[], header: boolean) => {
    doc.fontSize(header ? 8.5 : 8);
    const texts = block.columns.map((_, i) => clip(cells[i] ?? ''));
    const h = Math.max(...texts.map((t, i) => doc.heightOfString(t || ' ', { width: widths[i]! - 2 * pad })));
    ensureRoom(h + 2 * pad);
    const y = doc.y;
    if (header) doc.rect(MARGIN, y, width, h + 2 * pad).fill('#eef2f6');
    let x = MARGIN;
    texts.forEach((t, i) => {
      doc.fillColor(header ? INK : INK).text(t, x + pad, y + pad, { width: widths[i]! - 2 * pad });
      x += widths[i]!;
    });
    doc
      .moveTo(MARGIN, y + h + 2 * pad)
      .lineTo(MARGIN + width, y + h + 2 * pad)
      .strokeColor(RULE)
      .lineWidth(0.5)
      .stroke();
    doc.y = y + h + 2 * pad;
  };
  row(
    block.columns.map((c) => c.title),
    true,
  );
  for (const cells of block.rows.slice(0, DOCUMENT_LIMITS.tableRows)) row(cells, false);
  doc.x = MARGIN;
  doc.moveDown(0.5);
}
