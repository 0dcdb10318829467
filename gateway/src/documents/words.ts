// The words the gateway's PDFs use for statuses and assurance levels, in Chinese with English.
// They follow docs/assurance.md: never "上链" for the embedded ledger alone.
import type { Assurance } from '@lianzheng/proof';

export const STATUS_WORDS: Record<string, string> = {
  accepted: '已受理 accepted',
  recorded: '已记账 recorded',
  anchored: '已锚定 anchored',
  rejected: '已拒绝 rejected',
};

export function ledgerWords(a: Assurance['ledger']): string {
  switch (a.level) {
    case 'none':
      return '尚未记账 not on a ledger yet';
    case 'embedded':
      return '网关内置账本（单一运营方）embedded ledger (one operator)';
    case 'fabric':
      return `Fabric 联盟链，背书方 endorsed by ${a.endorsers.join(', ') || '—'}`;
  }
}

export function anchorWords(a: Assurance['anchoring']): string {
  switch (a.level) {
    case 'none':
      return '不锚定 not anchored by this operator';
    case 'pending':
      return '待锚定 anchoring pending';
    case 'unconfirmed':
      return `锚定未确认 unconfirmed (${a.chainId} block ${a.block})`;
    case 'anchored':
      return `已锚定公链 anchored on ${a.chainId}, block ${a.block}, tx ${a.txHash}`;
  }
}

export function timeWords(a: Assurance['time']): string {
  switch (a.level) {
    case 'gateway-clock':
      return '网关时钟 the gateway clock only';
    case 'operator-tsa':
      return `运营方时间戳机构 RFC 3161 (operator's TSA${a.name ? `: ${a.name}` : ''})`;
    case 'outside-tsa':
      return `外部时间戳机构 RFC 3161 outside TSA: ${a.name}`;
  }
}

/** Who cosigned the record's checkpoint (docs/witnesses.md), one witness a line, then the count. */
export function witnessWords(a: Assurance['witnesses']): string {
  if (a.level === 'none') return '无 none';
  const who = a.cosigned.map(
    (c) =>
      `由${c.displayNameZh ?? c.displayName ?? c.name}见证于 ${c.at} witnessed by ${c.displayName ?? c.name}${
        // A witness that cosigned a later checkpoint, tied to the record's by a consistency proof.
        c.size === undefined
          ? ''
          : `（联署其后规模为 ${c.size} 的检查点，与本记录的检查点一致）(cosigned at size ${c.size}, consistent with the record's checkpoint)`
      }`,
  );
  const count = `${a.cosigned.length}/${a.of} 家联署，需 ${a.quorum} 家：${a.level === 'quorum' ? '已达到 quorum met' : '未达到 quorum not met'}`;
  return [...who, who.length > 0 ? count : `尚无见证方联署 none yet；${count}`].join('\n');
}

/** One line: ledger · anchoring · time · witnesses. */
export function assuranceLine(a: Assurance): string {
  return `${ledgerWords(a.ledger)} · ${anchorWords(a.anchoring)} · ${timeWords(a.time)} · ${witnessWords(a.witnesses).replaceAll('\n', '; ')}`;
}

/** Display names the documents print instead of bare ids (issue #21). */
export interface DocumentNames {
  projectEn?: string;
  organisations?: Record<string, { zh: string; en?: string }>;
  milestones?: Record<string, { zh?: string; en?: string }>;
}

/** `中文名 / English (id)`, or the id alone when there is no name. */
export function named(id: string, name?: { zh?: string; en?: string }): string {
  const words = [name?.zh, name?.en].filter(Boolean).join(' / ');
  return words ? `${words} (${id})` : id;
}
