import { describe, expect, it } from 'vitest';
import { detectLang, formatBytes, formatFen, setLang, t } from './i18n.ts';
import { messagesEn, messagesZh } from './messages.ts';

function store(value: string | null) {
  return { getItem: () => value };
}

describe('i18n', () => {
  it('defaults to Chinese, remembers a choice, and lets ?lang= win', () => {
    expect(detectLang('', store(null))).toBe('zh-CN');
    expect(detectLang('', store('en'))).toBe('en');
    expect(detectLang('', store('fr'))).toBe('zh-CN');
    expect(detectLang('?lang=en', store('zh-CN'))).toBe('en');
    expect(detectLang('?lang=zh', store('en'))).toBe('zh-CN');
    expect(detectLang('', null)).toBe('zh-CN');
    const throwing = {
      getItem: () => {
        throw new Error('denied');
      },
    };
    expect(detectLang('', throwing)).toBe('zh-CN');
  });

  it('has every sentence in both languages, with the same placeholders', () => {
    const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(messagesZh) as (keyof typeof messagesZh)[]) {
      expect(messagesEn[key], key).toBeTruthy();
      expect(placeholders(messagesEn[key]), key).toEqual(placeholders(messagesZh[key]));
    }
  });

  it('fills placeholders in the current language', () => {
    setLang('en', null);
    expect(t('verify.input.BAD_LENGTH', { length: 63 })).toContain('63');
    setLang('zh-CN', null);
    expect(t('verify.input.BAD_LENGTH', { length: 63 })).toContain('63');
  });

  it('formats fen as yuan without floating point', () => {
    expect(formatFen('0')).toBe('¥0.00');
    expect(formatFen('5')).toBe('¥0.05');
    expect(formatFen('48000000000')).toBe('¥480,000,000.00');
    expect(formatFen('-123456')).toBe('-¥1,234.56');
    expect(formatFen('123456789012345678901234567890')).toBe('¥1,234,567,890,123,456,789,012,345,678.90');
    expect(formatFen('1.5')).toBe('1.5');
  });

  it('formats sizes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(1024 ** 3)).toBe('1.0 GB');
  });
});
