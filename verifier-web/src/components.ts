// Pieces shared by the three pages: the record's facts, its status, its flags, the checklist and
// the download button. Colour is never the only signal: every state also has a word and a symbol.

import { type Assurance, keyFingerprints, type ProofBundle, type Standing } from '@lianzheng/proof';
import type { ApiError, FlagView, KeysAnswer, RecordStatus, VerifyRecord } from './api.ts';
import { stepExplanation } from './check-explain.ts';
import { type CheckRun, chainName, describeStep, firstFailure, STEP_ORDER, stepName } from './checks.ts';
import { h } from './dom.ts';
import { formatFen, formatTime, getLang, hasMessage, t } from './i18n.ts';
import type { MessageKey } from './messages.ts';

export function kindWords(kind: string): string {
  const key = `kind.${kind}`;
  return hasMessage(key) ? t(key) : kind;
}

/**
 * The record's status in words. A recorded record is "on chain" (已上链) only on a Fabric ledger
 * or once anchored; on the embedded ledger it says so. `ledger` (from /v1/keys) stands in where
 * there is no assurance (the project page's list).
 */
export function statusBadge(status: RecordStatus, assurance?: Assurance, ledger?: string): HTMLElement {
  let key = `status.${status}`;
  let tone: string = status;
  if (status === 'recorded' || status === 'anchored') {
    const anchored = assurance ? assurance.anchoring.level === 'anchored' : status === 'anchored';
    const fabric = assurance ? assurance.ledger.level === 'fabric' : ledger === 'fabric';
    const embedded = assurance ? assurance.ledger.level === 'embedded' : ledger === 'embedded';
    if (anchored) key = 'status.anchored';
    else if (fabric) key = 'status.recordedFabric';
    else if (embedded) key = 'status.recordedEmbedded';
    else key = 'status.recorded';
    tone = anchored || fabric ? 'anchored' : 'embedded';
  }
  const word = key;
  return h(
    'span',
    { class: `badge badge-${hasMessage(word) ? tone : 'unknown'}`, 'data-status': status },
    hasMessage(word) ? t(word) : t('status.unknown'),
  );
}

/** The standing as a badge: withdrawn or superseded; nothing for a record that stands. */
export function standingBadge(standing: Standing | undefined): HTMLElement | null {
  if (!standing || standing.state === 'standing') return null;
  return h(
    'span',
    { class: 'badge badge-warn', 'data-standing': standing.state },
    t(standing.state === 'withdrawn' ? 'record.withdrawnShort' : 'record.supersededShort'),
  );
}

/** Each part of the assurance in plain words: ledger, anchoring, time, witnesses. */
export function assuranceParts(a: Assurance): { part: string; words: string }[] {
  const ledger =
    a.ledger.level === 'fabric'
      ? a.ledger.endorsers.length > 0
        ? t('assurance.ledger.fabric', { endorsers: a.ledger.endorsers.join(t('list.separator')) })
        : t('assurance.ledger.fabricNoEndorsers')
      : t(`assurance.ledger.${a.ledger.level}` as MessageKey);
  const viaProxy = (a as { anchorReadViaProxy?: boolean }).anchorReadViaProxy === true;
  const anchoring =
    a.anchoring.level === 'anchored' || a.anchoring.level === 'unconfirmed'
      ? t(
          a.anchoring.level === 'anchored' && viaProxy
            ? 'assurance.anchoring.anchoredProxy'
            : `assurance.anchoring.${a.anchoring.level}`,
          {
            chain: chainName(a.anchoring.chainId),
            block: a.anchoring.block,
          },
        )
      : t(`assurance.anchoring.${a.anchoring.level}` as MessageKey);
  const time =
    a.time.level === 'outside-tsa'
      ? t('assurance.time.outside-tsa', { name: a.time.name })
      : t(`assurance.time.${a.time.level}` as MessageKey);
  return [
    { part: 'ledger', words: ledger },
    { part: 'anchoring', words: anchoring },
    { part: 'time', words: time },
    { part: 'witnesses', words: witnessWords(a.witnesses) },
  ];
}

/** "由 XX 公证处见证于 …" for each witness that cosigned, and whether the quorum was met. */
function witnessWords(w: Assurance['witnesses']): string {
  if (w.level === 'none') return t('assurance.witnesses.none');
  const counts = { count: w.cosigned.length, of: w.of, quorum: w.quorum };
  if (w.cosigned.length === 0) return t('assurance.witnesses.noneYet', counts);
  const zh = getLang() === 'zh-CN';
  const list = w.cosigned
    .map((c) =>
      c.size === undefined
        ? t('assurance.witnesses.by', {
            name: (zh ? c.displayNameZh : undefined) ?? c.displayName ?? c.name,
            time: formatTime(c.at),
          })
        : // It cosigned a later checkpoint that a consistency proof ties to the record's.
          t('assurance.witnesses.byLater', {
            name: (zh ? c.displayNameZh : undefined) ?? c.displayName ?? c.name,
            time: formatTime(c.at),
            size: c.size,
          }),
    )
    .join(t('list.separator'));
  return t(`assurance.witnesses.${w.level}`, { list, ...counts });
}

/** The assurance as one sentence (the verdict's second line). */
export function assuranceSentence(a: Assurance): string {
  return t('assurance.sentence', {
    parts: assuranceParts(a)
      .map((p) => p.words)
      .join(t('list.semicolon')),
  });
}

/** The assurance as a short list, labelled, with each part marked for tests and print. */
export function assuranceList(a: Assurance): HTMLElement {
  return h(
    'div',
    { class: 'assurance', 'data-on-chain': String(a.onChain) },
    h('p', { class: 'assurance-title' }, t('assurance.heading')),
    h(
      'ul',
      null,
      assuranceParts(a).map((p) => h('li', { 'data-assurance': p.part }, p.words)),
    ),
  );
}

export function flagWords(flag: FlagView): string {
  const key = `flag.${flag.code}`;
  return hasMessage(key) ? t(key) : t('flag.unknown', { code: flag.code });
}

/** A flag's short name, for the summary at the top of a result. */
export function flagShort(flag: FlagView): string {
  const key = `flagShort.${flag.code}`;
  return hasMessage(key) ? t(key) : flag.code;
}

/**
 * The record's flags in one line, to sit beside the verdict on the first screen: findings of the
 * ledger's rules, not verdicts; resolved ones say so. Not printed (the full list is).
 */
export function flagSummary(flags: FlagView[]): HTMLElement | null {
  if (flags.length === 0) return null;
  const open = flags.filter((f) => !f.resolvedBy);
  const items = flags.map((f) =>
    h(
      'li',
      { class: f.resolvedBy ? 'flag-chip flag-chip-resolved' : 'flag-chip', 'data-flag': f.code },
      h('span', { 'aria-hidden': 'true' }, f.resolvedBy ? '✓ ' : '⚑ '),
      flagShort(f),
      f.resolvedBy ? ` ${t('flag.resolvedShort')}` : null,
    ),
  );
  return h(
    'div',
    { class: 'flag-summary no-print', 'data-flags': String(flags.length) },
    h('p', null, t('flags.summary', { count: flags.length, open: open.length })),
    h('ul', null, items),
  );
}

export function flagList(
  flags: FlagView[],
  emptyKey: 'record.noFlags' | 'project.noFlags',
  linkRecords: boolean,
  /** A milestone's display name by id (names.ts), so a flag names 路面, not m2-surface. */
  milestoneName?: (id: string) => string | undefined,
) {
  if (flags.length === 0) return h('p', { class: 'muted' }, t(emptyKey));
  return h(
    'ul',
    { class: 'flags' },
    flags.map((f) =>
      h(
        'li',
        { class: f.resolvedBy ? 'flag flag-resolved' : 'flag', 'data-flag': f.code },
        h('span', { class: 'flag-icon', 'aria-hidden': 'true' }, f.resolvedBy ? '✓' : '⚑'),
        ' ',
        flagWords(f),
        flagFacts(f, milestoneName),
        f.resolvedBy
          ? [
              ' ',
              h(
                'span',
                { class: 'flag-resolution', 'data-resolved-by': f.resolvedBy },
                t('flag.resolved', {
                  id: shortId(f.resolvedBy),
                  date: f.resolvedAt ? formatTime(f.resolvedAt) : '',
                }),
                ' ',
                h('a', { href: `/r/${encodeURIComponent(f.resolvedBy)}` }, t('flag.resolvedLink')),
              ),
            ]
          : null,
        linkRecords && f.recordId
          ? [
              ' ',
              h(
                'a',
                { href: `/r/${encodeURIComponent(f.recordId)}` },
                t('flag.onRecord', { id: shortId(f.recordId) }),
              ),
            ]
          : null,
      ),
    ),
  );
}

/** The facts behind a flag that the gateway let this reader see: which milestone, how late. */
function flagFacts(flag: FlagView, milestoneName?: (id: string) => string | undefined): string | null {
  const d = flag.detail;
  if (typeof d?.milestone !== 'string') return null;
  const name = milestoneName?.(d.milestone);
  const milestone = name ? t('names.withId', { name, id: d.milestone }) : d.milestone;
  if (typeof d.dueDate === 'string' && typeof d.daysOverdue === 'number') {
    return ` ${t('flag.overdueMilestone', { milestone, dueDate: d.dueDate, days: d.daysOverdue })}`;
  }
  return ` ${t('flag.milestone', { milestone })}`;
}

export function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

/** A definition list of label/value pairs; values may be nodes (links, badges). */
export function facts(rows: [string, Node | string | null | undefined][]): HTMLDListElement {
  return h(
    'dl',
    { class: 'facts' },
    rows
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => h('div', { class: 'fact' }, h('dt', null, k), h('dd', null, v))),
  );
}

export function mono(text: string): HTMLElement {
  return h('code', { class: 'mono' }, text);
}

const ICON = { pass: '✓', fail: '✗', skipped: '○', pending: '…' } as const;

export function checklist(
  run: CheckRun | null,
  bundle: ProofBundle,
  mode: 'file' | 'certificate',
  assurance?: Assurance,
): HTMLElement {
  if (!run) {
    return h(
      'ol',
      { class: 'checklist', 'aria-busy': 'true' },
      STEP_ORDER.map((s) =>
        h(
          'li',
          { class: 'check check-pending', 'data-step': s },
          h('span', { class: 'check-icon', 'aria-hidden': 'true' }, ICON.pending),
          h('span', { class: 'check-name' }, stepName(s)),
          h('span', { class: 'check-status' }, t('stepStatus.pending')),
        ),
      ),
    );
  }
  if (run.errorCode) {
    return h('p', { class: 'banner banner-fail', role: 'alert' }, t('check.error', { code: run.errorCode }));
  }
  const failed = firstFailure(run);
  return h(
    'div',
    null,
    failed
      ? h(
          'p',
          { class: 'check-failed-step', 'data-failed-step': failed.step },
          t('check.failedStep', { step: stepName(failed.step) }),
        )
      : null,
    h(
      'ol',
      { class: 'checklist' },
      run.steps.map((step) => {
        const d = describeStep(step, bundle, mode, assurance, run.anchorRead);
        // The anchor step says where the chain was read: a pass through the operator's proxy looks
        // different from one the page did against the reader's own node (check-read-proxy).
        const read = d.read ? ` check-read-${d.read}` : '';
        return h(
          'li',
          {
            class: `check check-${d.status}${read}`,
            'data-step': d.step,
            'data-status': d.status,
            'data-read': d.read ?? null,
          },
          h('span', { class: 'check-icon', 'aria-hidden': 'true' }, ICON[d.status]),
          h('span', { class: 'check-name' }, d.name),
          h('span', { class: 'check-status' }, d.statusWord),
          h('span', { class: 'check-sentence' }, d.sentence),
          // What the check means in plain words, and the values it compared behind a toggle.
          ...stepExplanation(d.step, bundle),
          d.status === 'fail' && d.code
            ? h('span', { class: 'check-code' }, t('check.code', { code: d.code }))
            : null,
        );
      }),
    ),
  );
}

export function downloadButton(bundle: ProofBundle, id: string): HTMLButtonElement {
  const button = h(
    'button',
    { type: 'button', class: 'button', 'data-action': 'download' },
    t('record.download'),
  );
  button.addEventListener('click', () => saveBundle(bundle, id));
  return button;
}

export function saveBundle(bundle: ProofBundle, id: string): void {
  const blob = new Blob([`${JSON.stringify(bundle, null, 2)}\n`], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: `lianzheng-evidence-${id}.json`, class: 'visually-hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  // Revoke later: revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The details the record discloses (title, amount, …), when the bundle carries them. */
export function detailRows(bundle: ProofBundle): [string, string | undefined][] {
  const d = bundle.details;
  if (!d) return [];
  return [
    [t('record.title'), d.title],
    [t('record.amount'), d.amount ? formatFen(d.amount) : undefined],
    [t('record.milestone'), d.milestone],
    [t('record.result'), d.result ? t(d.result === 'passed' ? 'result.passed' : 'result.failed') : undefined],
    [t('record.reason'), d.reason],
  ];
}

/**
 * What the top of a result says of a record that no longer stands: withdrawn (when, why, and a
 * link to the withdrawal) or superseded (a link to the new version). Empty for a standing record.
 */
export function standingDetail(standing: Standing): (HTMLElement | string)[] {
  if (standing.state === 'withdrawn') {
    return [
      h(
        'p',
        { 'data-standing-detail': 'withdrawn' },
        standing.at ? t('standing.withdrawnOn', { date: formatTime(standing.at) }) : null,
        standing.at ? t('list.sentenceGap') : null,
        standing.reason
          ? h('span', { class: 'standing-reason' }, t('standing.reason', { reason: standing.reason }))
          : t('standing.reasonHidden'),
        ' ',
        h('a', { href: `/r/${encodeURIComponent(standing.by)}` }, t('standing.withdrawalLink')),
      ),
    ];
  }
  if (standing.state === 'superseded') {
    return [
      h(
        'p',
        { 'data-standing-detail': 'superseded' },
        standing.at
          ? `${t('standing.supersededOn', { date: formatTime(standing.at) })}${t('list.sentenceGap')}`
          : null,
        h(
          'a',
          { href: `/r/${encodeURIComponent(standing.by)}`, 'data-new-version': standing.by },
          t('standing.newVersionLink'),
        ),
      ),
    ];
  }
  return [];
}

/** The banner of a record that no longer stands (certificate, and beside the verdict). */
export function standingBanner(standing: Standing, id: string): HTMLElement | null {
  if (standing.state === 'standing') return null;
  return banner(
    'warn',
    t(standing.state === 'withdrawn' ? 'standing.withdrawnHeadline' : 'standing.supersededHeadline'),
    `standing-${standing.state}`,
    standingDetail(standing),
    id,
  );
}

export function versionNotes(rec: Pick<VerifyRecord, 'supersededBy' | 'withdrawnBy'>): HTMLElement[] {
  const notes: HTMLElement[] = [];
  if (rec.supersededBy) {
    notes.push(
      h(
        'p',
        { class: 'note note-warn', 'data-note': 'superseded' },
        t('record.superseded'),
        ' ',
        h('a', { href: `/r/${encodeURIComponent(rec.supersededBy)}` }, t('record.supersededLink')),
      ),
    );
  }
  if (rec.withdrawnBy) {
    notes.push(
      h(
        'p',
        { class: 'note note-warn', 'data-note': 'withdrawn' },
        t('record.withdrawn'),
        ' ',
        h('a', { href: `/r/${encodeURIComponent(rec.withdrawnBy)}` }, t('record.withdrawnLink')),
      ),
    );
  }
  return notes;
}

const fp = (value: string) => (value.length > 16 ? `${value.slice(0, 16)}…` : value);

/**
 * Short fingerprints of the keys that signed what the page shows — the receipt key (kid and RFC
 * 7638 thumbprint), the checkpoint key, the TSA root (SHA-256 of its DER) — to compare with a
 * trust file (GET /v1/trust.json, `lianzheng verify --trust`). `receiptKid`: only that receipt key
 * (a certificate); without it, every published one (the notice). `timestamped`: name the TSA root.
 */
export function keyPrints(
  keys: KeysAnswer | undefined,
  options: { receiptKid?: string; timestamped: boolean },
): HTMLElement | null {
  if (!keys) return null;
  let prints: ReturnType<typeof keyFingerprints>;
  try {
    prints = keyFingerprints(keys as never);
  } catch {
    return null;
  }
  const receipts =
    options.receiptKid === undefined
      ? prints.receipt
      : prints.receipt.filter((k) => k.kid === options.receiptKid);
  const parts = [
    ...receipts.map((k) => t('keys.receipt', { kid: k.kid ?? '?', print: fp(k.thumbprint) })),
    ...prints.checkpoint.map((k) => t('keys.checkpoint', { name: k.name, print: fp(k.sha256) })),
    ...(options.timestamped
      ? prints.tsaRoots.map((r) => t('keys.tsaRoot', { name: r.name, print: fp(r.sha256) }))
      : []),
  ];
  if (parts.length === 0) return null;
  return h(
    'p',
    { class: 'key-prints', 'data-key-prints': String(parts.length) },
    h('span', { class: 'key-prints-title' }, t('keys.heading')),
    ' ',
    parts.join(t('list.semicolon')),
  );
}

export function timeText(iso: string): string {
  return iso ? formatTime(iso) : '';
}

/** A line that says what the page is waiting for, with a spinner screen readers skip. */
export function statusLine(text: string): HTMLParagraphElement {
  return h(
    'p',
    { class: 'status-line', 'aria-busy': 'true' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    text,
  );
}

export type BannerTone = 'ok' | 'fail' | 'pending' | 'warn';

const BANNER_ICON: Record<BannerTone, string> = { ok: '✓', fail: '✗', pending: '○', warn: '!' };

/**
 * A verdict. `detail` is a sentence or nodes (the withdrawal's reason and link); a 'warn' banner
 * (withdrawn, superseded) is announced like a failure: it is what the reader must not miss.
 */
export function banner(
  tone: BannerTone,
  text: string,
  id: string,
  detail?: string | (HTMLElement | string)[],
  recordId?: string,
): HTMLElement {
  return h(
    'div',
    {
      class: `banner banner-${tone}`,
      role: tone === 'fail' || tone === 'warn' ? 'alert' : 'status',
      'data-banner': id,
      'data-record-ref': recordId ?? null,
    },
    h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, BANNER_ICON[tone]),
    h(
      'div',
      { class: 'banner-body' },
      h('strong', null, text),
      typeof detail === 'string' ? h('p', null, detail) : (detail ?? null),
    ),
  );
}

export function errorSentence(e: ApiError, timeoutMs: number): string {
  switch (e.code) {
    case 'TIMEOUT':
      return t('verify.error.timeout', { seconds: Math.round(timeoutMs / 100) / 10 });
    case 'NETWORK':
    case 'ABORTED':
      return t('verify.error.network');
    case 'HTTP':
    case 'NOT_FOUND':
      return t('verify.error.http', { status: e.status });
    default:
      return t('verify.error.badResponse');
  }
}
