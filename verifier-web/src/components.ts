// Pieces shared by the three pages: the record's facts, its status, its flags, the checklist and
// the download button. Colour is never the only signal: every state also has a word and a symbol.

import type { ProofBundle } from '@lianzheng/proof';
import type { ApiError, FlagView, RecordStatus, VerifyRecord } from './api.ts';
import { type CheckRun, describeStep, firstFailure, STEP_ORDER, stepName } from './checks.ts';
import { h } from './dom.ts';
import { formatFen, formatTime, hasMessage, t } from './i18n.ts';

export function kindWords(kind: string): string {
  const key = `kind.${kind}`;
  return hasMessage(key) ? t(key) : kind;
}

export function statusBadge(status: RecordStatus): HTMLElement {
  const key = `status.${status}`;
  const known = hasMessage(key);
  return h(
    'span',
    { class: `badge badge-${known ? status : 'unknown'}` },
    known ? t(key) : t('status.unknown'),
  );
}

export function flagWords(flag: FlagView): string {
  const key = `flag.${flag.code}`;
  return hasMessage(key) ? t(key) : t('flag.unknown', { code: flag.code });
}

export function flagList(
  flags: FlagView[],
  emptyKey: 'record.noFlags' | 'project.noFlags',
  linkRecords: boolean,
) {
  if (flags.length === 0) return h('p', { class: 'muted' }, t(emptyKey));
  return h(
    'ul',
    { class: 'flags' },
    flags.map((f) =>
      h(
        'li',
        { class: 'flag' },
        h('span', { class: 'flag-icon', 'aria-hidden': 'true' }, '⚑'),
        ' ',
        flagWords(f),
        flagFacts(f),
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
function flagFacts(flag: FlagView): string | null {
  const d = flag.detail;
  if (typeof d?.milestone !== 'string') return null;
  if (typeof d.dueDate === 'string' && typeof d.daysOverdue === 'number') {
    return ` ${t('flag.overdueMilestone', { milestone: d.milestone, dueDate: d.dueDate, days: d.daysOverdue })}`;
  }
  return ` ${t('flag.milestone', { milestone: d.milestone })}`;
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
        const d = describeStep(step, bundle, mode);
        return h(
          'li',
          { class: `check check-${d.status}`, 'data-step': d.step, 'data-status': d.status },
          h('span', { class: 'check-icon', 'aria-hidden': 'true' }, ICON[d.status]),
          h('span', { class: 'check-name' }, d.name),
          h('span', { class: 'check-status' }, d.statusWord),
          h('span', { class: 'check-sentence' }, d.sentence),
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

export function banner(
  tone: 'ok' | 'fail' | 'pending',
  text: string,
  id: string,
  detail?: string,
): HTMLElement {
  return h(
    'div',
    { class: `banner banner-${tone}`, role: tone === 'fail' ? 'alert' : 'status', 'data-banner': id },
    h(
      'span',
      { class: 'banner-icon', 'aria-hidden': 'true' },
      tone === 'ok' ? '✓' : tone === 'fail' ? '✗' : '○',
    ),
    h('div', { class: 'banner-body' }, h('strong', null, text), detail ? h('p', null, detail) : null),
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
