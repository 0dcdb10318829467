// `/r/{id}`: a record's evidence certificate (存证证书), the page a QR code points at. It prints on
// one A4 page (see the print rules in styles.css).

import { parseCheckpoint, verifyCheckpointTimestamp } from '@lianzheng/proof';
import { announce } from '../announce.ts';
import { ApiError, type KeysAnswer, type ProjectView, type VerifyRecord } from '../api.ts';
import { currentRpcUrl } from '../chain-rpc.ts';
import {
  anchorIdentityWords,
  assuranceOf,
  type CheckRun,
  ledgerWords,
  receiptKeyId,
  runChecks,
} from '../checks.ts';
import {
  assuranceList,
  banner,
  checklist,
  detailRows,
  downloadButton,
  errorSentence,
  facts,
  flagList,
  flagSummary,
  keyPrints,
  kindWords,
  mono,
  shortId,
  standingBadge,
  standingBanner,
  statusBadge,
  statusLine,
  timeText,
} from '../components.ts';
import { h, setChildren } from '../dom.ts';
import { compareFileDigests, hashFile } from '../hash-file.ts';
import { formatDate, formatTime, t } from '../i18n.ts';
import { milestoneNamed, milestoneNameOf, named, orgNamed, projectTitle } from '../names.ts';
import { type CheckpointPinCheck, checkReceiptPin, type PinCheck, readPins } from '../pins.ts';
import { qrSvg } from '../qr.ts';
import { bundleSuites, suitesWords } from '../suites.ts';
import { chainSettings } from './chain-settings.ts';
import type { View, ViewContext } from './view.ts';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

type State =
  | { kind: 'loading' }
  | { kind: 'bad-id' }
  | { kind: 'not-found' }
  | { kind: 'error'; error: ApiError }
  | {
      kind: 'ready';
      rec: VerifyRecord;
      run: CheckRun | null;
      keys?: KeysAnswer;
      /** The project with its display names (issue #21), once fetched. */
      project?: ProjectView;
      related?: Related[];
      /** The time-stamp's genTime, once its token checked out. */
      timestampAt?: string;
      /** The receipt key against the keys pinned in the address (`?pin=`), when some are. */
      pin?: PinCheck;
      /** The checkpoint keys pinned in the address, when some are. */
      checkpointPin?: CheckpointPinCheck;
    };

/** A record this one names or is named by, with what the gateway says of it. */
interface Related {
  relation: 'contract' | 'ref' | 'supersedes' | 'supersededBy' | 'withdrawnBy';
  id: string;
  kind?: string;
  acceptedAt?: string;
  title?: string;
}

/** At most this many related records are fetched for one certificate (refs are few in practice). */
const MAX_RELATED = 8;

export class CertificateView implements View {
  private state: State;
  private main: HTMLElement | null = null;
  /** The advanced settings (the reader's own chain node), kept across redraws so typing survives. */
  private settings: { lang: string; el: HTMLElement } | null = null;
  private fileCheck: {
    kind: 'hashing' | 'match' | 'mismatch' | 'sm3-mismatch' | 'empty' | 'failed';
    name: string;
    /** A match on both SHA-256 and SM3 (the record carries an SM3 digest). */
    sm3?: boolean;
  } | null = null;

  constructor(
    private readonly ctx: ViewContext,
    private readonly id: string,
  ) {
    this.state = ID.test(id) ? { kind: 'loading' } : { kind: 'bad-id' };
  }

  title(): string {
    return `${t('cert.heading')} · ${t('app.brand')}`;
  }

  start(): void {
    if (this.state.kind === 'loading') void this.load();
  }

  private async load(): Promise<void> {
    this.set({ kind: 'loading' });
    let rec: VerifyRecord;
    try {
      rec = await this.ctx.api.evidence(this.id);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError('BAD_RESPONSE');
      // The gateway answers 400 for an id that is not a record id at all.
      if (err.code === 'HTTP' && err.status === 400) this.set({ kind: 'bad-id' });
      else this.set(err.code === 'NOT_FOUND' ? { kind: 'not-found' } : { kind: 'error', error: err });
      return;
    }
    const ready: State = { kind: 'ready', rec, run: null };
    this.set(ready);
    void this.ctx.api.projectInfo(rec.projectId).then((project) => {
      if (!project) return;
      ready.project = project;
      rec.projectName ??= project.name;
      this.rerender();
    });
    void this.loadRelated(rec).then((related) => {
      ready.related = related;
      this.rerender();
    });
    let keys: KeysAnswer;
    try {
      keys = await this.ctx.api.keys();
    } catch {
      ready.run = { ok: false, steps: [], errorCode: 'KEYS_UNAVAILABLE' };
      this.rerender();
      return;
    }
    ready.keys = keys;
    const pins = readPins(location.search, keys);
    if (pins?.bad) ready.pin = { state: 'bad-pin' };
    else if (pins?.receipt.length) {
      const kid = receiptKeyId(rec.bundle.receipt);
      ready.pin = kid ? await checkReceiptPin(pins.receipt, keys, kid) : { state: 'mismatch', kid: '?' };
    }
    if (pins?.checkpoint) ready.checkpointPin = pins.checkpoint;
    const rpcUrl = currentRpcUrl();
    const run = await runChecks(rec.bundle, rec.bundle.record.digests.sha256, {
      api: this.ctx.api,
      // Pinned checkpoint keys narrow what the checkpoint step believes.
      keys: pins?.keys ?? keys,
      ...(rpcUrl ? { rpcUrl, rpcTimeoutMs: this.ctx.config.timeoutMs } : {}),
    });
    // The checks and the time-stamp's time appear together (a redraw in between shows neither).
    ready.timestampAt = await timestampTime(rec, keys, run);
    ready.run = run;
    this.rerender();
  }

  /** What this record rests on (its refs), replaces, or was replaced or withdrawn by. */
  private async loadRelated(rec: VerifyRecord): Promise<Related[]> {
    const r = rec.bundle.record;
    const wanted: Related[] = [
      ...(r.refs ?? []).map((id) => ({ relation: 'ref' as const, id })),
      ...(r.supersedes ? [{ relation: 'supersedes' as const, id: r.supersedes }] : []),
      ...(rec.supersededBy ? [{ relation: 'supersededBy' as const, id: rec.supersededBy }] : []),
      ...(rec.withdrawnBy ? [{ relation: 'withdrawnBy' as const, id: rec.withdrawnBy }] : []),
    ].slice(0, MAX_RELATED);
    return Promise.all(
      wanted.map(async (w): Promise<Related> => {
        try {
          const other = await this.ctx.api.evidence(w.id);
          const title = other.bundle.details?.title;
          return {
            ...w,
            // A payment or an acceptance rests on its contract: say so rather than "refers to".
            relation: w.relation === 'ref' && other.kind === 'contract' ? 'contract' : w.relation,
            kind: other.kind,
            acceptedAt: other.acceptedAt,
            ...(title ? { title } : {}),
          };
        } catch {
          return w; // Not readable now: the link alone still says which record.
        }
      }),
    );
  }

  private set(s: State): void {
    this.state = s;
    this.rerender();
  }

  private rerender(): void {
    if (!this.main) return;
    // Keep the keyboard where it was when the checks finish and the page is redrawn.
    const active = document.activeElement?.getAttribute('data-action') ?? document.activeElement?.id;
    this.render(this.main);
    if (active)
      this.main.querySelector<HTMLElement>(`[data-action="${active}"], #${CSS.escape(active)}`)?.focus();
  }

  private async compareFile(file: File, expected: { sha256: string; sm3?: string }): Promise<void> {
    if (file.size === 0) {
      this.fileCheck = { kind: 'empty', name: file.name };
      this.rerender();
      return;
    }
    this.fileCheck = { kind: 'hashing', name: file.name };
    this.rerender();
    try {
      // SM3 only when the record has one to compare with (it costs a second pass in JavaScript).
      const out = await hashFile(file, {
        oneShotMaxBytes: this.ctx.config.oneShotMaxBytes,
        sm3: expected.sm3 !== undefined,
      });
      const { result, sm3Checked } = compareFileDigests(out, expected);
      this.fileCheck = { kind: result, name: file.name, sm3: sm3Checked };
    } catch {
      this.fileCheck = { kind: 'failed', name: file.name };
    }
    this.rerender();
    announce(this.fileCheckWords() ?? '');
  }

  private fileCheckWords(): string | null {
    const c = this.fileCheck;
    if (!c) return null;
    switch (c.kind) {
      case 'hashing':
        return t('verify.hashing', { name: c.name });
      case 'match':
        return t(c.sm3 ? 'cert.fileMatchesSm3' : 'cert.fileMatches', { name: c.name });
      case 'mismatch':
        return t('cert.fileDiffers', { name: c.name });
      case 'sm3-mismatch':
        return t('cert.fileSm3Differs', { name: c.name });
      case 'empty':
        return t('verify.emptyFile', { name: c.name });
      case 'failed':
        return t('verify.hashFailed', { name: c.name });
    }
  }

  private fileCheckSection(expected: { sha256: string; sm3?: string }): HTMLElement {
    const input = h('input', { type: 'file', id: 'cert-file-input', class: 'file-input' });
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (file) void this.compareFile(file, expected);
      input.value = '';
    });
    const c = this.fileCheck;
    const words = this.fileCheckWords();
    const result =
      !c || !words
        ? null
        : c.kind === 'hashing'
          ? h('p', { class: 'status-line' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), words)
          : banner(c.kind === 'match' ? 'ok' : 'fail', words, `file-${c.kind}`);
    return h(
      'section',
      { class: 'cert-check no-print', 'aria-labelledby': 'cert-check-title' },
      h('h2', { id: 'cert-check-title' }, t('cert.checkFile')),
      h('p', { class: 'muted' }, t('cert.checkFileIntro')),
      h('label', { for: 'cert-file-input', class: 'button' }, t('verify.choose')),
      input,
      result,
    );
  }

  render(main: HTMLElement): void {
    this.main = main;
    const s = this.state;
    document.documentElement.dataset.state = s.kind;
    if (s.kind !== 'ready') {
      const body =
        s.kind === 'loading'
          ? statusLine(t('cert.loading'))
          : s.kind === 'bad-id'
            ? banner('fail', t('cert.badId'), 'bad-id')
            : s.kind === 'not-found'
              ? banner('fail', t('cert.notFound', { id: this.id }), 'not-found')
              : banner(
                  'fail',
                  errorSentence(s.error, this.ctx.config.timeoutMs),
                  `error-${s.error.code.toLowerCase()}`,
                );
      const retry =
        s.kind === 'error'
          ? h('button', { type: 'button', class: 'button', 'data-action': 'retry' }, t('verify.retry'))
          : null;
      retry?.addEventListener('click', () => void this.load());
      setChildren(main, h('h1', null, t('cert.heading')), body, retry);
      return;
    }
    const { rec, run } = s;
    const b = rec.bundle;
    const assurance = assuranceOf(b, s.keys, run);
    const print = h(
      'button',
      { type: 'button', class: 'button button-primary', 'data-action': 'print' },
      t('cert.print'),
    );
    print.addEventListener('click', () => window.print());
    // The ledger's nature is in the assurance above; here, which transaction.
    const ledger = b.ledger
      ? `${b.ledger.network === 'embedded' ? t('cert.ledgerEmbedded') : ledgerWords(b)} · #${b.ledger.block} · ${b.ledger.txId}`
      : t('cert.notRecorded');
    const anchor = b.anchor ? `${b.anchor.chainId} · ${b.anchor.txHash}` : t('cert.notAnchored');
    setChildren(
      main,
      h(
        'article',
        { class: 'certificate', 'aria-labelledby': 'cert-title' },
        h(
          'header',
          { class: 'cert-header' },
          h(
            'h1',
            { id: 'cert-title' },
            t('cert.heading'),
            h('span', { class: 'cert-sub', lang: 'en' }, t('cert.subheading')),
          ),
          h('p', { class: 'cert-intro' }, t('cert.intro')),
        ),
        // What matters most, at the top: a record that no longer stands, what the evidence is
        // worth, and the rules' findings.
        standingBanner(rec.standing, rec.id),
        pinBanner(s.pin),
        checkpointPinBanner(s.checkpointPin),
        assuranceList(assurance),
        flagSummary(rec.flags),
        h(
          'div',
          { class: 'cert-body' },
          facts([
            [t('record.id'), mono(rec.id)],
            [t('record.kind'), kindWords(rec.kind)],
            [
              t('record.status'),
              h('span', null, statusBadge(rec.status, assurance), ' ', standingBadge(rec.standing)),
            ],
            [
              t('record.project'),
              h(
                'a',
                { href: `/p/${encodeURIComponent(rec.projectId)}` },
                named(s.project ? projectTitle(s.project) : rec.projectName, rec.projectId),
              ),
            ],
            [t('record.organisation'), orgNamed(s.project, rec.submitter.org)],
            [t('record.time'), timeText(rec.acceptedAt)],
            // When the outside (or the gateway's own) time-stamp authority says it saw the log.
            ...(s.timestampAt
              ? [
                  [
                    t('cert.timestampTime'),
                    h(
                      'span',
                      null,
                      formatTime(s.timestampAt),
                      // On paper the assurance line at the top says it once; the page repeats it here.
                      assurance.time.level === 'operator-tsa'
                        ? h('span', { class: 'no-print' }, t('cert.timestampOperator'))
                        : null,
                    ),
                  ] as [string, Node],
                ]
              : []),
            ...detailRows(b).map(([k, v]): [string, Node | string | undefined] =>
              k === t('record.milestone') && v ? [k, milestoneNamed(s.project, v)] : [k, v],
            ),
            ...relatedRows(s.related),
            [
              t('cert.sha256'),
              h(
                'code',
                { class: 'mono digest', 'data-sha256': b.record.digests.sha256 },
                b.record.digests.sha256,
              ),
            ],
            // SM3 (GB/T 32905) where the record carries one; "check a file you hold" below checks
            // a file's SM3 against it (hash-file.ts), as the CLI does.
            ...(b.record.digests.sm3 ? [[t('cert.sm3'), mono(b.record.digests.sm3)] as [string, Node]] : []),
            [t('record.cid'), mono(b.record.cid)],
            [t('cert.ledger'), ledger],
            [t('cert.anchor'), anchor],
            // Who anchors, and where: what the anchor check holds the chain's record against.
            ...(s.keys && (b.anchor || s.keys.anchor)
              ? [[t('cert.anchorIdentity'), anchorIdentityWords(s.keys)] as [string, string]]
              : []),
          ]),
          h(
            'figure',
            { class: 'cert-qr' },
            qrSvg(this.ctx.pageUrl, t('cert.qrCaption')),
            h('figcaption', null, t('cert.qrCaption')),
          ),
        ),
        h('h2', null, t('record.flags')),
        flagList(rec.flags, 'record.noFlags', false, milestoneNameOf(s.project)),
        h('h2', null, t('record.checks')),
        checklist(run, b, 'certificate', assurance),
        h('p', { class: 'cert-footer' }, t('cert.issuedBy', { url: this.ctx.pageUrl })),
        // The keys that signed this certificate's evidence, to compare with a pinned trust file.
        withSuites(
          keyPrints(s.keys, { receiptKid: receiptKeyId(b.receipt), timestamped: b.timestamp !== undefined }),
          suitesWords(bundleSuites(b, s.keys?.checkpointKeys)),
        ),
      ),
      h(
        'div',
        { class: 'actions no-print' },
        print,
        downloadButton(b, rec.id),
        // The evidence package (GET /v1/evidence/{id}/package): made by the gateway, signed and
        // time-stamped there, so a plain link — the browser saves the ZIP as it comes.
        h(
          'a',
          {
            class: 'button',
            href: `/v1/evidence/${encodeURIComponent(rec.id)}/package`,
            download: `lianzheng-evidence-${rec.id}.zip`,
            title: t('cert.packageHint'),
            'data-action': 'package',
          },
          t('cert.package'),
        ),
      ),
      this.fileCheckSection(b.record.digests),
      b.anchor ? this.chainSettings() : null,
    );
  }

  /** The advanced area (not printed): choosing or clearing the reader's own node re-runs the checks. */
  private chainSettings(): HTMLElement {
    const lang = document.documentElement.lang;
    if (this.settings?.lang !== lang) {
      const el = chainSettings(() => {
        this.settings = null;
        void this.load();
      });
      el.classList.add('no-print');
      this.settings = { lang, el };
    }
    return this.settings.el;
  }
}

/** The time-stamp's genTime, read from the token that the run's timestamp step passed. */
async function timestampTime(
  rec: VerifyRecord,
  keys: KeysAnswer,
  run: CheckRun | null,
): Promise<string | undefined> {
  const b = rec.bundle;
  const passed = run?.steps.some((step) => step.step === 'timestamp' && step.status === 'pass');
  if (!passed || !b.timestamp || !b.inclusion) return undefined;
  try {
    const check = await verifyCheckpointTimestamp(
      b.timestamp.token,
      parseCheckpoint(b.inclusion.checkpoint).rootHash,
      keys.tsaRoots,
    );
    return check.status === 'pass' ? check.genTime : undefined;
  } catch {
    return undefined;
  }
}

/** One facts row per related record: its relation, kind, date and title, and a link to it. */
function relatedRows(related: Related[] | undefined): [string, Node][] {
  return (related ?? []).map((r) => {
    const when = r.kind
      ? t('related.record', { kind: kindWords(r.kind), date: r.acceptedAt ? formatDate(r.acceptedAt) : '' })
      : undefined;
    return [
      t(`related.${r.relation}`),
      h(
        'span',
        { 'data-related': r.relation, 'data-related-id': r.id },
        // The title (or the kind) on paper too; its kind and date on the screen only, so the
        // certificate keeps to one A4 page.
        r.title ? `${r.title} ` : null,
        when
          ? h('span', { class: r.title ? 'no-print' : undefined }, `${r.title ? '· ' : ''}${when} `)
          : null,
        h('a', { href: `/r/${encodeURIComponent(r.id)}` }, shortId(r.id)),
      ),
    ];
  });
}

/** The pinned-key check, loud when it fails: the page's keys are then not the reader's. */
export function pinBanner(pin: PinCheck | undefined): HTMLElement | null {
  if (!pin) return null;
  switch (pin.state) {
    case 'pinned':
      return banner('ok', t('pin.pinned'), 'pin-pinned');
    case 'followed':
      return banner('ok', t('pin.followed', { steps: String(pin.steps) }), 'pin-followed');
    case 'mismatch':
      return banner('fail', t('pin.mismatch', { kid: pin.kid }), 'pin-mismatch');
    case 'refused':
      return banner('fail', t('pin.refused', { reason: pin.reason }), 'pin-refused');
    case 'bad-pin':
      return banner('fail', t('pin.badPin'), 'pin-bad');
  }
}

/** The pinned checkpoint keys, loud when none of the served ones is the reader's. */
export function checkpointPinBanner(pin: CheckpointPinCheck | undefined): HTMLElement | null {
  if (!pin) return null;
  switch (pin.state) {
    case 'pinned':
      return banner('ok', t('pin.checkpointPinned'), 'pin-checkpoint-pinned');
    case 'followed':
      return banner(
        'ok',
        t('pin.checkpointFollowed', { steps: String(pin.steps) }),
        'pin-checkpoint-followed',
      );
    case 'unknown':
      return banner('fail', t('pin.checkpointUnknown'), 'pin-checkpoint-unknown');
    case 'refused':
      return banner('fail', t('pin.refused', { reason: pin.reason }), 'pin-checkpoint-refused');
  }
}

/**
 * The key fingerprints line with the signatures the bundle carries (ES256 / SM2 receipts, Ed25519 /
 * SM2 checkpoint lines) at its end, on screen only: the printed certificate already fills its one
 * A4 page (an anchored record's did not fit with even this one line more).
 */
function withSuites(prints: HTMLElement | null, words: string): HTMLElement {
  const suites = h(
    'span',
    { class: 'no-print', 'data-suites': '' },
    prints ? t('list.semicolon') : '',
    `${t('suites.label')}${t('suites.colon')}${words}`,
  );
  if (!prints) return h('p', { class: 'key-prints no-print' }, suites);
  prints.append(suites);
  return prints;
}
