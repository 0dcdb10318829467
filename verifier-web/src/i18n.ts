// Two languages: Chinese by default (the people who scan a notice-board QR code read Chinese) and
// English. The choice is remembered in localStorage; `?lang=en` in the address wins once and is
// remembered too, so a shared link can open in English.

import { type MessageKey, messagesEn, messagesZh } from './messages.ts';

export type Lang = 'zh-CN' | 'en';
export const LANGS: readonly Lang[] = ['zh-CN', 'en'];
const STORAGE_KEY = 'lianzheng.lang';

let current: Lang = 'zh-CN';

export function detectLang(search: string, storage: Pick<Storage, 'getItem'> | null): Lang {
  const fromQuery = new URLSearchParams(search).get('lang');
  if (fromQuery === 'en' || fromQuery === 'zh-CN' || fromQuery === 'zh')
    return fromQuery === 'en' ? 'en' : 'zh-CN';
  try {
    const stored = storage?.getItem(STORAGE_KEY);
    if (stored === 'en' || stored === 'zh-CN') return stored;
  } catch {
    // Storage can be disabled (private mode, policies); the default is then fine.
  }
  return 'zh-CN';
}

export function getLang(): Lang {
  return current;
}

export function setLang(lang: Lang, storage: Pick<Storage, 'setItem'> | null): void {
  current = lang;
  try {
    storage?.setItem(STORAGE_KEY, lang);
  } catch {
    // Not remembered, still switched.
  }
}

export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const table = current === 'en' ? messagesEn : messagesZh;
  const template = table[key] ?? messagesZh[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** True when the key exists; lets callers fall back for codes the page does not know yet. */
export function hasMessage(key: string): key is MessageKey {
  return key in messagesZh;
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  // Projects are in China and their deadlines are in Beijing time; say so rather than guess the
  // reader's zone.
  const text = new Intl.DateTimeFormat(current, {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  }).format(d);
  return `${text} ${t('time.zone')}`;
}

export function formatDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(current, {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(d);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Integer fen as a decimal string → yuan with two decimals, without floating point. */
export function formatFen(fen: string): string {
  if (!/^-?\d+$/.test(fen)) return fen;
  const neg = fen.startsWith('-');
  const digits = (neg ? fen.slice(1) : fen).padStart(3, '0');
  const yuan = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}¥${yuan}.${digits.slice(-2)}`;
}
