// A QR code drawn as a single SVG path: no image URL, no canvas, nothing the CSP has to allow, and
// it prints sharp at any size.

import qrcode from 'qrcode-generator';
import { svg } from './dom.ts';

export function qrSvg(text: string, label: string): SVGElement {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const margin = 4;
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.isDark(r, c)) d += `M${c + margin} ${r + margin}h1v1h-1z`;
    }
  }
  const size = n + 2 * margin;
  const title = svg('title', {});
  title.textContent = label;
  return svg(
    'svg',
    {
      viewBox: `0 0 ${size} ${size}`,
      class: 'qr',
      role: 'img',
      'aria-label': label,
      'shape-rendering': 'crispEdges',
    },
    title,
    svg('rect', { width: size, height: size, fill: '#fff' }),
    svg('path', { d, fill: '#000' }),
  );
}
