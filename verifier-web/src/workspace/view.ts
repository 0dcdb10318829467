// The inspector's workspace (/inspect): sign in, the projects of the inspector's region with
// their open flags, a flag dashboard (by rule, by project, by month), a project's full trail with
// the restricted details the gateway lets this inspector read, each record's certificate, and
// the CSV exports. One page that moves between its screens with pushState: a reload would lose the
// sign-in, which lives only in memory (oidc.ts).
//
// What is restricted is decided by the gateway, never here: the page shows what the answers hold,
// and says "restricted" where a restricted record came without its details.

import { announce } from '../announce.ts';
import { type Child, h, setChildren } from '../dom.ts';
import { formatFen, formatTime, hasMessage, t } from '../i18n.ts';
import type { View, ViewContext } from '../views/view.ts';
import { tw, type WorkspaceKey } from './messages.ts';
import {
  type AuthConfig,
  beginSignIn,
  currentSession,
  endSessionUrl,
  type FinishResult,
  fetchAuthConfig,
  finishSignIn,
  signOut,
} from './oidc.ts';
import './workspace.css';

interface Count {
  total: number;
  open: number;
}
interface Overview {
  scope: { role: string; region?: string; org?: string };
  projects: {
    id: string;
    name: string;
    regionCode: string;
    ownerOrg: string;
    records: number;
    flags: number;
    openFlags: number;
  }[];
  truncated: boolean;
  flags: Count & {
    byRule: (Count & { code: string })[];
    byProject: (Count & { projectId: string })[];
    byMonth: (Count & { month: string })[];
  };
}
interface Flag {
  code: string;
  recordId: string;
  raisedAt?: string;
  detail?: Record<string, unknown>;
  resolvedBy?: string;
  resolvedAt?: string;
}
interface TrailRecord {
  id: string;
  status: string;
  kind: string;
  visibility: string;
  acceptedAt: string;
  flags: { code: string }[];
  details?: { title?: string; amount?: string; milestone?: string };
}
interface Caller {
  role: string;
  org?: string;
  subject?: string;
}
interface Delegation {
  org: string;
  active: boolean;
  grantedAt: string;
  revokedAt: string | null;
  /** Who granted and revoked it: only for those who may read the project's restricted details. */
  grantedBy?: Caller;
  revokedBy?: Caller | null;
}
interface ProjectAnswer {
  project: { id: string; name: string; regionCode: string; ownerOrg: string };
  delegates?: Delegation[];
}
interface ProjectData {
  project: ProjectAnswer['project'];
  delegates: Delegation[];
  records: TrailRecord[];
  /** The trail is longer than the screen shows (MAX_TRAIL_PAGES). */
  moreRecords: boolean;
  flags: Flag[];
}

type Screen = { kind: 'home' } | { kind: 'project'; id: string };
type Load<T> =
  | { state: 'idle' }
  | { state: 'loading' }
  | { state: 'failed'; reason: string }
  | { state: 'ok'; data: T };

const MAX_TRAIL_PAGES = 20;

function screenOf(pathname: string): Screen {
  const m = /^\/inspect\/p\/([^/]+)\/?$/.exec(pathname);
  if (m) {
    try {
      return { kind: 'project', id: decodeURIComponent(m[1]!) };
    } catch {
      return { kind: 'home' };
    }
  }
  return { kind: 'home' };
}

const projectPath = (id: string) => `/inspect/p/${encodeURIComponent(id)}`;

/** A table in its own sideways-scrolling box; `cls` with ws-titled hides the caption (a heading says it). */
function table(caption: string, head: string[], rows: Child[][], cls = ''): HTMLElement {
  return h(
    'div',
    { class: 'ws-table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      { class: `ws-table ${cls}`.trim() },
      h('caption', cls.includes('ws-titled') ? { class: 'visually-hidden' } : null, caption),
      h('thead', null, h('tr', null, ...head.map((c) => h('th', { scope: 'col' }, c)))),
      // Each cell names its column: on a phone the rows are drawn as cards (workspace.css).
      h(
        'tbody',
        null,
        ...rows.map((r) => h('tr', null, ...r.map((c, i) => h('td', { 'data-label': head[i] }, c)))),
      ),
    ),
  );
}

/** A record's flag codes, each once (two overdue milestones read "… ×2"). */
function flagCodes(flags: { code: string }[]): string {
  const counts = new Map<string, number>();
  for (const f of flags) counts.set(f.code, (counts.get(f.code) ?? 0) + 1);
  return [...counts].map(([code, n]) => (n > 1 ? `${code} ×${n}` : code)).join(' ');
}

function callerText(c: Caller): string {
  return [c.role, c.org, c.subject].filter(Boolean).join(' / ');
}

function flagName(code: string): string {
  const key = `flag.${code}`;
  return hasMessage(key) ? `${code} · ${t(key).split(/[：:]/)[0]}` : code;
}

function kindName(kind: string): string {
  const key = `kind.${kind}`;
  return hasMessage(key) ? t(key) : kind;
}

function statusName(status: string): string {
  const key = `status.${status}`;
  return hasMessage(key) ? t(key) : status;
}

/** A count drawn as a bar: <meter> needs no inline style, which the page's CSP forbids. */
function bar(count: Count, max: number): HTMLElement {
  return h(
    'span',
    { class: 'ws-bar' },
    h('meter', { min: 0, max: Math.max(max, 1), value: count.total, 'aria-hidden': 'true' }),
    h('span', null, `${count.total}`),
  );
}

export class WorkspaceView implements View {
  private auth: Load<AuthConfig> = { state: 'idle' };
  private overview: Load<Overview> = { state: 'idle' };
  private project: Load<ProjectData> = { state: 'idle' };
  private screen: Screen;
  private signInProblem: FinishResult | null = null;
  private downloadProblem: string | null = null;
  private main: HTMLElement | null = null;

  constructor(private readonly ctx: ViewContext) {
    this.screen = screenOf(location.pathname);
  }

  title(): string {
    return `${tw('ws.title')} · ${t('app.brand')}`;
  }

  start(): void {
    window.addEventListener('popstate', () => this.go(location.pathname, false));
    void this.boot();
  }

  private async boot(): Promise<void> {
    this.auth = { state: 'loading' };
    this.redraw();
    try {
      const config = await fetchAuthConfig(this.ctx.config.timeoutMs);
      this.auth = { state: 'ok', data: config };
      const result = await finishSignIn(config, this.ctx.config.timeoutMs);
      if (result === 'bad-state' || result === 'refused' || result === 'unreachable')
        this.signInProblem = result;
      this.screen = screenOf(location.pathname);
    } catch (e) {
      this.auth = { state: 'failed', reason: (e as Error).message };
    }
    this.redraw();
    if (currentSession()) await this.loadScreen();
  }

  private async api<T>(path: string): Promise<T> {
    const s = currentSession();
    if (!s) throw new Error('SIGNED_OUT');
    const res = await fetch(path, {
      headers: { authorization: `Bearer ${s.token}` },
      signal: AbortSignal.timeout(this.ctx.config.timeoutMs),
    });
    if (!res.ok) {
      const problem = (await res.json().catch(() => ({}))) as { code?: string };
      throw new Error(`${res.status} ${problem.code ?? ''}`.trim());
    }
    return (await res.json()) as T;
  }

  private async loadScreen(): Promise<void> {
    if (this.screen.kind === 'home') {
      this.overview = { state: 'loading' };
      this.redraw();
      try {
        this.overview = { state: 'ok', data: await this.api<Overview>('/v1/workspace/overview') };
      } catch (e) {
        this.overview = { state: 'failed', reason: (e as Error).message };
      }
    } else {
      const id = this.screen.id;
      this.project = { state: 'loading' };
      this.redraw();
      try {
        const base = `/v1/projects/${encodeURIComponent(id)}`;
        const [answer, flags] = await Promise.all([
          this.api<ProjectAnswer>(base),
          this.api<{ flags: Flag[] }>(`${base}/flags`),
        ]);
        const records: TrailRecord[] = [];
        let after = '';
        // Past MAX_TRAIL_PAGES the screen says so and points to the CSV, which has every record.
        let more = false;
        for (let page = 0; page < MAX_TRAIL_PAGES; page++) {
          const r = await this.api<{ records: TrailRecord[]; next?: string }>(
            `${base}/records?limit=1000${after ? `&after=${after}` : ''}`,
          );
          records.push(...r.records);
          more = r.next !== undefined;
          if (!r.next) break;
          after = r.next;
        }
        this.project = {
          state: 'ok',
          data: {
            project: answer.project,
            delegates: answer.delegates ?? [],
            records,
            moreRecords: more,
            flags: flags.flags,
          },
        };
      } catch (e) {
        this.project = { state: 'failed', reason: (e as Error).message };
      }
    }
    this.redraw();
    document.title = this.title();
  }

  private go(path: string, push = true): void {
    if (push) history.pushState(null, '', path);
    this.screen = screenOf(path);
    void this.loadScreen();
    window.scrollTo(0, 0);
  }

  /** An in-workspace link: moves without reloading (the sign-in would not survive a reload). */
  private link(path: string, text: string, attrs: Record<string, string> = {}): HTMLAnchorElement {
    const a = h('a', { href: path, ...attrs }, text);
    a.addEventListener('click', (e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      this.go(path);
    });
    return a;
  }

  private redraw(): void {
    if (this.main) this.render(this.main);
  }

  render(main: HTMLElement): void {
    this.main = main;
    document.documentElement.dataset.workspace = currentSession() ? 'signed-in' : 'signed-out';
    setChildren(main, h('section', { class: 'ws' }, ...this.body()));
  }

  private body(): Child[] {
    const out: Child[] = [h('h1', null, tw('ws.title'))];
    const auth = this.auth;
    if (auth.state === 'idle' || auth.state === 'loading') return [...out, h('p', null, tw('ws.loading'))];
    if (auth.state === 'failed')
      return [...out, h('p', { class: 'note note-warn' }, tw('ws.loadFailed', { reason: auth.reason }))];
    const config = auth.data;
    if (config.development) out.push(h('p', { class: 'note ws-dev', role: 'note' }, tw('ws.devNote')));
    const session = currentSession();
    if (!session) {
      out.push(h('p', null, tw('ws.intro')));
      if (this.signInProblem)
        out.push(
          h(
            'p',
            { class: 'note note-warn', role: 'alert' },
            tw(`ws.signInFailed.${this.signInProblem}` as WorkspaceKey),
          ),
        );
      if (!config.signIn) {
        out.push(h('p', { class: 'note note-warn' }, tw('ws.noSignIn')));
        return out;
      }
      const button = h(
        'button',
        { type: 'button', class: 'button button-primary ws-sign-in', id: 'ws-sign-in' },
        tw('ws.signIn'),
      );
      button.addEventListener('click', () => beginSignIn(config));
      out.push(button, h('p', { class: 'ws-muted' }, tw('ws.memoryNote')));
      return out;
    }
    const signOutButton = h('button', { type: 'button', class: 'button ws-sign-out' }, tw('ws.signOut'));
    signOutButton.addEventListener('click', () => {
      signOut();
      // The provider's session ends too, where it offers that; it sends the reader back to /inspect.
      const away = endSessionUrl(config, location.origin);
      if (away) {
        location.assign(away);
        return;
      }
      this.overview = { state: 'idle' };
      this.project = { state: 'idle' };
      history.pushState(null, '', '/inspect');
      this.screen = { kind: 'home' };
      this.redraw();
      announce(tw('ws.signOut'));
    });
    const scope = this.overview.state === 'ok' ? this.overview.data.scope : null;
    out.push(
      h(
        'div',
        { class: 'ws-bar-top' },
        h('p', { class: 'ws-scope', id: 'ws-scope' }, scope ? this.scopeText(scope) : ''),
        signOutButton,
      ),
    );
    return [...out, ...(this.screen.kind === 'home' ? this.home() : this.projectScreen())];
  }

  private scopeText(scope: Overview['scope']): string {
    switch (scope.role) {
      case 'inspector':
        return tw('ws.scope.inspector', { region: scope.region ?? '' });
      case 'unit':
        return tw('ws.scope.unit', { org: scope.org ?? '' });
      case 'partner':
        return tw('ws.scope.partner', { org: scope.org ?? '' });
      default:
        return tw('ws.scope.admin');
    }
  }

  private home(): Child[] {
    const o = this.overview;
    if (o.state === 'idle' || o.state === 'loading') return [h('p', null, tw('ws.loading'))];
    if (o.state === 'failed')
      return [h('p', { class: 'note note-warn', role: 'alert' }, tw('ws.loadFailed', { reason: o.reason }))];
    const d = o.data;
    const names = new Map(d.projects.map((p) => [p.id, p.name]));
    const max = (list: Count[]) => Math.max(0, ...list.map((c) => c.total));
    const projects =
      d.projects.length === 0
        ? h('p', { id: 'ws-projects-empty' }, tw('ws.projects.empty'))
        : table(
            tw('ws.projects.heading'),
            [
              tw('ws.col.project'),
              tw('ws.col.region'),
              tw('ws.col.owner'),
              tw('ws.col.records'),
              tw('ws.col.open'),
              tw('ws.col.flags'),
            ],
            d.projects.map((p) => [
              h(
                'span',
                { class: 'ws-project-cell' },
                this.link(projectPath(p.id), p.name, { 'data-project': p.id }),
                h('small', null, p.id),
              ),
              p.regionCode,
              p.ownerOrg,
              p.records,
              h(
                'strong',
                { class: p.openFlags > 0 ? 'ws-open' : 'ws-none', 'data-open-flags': p.openFlags },
                `${p.openFlags}`,
              ),
              p.flags,
            ]),
            'ws-projects ws-titled',
          );
    const dash =
      d.flags.total === 0
        ? [h('p', null, tw('ws.dash.none'))]
        : [
            h(
              'div',
              { class: 'ws-dash' },
              table(
                tw('ws.dash.byRule'),
                [tw('ws.col.rule'), tw('ws.col.total'), tw('ws.col.open')],
                d.flags.byRule.map((r) => [flagName(r.code), bar(r, max(d.flags.byRule)), r.open]),
              ),
              table(
                tw('ws.dash.byProject'),
                [tw('ws.col.project'), tw('ws.col.total'), tw('ws.col.open')],
                d.flags.byProject.map((r) => [
                  this.link(projectPath(r.projectId), names.get(r.projectId) ?? r.projectId),
                  bar(r, max(d.flags.byProject)),
                  r.open,
                ]),
              ),
              table(
                tw('ws.dash.byMonth'),
                [tw('ws.col.month'), tw('ws.col.total'), tw('ws.col.open')],
                d.flags.byMonth.map((r) => [
                  r.month || tw('ws.monthUnknown'),
                  bar(r, max(d.flags.byMonth)),
                  r.open,
                ]),
              ),
            ),
          ];
    return [
      h(
        'p',
        { class: 'ws-summary', id: 'ws-summary' },
        tw('ws.summary', { projects: d.projects.length, flags: d.flags.total, open: d.flags.open }),
      ),
      d.truncated ? h('p', { class: 'note note-warn' }, tw('ws.truncated', { n: d.projects.length })) : null,
      h('h2', null, tw('ws.projects.heading')),
      projects,
      h('h2', null, tw('ws.dash.heading')),
      ...dash,
    ];
  }

  private async download(id: string, file: 'records.csv' | 'flags.csv'): Promise<void> {
    this.downloadProblem = null;
    try {
      const s = currentSession();
      if (!s) throw new Error('SIGNED_OUT');
      const res = await fetch(`/v1/projects/${encodeURIComponent(id)}/${file}`, {
        headers: { authorization: `Bearer ${s.token}` },
        signal: AbortSignal.timeout(this.ctx.config.timeoutMs * 4),
      });
      if (!res.ok) throw new Error(String(res.status));
      // A blob: address for the one download, then let go: the file never passes through a URL
      // that carries the token.
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: `${id}-${file}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      this.downloadProblem = (e as Error).message;
      this.redraw();
    }
  }

  private projectScreen(): Child[] {
    const back = h('p', null, this.link('/inspect', tw('ws.back'), { id: 'ws-back' }));
    const p = this.project;
    if (p.state === 'idle' || p.state === 'loading') return [back, h('p', null, tw('ws.loading'))];
    if (p.state === 'failed')
      return [
        back,
        h('p', { class: 'note note-warn', role: 'alert' }, tw('ws.loadFailed', { reason: p.reason })),
      ];
    const { project, records, flags, delegates, moreRecords } = p.data;
    const kinds = new Map(records.map((r) => [r.id, r.kind]));
    const csv = (file: 'records.csv' | 'flags.csv', key: WorkspaceKey) => {
      const b = h('button', { type: 'button', class: 'button', 'data-csv': file }, tw(key));
      b.addEventListener('click', () => void this.download(project.id, file));
      return b;
    };
    const restricted = h('span', { class: 'ws-restricted' }, tw('ws.restricted'));
    const detail = (r: TrailRecord, field: 'title' | 'amount' | 'milestone'): Child => {
      if (!r.details) return r.visibility === 'restricted' ? restricted.cloneNode(true) : '';
      const v = r.details[field];
      if (v === undefined) return '';
      return field === 'amount' ? h('span', { 'data-amount': v }, formatFen(v)) : v;
    };
    return [
      back,
      h('h2', { id: 'ws-project-name' }, project.name),
      h(
        'p',
        { class: 'ws-muted' },
        tw('ws.project.facts', { region: project.regionCode, owner: project.ownerOrg, id: project.id }),
      ),
      h(
        'p',
        { class: 'ws-actions' },
        csv('records.csv', 'ws.download.records'),
        csv('flags.csv', 'ws.download.flags'),
      ),
      this.downloadProblem
        ? h(
            'p',
            { class: 'note note-warn', role: 'alert' },
            tw('ws.download.failed', { reason: this.downloadProblem }),
          )
        : null,
      h('h3', null, tw('ws.flags.heading')),
      flags.length === 0
        ? h('p', null, tw('ws.flags.none'))
        : table(
            tw('ws.flags.heading'),
            [
              tw('ws.col.rule'),
              tw('ws.col.record'),
              tw('ws.col.raised'),
              tw('ws.col.status'),
              tw('ws.col.facts'),
            ],
            flags.map((f) => [
              flagName(f.code),
              h(
                'a',
                { href: `/r/${encodeURIComponent(f.recordId)}`, target: '_blank', rel: 'noopener' },
                // UUIDv7s of one day share their first digits: the kind and the last ones tell them apart.
                `${kindName(kinds.get(f.recordId) ?? '')} …${f.recordId.slice(-6)}`.trim(),
              ),
              f.raisedAt ? formatTime(f.raisedAt) : '',
              f.resolvedBy ? tw('ws.flag.resolved') : h('strong', { class: 'ws-open' }, tw('ws.flag.open')),
              f.detail
                ? h(
                    'span',
                    { class: 'ws-facts', 'data-facts': 'shown' },
                    Object.entries(f.detail)
                      .map(([k, v]) => `${k}=${String(v)}`)
                      .join(' · '),
                  )
                : restricted.cloneNode(true),
            ]),
            'ws-flags ws-titled',
          ),
      h('h3', null, tw('ws.delegates.heading')),
      delegates.length === 0
        ? h('p', null, tw('ws.delegates.none'))
        : table(
            tw('ws.delegates.heading'),
            [tw('ws.col.partner'), tw('ws.col.status'), tw('ws.col.granted'), tw('ws.col.revoked')],
            delegates.map((d) => [
              d.org,
              d.active ? tw('ws.delegate.active') : tw('ws.delegate.revoked'),
              `${formatTime(d.grantedAt)}${d.grantedBy ? ` · ${callerText(d.grantedBy)}` : ''}`,
              d.revokedAt
                ? `${formatTime(d.revokedAt)}${d.revokedBy ? ` · ${callerText(d.revokedBy)}` : ''}`
                : '',
            ]),
            'ws-delegates ws-titled',
          ),
      h('h3', null, tw('ws.trail.heading')),
      moreRecords ? h('p', { class: 'note note-warn' }, tw('ws.trail.more', { n: records.length })) : null,
      records.length === 0
        ? h('p', null, tw('ws.trail.empty'))
        : table(
            tw('ws.trail.heading'),
            [
              tw('ws.col.time'),
              tw('ws.col.kind'),
              tw('ws.col.status'),
              tw('ws.col.title'),
              tw('ws.col.amount'),
              tw('ws.col.milestone'),
              tw('ws.col.visibility'),
              tw('ws.col.flags'),
              tw('ws.col.certificate'),
            ],
            records.map((r) => [
              formatTime(r.acceptedAt),
              kindName(r.kind),
              statusName(r.status),
              detail(r, 'title'),
              detail(r, 'amount'),
              detail(r, 'milestone'),
              r.visibility === 'restricted' ? tw('ws.visibility.restricted') : tw('ws.visibility.public'),
              flagCodes(r.flags),
              h(
                'a',
                {
                  href: `/r/${encodeURIComponent(r.id)}`,
                  target: '_blank',
                  rel: 'noopener',
                  'data-record': r.id,
                },
                tw('ws.certificate'),
              ),
            ]),
            'ws-trail ws-titled',
          ),
    ];
  }
}
