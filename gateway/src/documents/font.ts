// The CJK font the gateway's PDFs embed. Chinese text in a PDF is only readable (and only
// extractable by pdftotext, Adobe or a court's tools) when the glyphs and their Unicode map travel
// inside the file, so we embed a subset of a system CJK font. Debian's fonts-wqy-microhei (what
// scripts/install-system-deps.sh installs for Chromium) and fonts-noto-cjk ship TrueType/OpenType
// *collections* (.ttc): one file, several faces, and a PDF library must be told which face to use.
import fs from 'node:fs';
import * as fontkit from 'fontkit';

export class FontError extends Error {
  readonly code = 'DOCUMENT_NO_CJK_FONT';
  constructor(message: string) {
    super(`DOCUMENT_NO_CJK_FONT: ${message}`);
    this.name = 'FontError';
  }
}

/** Where Debian and other common distributions put CJK fonts, best first. */
export const CJK_FONT_CANDIDATES = [
  '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc',
  '/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc',
  '/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc',
  '/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc',
  '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc',
  '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc',
  '/usr/share/fonts/wqy-microhei/wqy-microhei.ttc',
  '/System/Library/Fonts/PingFang.ttc',
] as const;

export interface CjkFont {
  /** The font file's bytes (read once; pdfkit subsets it per document). */
  data: Buffer;
  path: string;
  /** For a collection, the PostScript name of the face to use; undefined for a single font. */
  postscriptName?: string;
  familyName: string;
}

/** A face with Chinese glyphs: 链 (U+94FE) and 证 (U+8BC1) must both be present. */
function hasChinese(font: fontkit.Font): boolean {
  return font.hasGlyphForCodePoint(0x94fe) && font.hasGlyphForCodePoint(0x8bc1);
}

/**
 * Open a CJK font: `explicitPath` (config DOCUMENT_FONT) or the first candidate that exists. For a
 * collection the first proportional face with Chinese glyphs is chosen ("Mono" faces last).
 * Throws FontError, naming the paths tried, when none is usable.
 */
export function loadCjkFont(explicitPath?: string): CjkFont {
  const tried: string[] = [];
  for (const file of explicitPath ? [explicitPath] : CJK_FONT_CANDIDATES) {
    tried.push(file);
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch {
      continue;
    }
    let opened: fontkit.Font | fontkit.FontCollection;
    try {
      opened = fontkit.create(data);
    } catch {
      continue;
    }
    if ('fonts' in opened) {
      const faces = [...opened.fonts].sort(
        (a, b) => Number(/mono/i.test(a.postscriptName)) - Number(/mono/i.test(b.postscriptName)),
      );
      const face = faces.find(hasChinese);
      if (face) return { data, path: file, postscriptName: face.postscriptName, familyName: face.familyName };
    } else if (hasChinese(opened)) {
      return { data, path: file, familyName: opened.familyName };
    }
  }
  throw new FontError(
    `no font with Chinese glyphs found (tried ${tried.join(', ')}); install fonts-noto-cjk or ` +
      'fonts-wqy-microhei (scripts/install-system-deps.sh) (the font is looked for at the paths above)',
  );
}
