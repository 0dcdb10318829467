// `/p/{projectId}`: the project's public notice (公示) — what a villager sees after scanning the
// code on the notice board: the project, its public records stage by stage, and its rule flags.

import {
  ApiError,
  type FlagView,
  type KeysAnswer,
  type ProjectView as Project,
  type ProjectRecordView,
} from '../api.ts';
import {
  banner,
  errorSentence,
  facts,
  flagList,
  keyPrints,
  kindWords,
  mono,
  shortId,
  statusBadge,
  statusLine,
} from '../components.ts';
import { h, setChildren } from '../dom.ts';
import { formatDate, formatFen, hasMessage, t } from '../i18n.ts';
import { milestoneNamed, milestoneNameOf, orgNamed, projectSubtitle, projectTitle } from '../names.ts';
import { qrSvg } from '../qr.ts';
import type { View, ViewContext } from './view.ts';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The lifecycle order of DOMAIN.md; each kind belongs to one stage. */
const STAGES: { stage: string; kinds: string[] }[] = [
  { stage: 'approval', kinds: ['approval'] },
  { stage: 'tender', kinds: ['tender', 'award'] },
  { stage: 'contract', kinds: ['contract'] },
  { stage: 'construction', kinds: ['construction_log'] },
  { stage: 'change', kinds: ['change_order'] },
  { stage: 'acceptance', kinds: ['acceptance'] },
  { stage: 'payment', kinds: ['payment_approval'] },
  { stage: 'notice', kinds: ['notice', 'withdrawal'] },
];

export function groupByStage(
  records: ProjectRecordView[],
): { stage: string; records: ProjectRecordView[] }[] {
  const known = new Set(STAGES.flatMap((s) => s.kinds));
  const groups = [
    ...STAGES.map((s) => ({ stage: s.stage, records: records.filter((r) => s.kinds.includes(r.kind)) })),
    { stage: 'other', records: records.filter((r) => !known.has(r.kind)) },
  ];
  for (const g of groups) g.records.sort((a, b) => a.acceptedAt.localeCompare(b.acceptedAt));
  return groups.filter((g) => g.records.length > 0);
}

type State =
  | { kind: 'loading' }
  | { kind: 'bad-id' }
  | { kind: 'not-found' }
  | { kind: 'error'; error: ApiError }
  | {
      kind: 'ready';
      project: Project;
      records: ProjectRecordView[];
      flags: FlagView[];
      ledger?: string;
      keys?: KeysAnswer;
    };

export class ProjectPage implements View {
  private state: State;
  private main: HTMLElement | null = null;

  constructor(
    private readonly ctx: ViewContext,
    private readonly id: string,
  ) {
    this.state = ID.test(id) ? { kind: 'loading' } : { kind: 'bad-id' };
  }

  title(): string {
    return this.state.kind === 'ready'
      ? `${projectTitle(this.state.project)} · ${t('project.heading')}`
      : `${t('project.heading')} · ${t('app.brand')}`;
  }

  start(): void {
    if (this.state.kind === 'loading') void this.load();
  }

  private async load(): Promise<void> {
    this.set({ kind: 'loading' });
    try {
      const [project, records, flags, keys] = await Promise.all([
        this.ctx.api.project(this.id),
        this.ctx.api.projectRecords(this.id),
        this.ctx.api.projectFlags(this.id),
        // Which ledger the records are on decides the status words (已上链 only on Fabric).
        this.ctx.api.keys().catch(() => undefined),
      ]);
      this.set({
        kind: 'ready',
        project,
        records,
        flags,
        ...(keys?.ledger ? { ledger: keys.ledger } : {}),
        ...(keys ? { keys } : {}),
      });
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError('BAD_RESPONSE');
      this.set(err.code === 'NOT_FOUND' ? { kind: 'not-found' } : { kind: 'error', error: err });
    }
  }

  private set(s: State): void {
    this.state = s;
    if (this.main) this.render(this.main);
    document.title = this.title();
  }

  render(main: HTMLElement): void {
    this.main = main;
    const s = this.state;
    document.documentElement.dataset.state = s.kind;
    if (s.kind !== 'ready') {
      const body =
        s.kind === 'loading'
          ? statusLine(t('project.loading'))
          : s.kind === 'error'
            ? banner(
                'fail',
                errorSentence(s.error, this.ctx.config.timeoutMs),
                `error-${s.error.code.toLowerCase()}`,
              )
            : banner('fail', t('project.notFound', { id: this.id }), 'not-found');
      const retry =
        s.kind === 'error'
          ? h('button', { type: 'button', class: 'button', 'data-action': 'retry' }, t('verify.retry'))
          : null;
      retry?.addEventListener('click', () => void this.load());
      setChildren(main, h('h1', null, t('project.heading')), body, retry);
      return;
    }
    const { project: p, records, flags } = s;
    const print = h(
      'button',
      { type: 'button', class: 'button button-primary', 'data-action': 'print' },
      t('project.print'),
    );
    print.addEventListener('click', () => window.print());
    const levelKey = `project.level.${p.level}`;
    const level = hasMessage(levelKey) ? t(levelKey) : p.level;
    const subtitle = projectSubtitle(p);
    setChildren(
      main,
      h(
        'article',
        { class: 'project', 'aria-labelledby': 'project-title' },
        h('p', { class: 'eyebrow' }, t('project.heading')),
        h(
          'h1',
          { id: 'project-title' },
          projectTitle(p),
          subtitle
            ? h('span', { class: 'cert-sub project-subtitle', lang: subtitle.lang }, subtitle.text)
            : null,
        ),
        h(
          'div',
          { class: 'cert-body' },
          facts([
            [t('project.id'), mono(p.id)],
            // The display name was changed after registration: the ledger's stays visible.
            [t('names.registered'), p.registeredName],
            [t('project.region'), p.regionCode],
            [t('project.level'), level],
            [t('project.owner'), p.ownerOrg ? orgNamed(p, p.ownerOrg) : undefined],
            [t('project.budget'), p.budget ? formatFen(p.budget) : undefined],
          ]),
          h(
            'figure',
            { class: 'cert-qr' },
            qrSvg(this.ctx.pageUrl, t('project.qrCaption')),
            h('figcaption', null, t('project.qrCaption')),
          ),
        ),
        p.milestones && p.milestones.length > 0
          ? [
              h('h2', null, t('project.milestones')),
              h(
                'ul',
                { class: 'milestones' },
                p.milestones.map((m) =>
                  h(
                    'li',
                    { 'data-milestone': m.id },
                    milestoneNamed(p, m.id),
                    ' · ',
                    t('project.due', { date: m.dueDate }),
                  ),
                ),
              ),
            ]
          : null,
        h('h2', null, t('project.flags')),
        flagList(flags, 'project.noFlags', true, milestoneNameOf(p)),
        h('h2', null, t('project.timeline')),
        records.length === 0
          ? h('p', { class: 'muted' }, t('project.noRecords'))
          : timeline(records, s.ledger, p),
        // The keys that sign this project's receipts and the log, to compare with a trust file.
        keyPrints(s.keys, { timestamped: (s.keys?.tsaRoots.length ?? 0) > 0 }),
      ),
      h('div', { class: 'actions no-print' }, print),
    );
  }
}

function timeline(records: ProjectRecordView[], ledger: string | undefined, project: Project): HTMLElement {
  return h(
    'ol',
    { class: 'timeline' },
    groupByStage(records).map((g) =>
      h(
        'li',
        { class: 'stage', 'data-stage': g.stage },
        h('h3', { class: 'stage-name' }, t(`stage.${g.stage}` as 'stage.other')),
        h(
          'ul',
          { class: 'stage-records' },
          g.records.map((r) =>
            h(
              'li',
              { class: 'stage-record', 'data-record-id': r.id },
              h('span', { class: 'stage-date' }, r.acceptedAt ? formatDate(r.acceptedAt) : ''),
              h('span', { class: 'stage-kind' }, kindWords(r.kind)),
              r.title ? h('span', { class: 'stage-title' }, r.title) : null,
              // Amounts of public records are public (DOMAIN.md); the gateway sends a restricted
              // record's to no one here, and the page would not show one if it did.
              r.visibility === 'public' && r.amount
                ? h(
                    'span',
                    { class: 'stage-amount', 'data-amount': r.amount },
                    t('project.amount', { amount: formatFen(r.amount) }),
                  )
                : null,
              r.visibility === 'public' && r.milestone
                ? h(
                    'span',
                    { class: 'stage-milestone', 'data-milestone': r.milestone },
                    milestoneNamed(project, r.milestone),
                  )
                : null,
              r.status ? statusBadge(r.status, undefined, ledger) : null,
              r.visibility === 'restricted'
                ? h('span', { class: 'badge badge-unknown' }, t('project.restricted'))
                : null,
              r.supersededBy ? h('span', { class: 'badge badge-warn' }, t('record.supersededShort')) : null,
              r.withdrawnBy ? h('span', { class: 'badge badge-warn' }, t('record.withdrawnShort')) : null,
              h(
                'a',
                { href: `/r/${encodeURIComponent(r.id)}`, class: 'stage-link' },
                `${t('project.open')} ${shortId(r.id)}`,
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
