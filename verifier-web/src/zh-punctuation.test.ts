// Chinese that reads right: in the page's Chinese text, punctuation beside a Han character is the
// full-width form (,:;()!?), never ASCII. Checked over every zh-CN message, every string
// literal with Han characters in the page's code, and the HTML shell's text. A placeholder such as
// {reason} counts as Chinese text here: what fills it sits in a Chinese sentence.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { messagesZh } from './messages.ts';

const SRC = fileURLToPath(new URL('.', import.meta.url));
const HAN = /\p{Script=Han}/u;
const ASCII_PUNCT = new Set([',', ':', ';', '(', ')', '!', '?']);

/** Each ASCII ,:;()!? in `text` that touches a Han character or a {placeholder}, with context. */
export function asciiPunctuationBesideHan(text: string): string[] {
  if (!HAN.test(text)) return [];
  const chars = [...text];
  const problems: string[] = [];
  const chinese = (c: string | undefined, side: 'before' | 'after') =>
    c !== undefined && (HAN.test(c) || (side === 'before' ? c === '}' : c === '{'));
  chars.forEach((c, i) => {
    if (!ASCII_PUNCT.has(c)) return;
    if (chinese(chars[i - 1], 'before') || chinese(chars[i + 1], 'after'))
      problems.push(`“${chars.slice(Math.max(0, i - 4), i + 5).join('')}”`);
  });
  // A bracket pair is one thing: ( … ) around Chinese text is full-width on both sides.
  const pairs = /\(([^()]*)\)/g;
  for (const m of text.matchAll(pairs)) {
    const before = chars[[...text.slice(0, m.index)].length - 1];
    const after = text[m.index + m[0].length];
    if (HAN.test(m[1]!) || chinese(before, 'before') || chinese(after, 'after')) problems.push(`“${m[0]}”`);
  }
  return [...new Set(problems)];
}

/** Every string literal (and template text) with a Han character in a TypeScript file. */
function hanLiterals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      if (HAN.test(node.text)) out.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function pageSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return pageSources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('Chinese punctuation on the page', () => {
  it('the rule: ASCII ,:;()!? beside a Han character or a placeholder is caught', () => {
    expect(asciiPunctuationBesideHan('核验在浏览器中完成:文件不会上传,证明')).toHaveLength(2);
    expect(asciiPunctuationBesideHan('联盟链(由 {endorsers} 背书)')).toContain('“(由 {endorsers} 背书)”');
    expect(asciiPunctuationBesideHan('{network},{channel}区块')).toEqual(['“ork},{cha”']);
    expect(asciiPunctuationBesideHan('核验在浏览器中完成：文件不会上传，证明（见下）')).toEqual([]);
    expect(asciiPunctuationBesideHan('https://example.org, e.g. (this)')).toEqual([]);
    expect(asciiPunctuationBesideHan('A 级(1 亿元以上)')).not.toEqual([]);
  });

  it('every zh-CN message uses full-width punctuation beside Chinese text', () => {
    const bad = Object.entries(messagesZh).flatMap(([key, text]) =>
      asciiPunctuationBesideHan(text).map((p) => `${key}: ${p}`),
    );
    expect(bad).toEqual([]);
    // Separators joined between Chinese words have no Han of their own: full-width too.
    const separators = Object.entries(messagesZh).filter(([key]) => key.startsWith('list.'));
    expect(separators.length).toBeGreaterThan(0);
    for (const [key, text] of separators)
      expect(
        [...text].some((c) => ASCII_PUNCT.has(c)),
        key,
      ).toBe(false);
  });

  it("the page's other strings and its HTML shell too", () => {
    const bad = pageSources(SRC)
      .filter((f) => !f.endsWith('messages.ts'))
      .flatMap((f) =>
        hanLiterals(f).flatMap((text) => asciiPunctuationBesideHan(text).map((p) => `${f}: ${p}`)),
      );
    const html = readFileSync(join(SRC, '..', 'index.html'), 'utf8')
      .replace(/<[^>]*>/g, '\n')
      .split('\n')
      .flatMap((line) => asciiPunctuationBesideHan(line.trim()).map((p) => `index.html: ${p}`));
    expect([...bad, ...html]).toEqual([]);
  });
});
