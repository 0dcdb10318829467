// `/`: choose, drop or paste; hash in the browser; ask the gateway; re-check every bundle.

import { announce } from '../announce.ts';
import { ApiError, type KeysAnswer, type VerifyRecord } from '../api.ts';
import { currentRpcUrl } from '../chain-rpc.ts';
import { assuranceOf, type CheckRun, pageVerdict, receiptKeyId, runChecks, type Verdict } from '../checks.ts';
import {
  assuranceList,
  assuranceSentence,
  type BannerTone,
  banner,
  checklist,
  detailRows,
  downloadButton,
  errorSentence,
  facts,
  flagList,
  flagSummary,
  kindWords,
  mono,
  standingBadge,
  standingBanner,
  standingDetail,
  statusBadge,
  statusLine,
  timeText,
  versionNotes,
} from '../components.ts';
import { h, setChildren } from '../dom.ts';
import { HashAbortedError, type HashProgress, hashFile } from '../hash-file.ts';
import { formatBytes, t } from '../i18n.ts';
import { milestoneNamed, milestoneNameOf, named, orgNamed, projectTitle } from '../names.ts';
import { normaliseSha256Input } from '../normalise.ts';
import { type CheckpointPinCheck, checkReceiptPin, type PinCheck, readPins } from '../pins.ts';
import { resultPath } from '../router.ts';
import { bundleSuites, suitesWords } from '../suites.ts';
import { checkpointPinBanner, pinBanner } from './certificate.ts';
import { chainSettings } from './chain-settings.ts';
import type { View, ViewContext } from './view.ts';

interface FileInfo {
  name: string;
  size: number;
  elapsedMs?: number;
  /** The file's SM3, computed beside its SHA-256 (checked where a record carries one). */
  sm3?: string;
}

type State =
  | { kind: 'idle' }
  | { kind: 'empty-file'; file: FileInfo }
  | { kind: 'hash-failed'; file: FileInfo }
  | { kind: 'hashing'; file: FileInfo; progress: HashProgress }
  | { kind: 'looking-up'; sha256: string; file?: FileInfo }
  | { kind: 'error'; sha256: string; file?: FileInfo; error: ApiError }
  | { kind: 'not-found'; sha256: string; file?: FileInfo }
  | {
      kind: 'found';
      sha256: string;
      file?: FileInfo;
      records: VerifyRecord[];
      runs: (CheckRun | null)[];
      keys?: KeysAnswer;
      keysError?: ApiError;
      /** Each record's receipt key against the keys pinned in the address (`?pin=`), when some are. */
      pins?: PinCheck[];
      /** The checkpoint keys pinned in the address, when some are. */
      checkpointPin?: CheckpointPinCheck;
    };

export class VerifyView implements View {
  private state: State = { kind: 'idle' };
  private pasteValue = '';
  private pasteError: string | null = null;
  private generation = 0;
  private abort: AbortController | null = null;
  private resultBox: HTMLElement | null = null;
  private progressEl: HTMLProgressElement | null = null;
  private progressText: HTMLElement | null = null;
  private main: HTMLElement | null = null;
  /** The advanced settings (the reader's own chain node), kept across redraws so typing survives. */
  private settings: HTMLElement | null = null;

  /**
   * Opened at /v/{sha256} (a shared result): the result comes first on the page, the inputs after
   * it. After a look-up from `/`, the address becomes the result's, and the result is scrolled to.
   */
  private readonly shared: string | undefined;

  constructor(
    private readonly ctx: ViewContext,
    shared?: string,
  ) {
    this.shared = shared;
    if (shared !== undefined) this.pasteValue = shared;
  }

  title(): string {
    return t('app.title');
  }

  start(): void {
    if (this.shared === undefined) return;
    const parsed = normaliseSha256Input(this.shared);
    if (!parsed.ok) {
      this.pasteError = t(`verify.input.${parsed.code}`, { length: parsed.length });
      if (this.main) this.render(this.main);
      return;
    }
    this.pasteValue = parsed.sha256;
    void this.lookup(parsed.sha256, undefined);
  }

  render(main: HTMLElement): void {
    this.main = main;
    this.settings = null; // redrawn in the current language
    const fileInput = h('input', {
      type: 'file',
      id: 'file-input',
      class: 'file-input',
      'aria-describedby': 'verify-intro',
    });
    fileInput.addEventListener('change', () => {
      const file = fileInput.files?.[0];
      if (file) void this.checkFile(file);
      fileInput.value = '';
    });

    const drop = h(
      'div',
      { class: 'dropzone', id: 'dropzone' },
      h('span', { class: 'drop-icon', 'aria-hidden': 'true' }, '⇩'),
      h('span', { class: 'drop-text' }, t('verify.drop')),
      h('span', { class: 'drop-or' }, t('verify.or')),
      h('label', { for: 'file-input', class: 'button button-primary' }, t('verify.choose')),
      fileInput,
    );
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('dropzone-over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('dropzone-over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('dropzone-over');
      const file = e.dataTransfer?.files?.[0];
      if (file) void this.checkFile(file);
    });

    const pasteInput = h('input', {
      type: 'text',
      id: 'sha256-input',
      name: 'sha256',
      class: 'text-input mono',
      inputmode: 'text',
      autocomplete: 'off',
      autocapitalize: 'off',
      spellcheck: 'false',
      placeholder: t('verify.pastePlaceholder'),
      'aria-invalid': this.pasteError ? 'true' : 'false',
      'aria-describedby': this.pasteError ? 'sha256-error' : null,
      value: this.pasteValue,
    });
    pasteInput.addEventListener('input', () => {
      this.pasteValue = pasteInput.value;
    });
    const form = h(
      'form',
      { class: 'paste-form', id: 'paste-form', novalidate: true },
      h('label', { for: 'sha256-input', class: 'paste-label' }, t('verify.pasteLabel')),
      h(
        'div',
        { class: 'paste-row' },
        pasteInput,
        h('button', { type: 'submit', class: 'button', id: 'sha256-submit' }, t('verify.check')),
      ),
      this.pasteError
        ? h('p', { class: 'field-error', id: 'sha256-error', role: 'alert' }, this.pasteError)
        : null,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const parsed = normaliseSha256Input(pasteInput.value);
      if (!parsed.ok) {
        this.pasteValue = pasteInput.value;
        this.pasteError = t(`verify.input.${parsed.code}`, { length: parsed.length });
        this.render(main);
        document.getElementById('sha256-input')?.focus();
        return;
      }
      this.pasteError = null;
      this.pasteValue = parsed.sha256;
      pasteInput.value = parsed.sha256;
      form.querySelector('.field-error')?.remove();
      pasteInput.setAttribute('aria-invalid', 'false');
      this.abort?.abort();
      void this.lookup(parsed.sha256, undefined);
    });

    this.resultBox = h('section', {
      class: 'results',
      id: 'results',
      'aria-label': t('verify.resultsLabel'),
    });
    const inputs = h('section', { class: 'inputs', 'aria-label': t('verify.fileLabel') }, drop, form);
    const intro = h('p', { id: 'verify-intro', class: 'intro' }, t('verify.intro'));
    if (this.shared !== undefined) {
      // A shared result: what the reader came for first, then how to check another file.
      setChildren(
        main,
        h('h1', null, t('verify.heading')),
        this.resultBox,
        h('h2', { class: 'again' }, t('verify.again')),
        intro,
        inputs,
      );
    } else {
      setChildren(main, h('h1', null, t('verify.heading')), intro, inputs, this.resultBox);
    }
    this.renderResult();
  }

  async checkFile(file: File): Promise<void> {
    this.abort?.abort();
    const gen = ++this.generation;
    const info: FileInfo = { name: file.name, size: file.size };
    if (file.size === 0) {
      this.setState({ kind: 'empty-file', file: info });
      return;
    }
    const abort = new AbortController();
    this.abort = abort;
    this.setState({ kind: 'hashing', file: info, progress: { done: 0, total: file.size, elapsedMs: 0 } });
    let sha256: string;
    try {
      const out = await hashFile(file, {
        oneShotMaxBytes: this.ctx.config.oneShotMaxBytes,
        signal: abort.signal,
        onProgress: (p) => {
          if (gen === this.generation && this.state.kind === 'hashing') {
            this.state.progress = p;
            this.updateProgress(p);
          }
        },
      });
      sha256 = out.sha256;
      if (out.sm3) info.sm3 = out.sm3;
      info.elapsedMs = out.elapsedMs;
      document.documentElement.dataset.hashMethod = out.method;
      document.documentElement.dataset.hashMs = String(Math.round(out.elapsedMs));
    } catch (e) {
      if (e instanceof HashAbortedError || gen !== this.generation) return;
      this.setState({ kind: 'hash-failed', file: info });
      return;
    }
    if (gen !== this.generation) return;
    await this.lookup(sha256, info, gen);
  }

  private async lookup(sha256: string, file: FileInfo | undefined, gen = ++this.generation): Promise<void> {
    this.setState({ kind: 'looking-up', sha256, file });
    let records: VerifyRecord[];
    try {
      records = (await this.ctx.api.verify(sha256)).records;
    } catch (e) {
      if (gen !== this.generation) return;
      this.setState({
        kind: 'error',
        sha256,
        file,
        error: e instanceof ApiError ? e : new ApiError('BAD_RESPONSE'),
      });
      return;
    }
    if (gen !== this.generation) return;
    this.showResultAt(sha256);
    if (records.length === 0) {
      this.setState({ kind: 'not-found', sha256, file });
      this.bringResultIntoView();
      return;
    }
    const state: State = { kind: 'found', sha256, file, records, runs: records.map(() => null) };
    this.setState(state);
    this.bringResultIntoView();
    void this.fillProjectNames(records, gen);
    let keys: Awaited<ReturnType<typeof this.ctx.api.keys>>;
    try {
      keys = await this.ctx.api.keys();
    } catch (e) {
      if (gen !== this.generation) return;
      state.keysError = e instanceof ApiError ? e : new ApiError('BAD_RESPONSE');
      state.runs = records.map(() => ({ ok: false, steps: [], errorCode: 'KEYS_UNAVAILABLE' }));
      this.renderResult();
      announce(t('verify.error.keys'));
      return;
    }
    state.keys = keys;
    const pins = readPins(location.search, keys);
    if (pins?.bad) state.pins = [{ state: 'bad-pin' }];
    else if (pins?.receipt.length) {
      const receiptPins = pins.receipt;
      state.pins = await Promise.all(
        records.map((rec) => {
          const kid = receiptKeyId(rec.bundle.receipt);
          return kid ? checkReceiptPin(receiptPins, keys, kid) : ({ state: 'mismatch', kid: '?' } as const);
        }),
      );
      if (gen !== this.generation) return;
    }
    if (pins?.checkpoint) state.checkpointPin = pins.checkpoint;
    await Promise.all(
      records.map(async (rec, i) => {
        const rpcUrl = currentRpcUrl();
        const run = await runChecks(rec.bundle, sha256, {
          api: this.ctx.api,
          // Pinned checkpoint keys narrow what the checkpoint step believes.
          keys: pins?.keys ?? keys,
          ...(file?.sm3 ? { sm3: file.sm3 } : {}),
          ...(rpcUrl ? { rpcUrl, rpcTimeoutMs: this.ctx.config.timeoutMs } : {}),
        });
        if (gen !== this.generation) return;
        state.runs[i] = run;
        this.renderResult();
      }),
    );
    if (gen === this.generation) announce(this.announcement() ?? '');
  }

  /** The address becomes the result's own (/v/{sha256}), to share or reload; no new history entry. */
  private showResultAt(sha256: string): void {
    try {
      if (location.pathname !== resultPath(sha256))
        history.replaceState(null, '', `${resultPath(sha256)}${location.search}`);
    } catch {
      // A page opened from a file: or in a sandbox may not change its address; the result stands.
    }
  }

  /** On a phone the inputs fill the first screen: scroll so the verdict is what the reader sees. */
  private bringResultIntoView(): void {
    const box = this.resultBox;
    if (!box || this.shared !== undefined) return;
    const top = box.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.4) box.scrollIntoView({ block: 'start' });
  }

  /** Cards show the project's name once it is known; the id stays until then (or if it fails). */
  private async fillProjectNames(records: VerifyRecord[], gen: number): Promise<void> {
    const ids = [...new Set(records.filter((r) => !r.project && r.projectId).map((r) => r.projectId))];
    // The whole project: its organisations' and milestones' display names name the card's ids too.
    const projects = await Promise.all(ids.map((id) => this.ctx.api.projectInfo(id)));
    if (gen !== this.generation || projects.every((p) => p === undefined)) return;
    for (const r of records) {
      const project = projects[ids.indexOf(r.projectId)];
      if (!project) continue;
      r.project = project;
      r.projectName ??= project.name;
    }
    this.renderResult();
  }

  private setState(s: State): void {
    this.state = s;
    this.renderResult();
    const words = this.announcement();
    if (words) announce(words);
  }

  /** The one sentence a screen reader hears when the state changes. */
  private announcement(): string | null {
    const s = this.state;
    switch (s.kind) {
      case 'empty-file':
        return t('verify.emptyFile', { name: s.file.name });
      case 'hash-failed':
        return t('verify.hashFailed', { name: s.file.name });
      case 'hashing':
        return t('verify.hashing', { name: s.file.name });
      case 'looking-up':
        return t('verify.lookingUp');
      case 'error':
        return errorSentence(s.error, this.ctx.config.timeoutMs);
      case 'not-found':
        return t('verify.result.notFound');
      case 'found': {
        if (s.runs.some((r) => r === null)) return t('verify.verifying');
        const verdict = pageVerdict(
          s.runs as CheckRun[],
          s.records.map((r) => r.standing),
        );
        return t(`verify.result.${verdict}`, { count: s.records.length });
      }
      default:
        return null;
    }
  }

  /** The advanced area: choosing or clearing the reader's own node re-runs every check. */
  private chainSettings(sha256: string, file: FileInfo | undefined): HTMLElement {
    this.settings ??= chainSettings(() => {
      this.settings = null;
      void this.lookup(sha256, file);
    });
    return this.settings;
  }

  private retry(): void {
    const s = this.state;
    if (s.kind === 'error') void this.lookup(s.sha256, s.file);
  }

  private updateProgress(p: HashProgress): void {
    if (!this.progressEl || !this.progressText) return;
    this.progressEl.value = p.total ? p.done / p.total : 0;
    this.progressText.textContent = progressWords(p);
  }

  private renderResult(): void {
    const box = this.resultBox;
    if (!box) return;
    this.progressEl = null;
    this.progressText = null;
    const s = this.state;
    document.documentElement.dataset.state = s.kind;
    switch (s.kind) {
      case 'idle':
        setChildren(box);
        return;
      case 'empty-file':
        setChildren(box, banner('fail', t('verify.emptyFile', { name: s.file.name }), 'empty-file'));
        return;
      case 'hash-failed':
        setChildren(box, banner('fail', t('verify.hashFailed', { name: s.file.name }), 'hash-failed'));
        return;
      case 'hashing': {
        this.progressEl = h('progress', {
          class: 'progress',
          max: 1,
          value: 0,
          'aria-label': t('verify.progressLabel'),
        });
        this.progressText = h('span', { class: 'progress-text' }, progressWords(s.progress));
        setChildren(
          box,
          h(
            'div',
            { class: 'hashing', 'aria-busy': 'true' },
            h(
              'p',
              { class: 'status-line' },
              h('span', { class: 'spinner', 'aria-hidden': 'true' }),
              t('verify.hashing', { name: s.file.name }),
            ),
            this.progressEl,
            this.progressText,
          ),
        );
        this.updateProgress(s.progress);
        return;
      }
      case 'looking-up':
        setChildren(box, digestBlock(s.sha256, s.file), statusLine(t('verify.lookingUp')));
        return;
      case 'error': {
        const retry = h(
          'button',
          { type: 'button', class: 'button', 'data-action': 'retry' },
          t('verify.retry'),
        );
        retry.addEventListener('click', () => this.retry());
        setChildren(
          box,
          digestBlock(s.sha256, s.file),
          banner(
            'fail',
            errorSentence(s.error, this.ctx.config.timeoutMs),
            `error-${s.error.code.toLowerCase()}`,
          ),
          retry,
        );
        return;
      }
      case 'not-found':
        setChildren(
          box,
          digestBlock(s.sha256, s.file),
          banner('fail', t('verify.result.notFound'), 'not-found', t('verify.result.notFoundDetail')),
        );
        return;
      case 'found': {
        const done = s.runs.every((r) => r !== null);
        const verdict: Verdict | null = done
          ? pageVerdict(
              s.runs as CheckRun[],
              s.records.map((r) => r.standing),
            )
          : null;
        const assurances = s.records.map((rec, i) => assuranceOf(rec.bundle, s.keys, s.runs[i] ?? null));
        // The first screen: the verdict (withdrawn or superseded before anything else), what the
        // evidence is worth, the rule flags; then the digest and each record in full.
        setChildren(
          box,
          verdict ? verdictBanner(verdict, s.records, assurances) : statusLine(t('verify.verifying')),
          // Keys pinned in the address: whether each record's receipt key is the reader's.
          (s.pins ?? []).map(pinBanner),
          checkpointPinBanner(s.checkpointPin),
          // A record that no longer stands beside one that does (one file, two records) still says so.
          verdict === 'ok' || verdict === 'pending' || !verdict
            ? s.records.map((rec) => standingBanner(rec.standing, rec.id))
            : null,
          flagSummary(s.records.flatMap((r) => r.flags)),
          s.keysError ? banner('fail', t('verify.error.keys'), 'keys-error') : null,
          digestBlock(s.sha256, s.file),
          ...s.records.map((rec, i) =>
            recordCard(rec, s.runs[i] ?? null, assurances[i]!, s.keys?.checkpointKeys),
          ),
          s.records.some((r) => r.bundle.anchor) ? this.chainSettings(s.sha256, s.file) : null,
        );
        return;
      }
    }
  }
}

function progressWords(p: HashProgress): string {
  const speed = p.elapsedMs > 0 ? (p.done / p.elapsedMs) * 1000 : 0;
  return t('verify.progress', {
    done: formatBytes(p.done),
    total: formatBytes(p.total),
    speed: formatBytes(speed),
  });
}

const VERDICT_TONE: Record<Verdict, BannerTone> = {
  ok: 'ok',
  pending: 'pending',
  fail: 'fail',
  unchecked: 'pending',
  withdrawn: 'warn',
  superseded: 'warn',
};

/**
 * The headline. A withdrawn or superseded record says so in it, with the reason and date or the
 * link to the new version; a verified one says what its evidence is worth (on chain, or only in
 * the gateway's own ledger), never more than the checks established.
 */
function verdictBanner(
  verdict: Verdict,
  records: VerifyRecord[],
  assurances: ReturnType<typeof assuranceOf>[],
): HTMLElement {
  const headline = t(`verify.result.${verdict}`, { count: records.length });
  let detail: (HTMLElement | string)[] | string | undefined;
  if (verdict === 'withdrawn' || verdict === 'superseded') {
    detail = records.flatMap((r) => standingDetail(r.standing));
  } else if ((verdict === 'ok' || verdict === 'pending') && assurances[0]) {
    detail = assuranceSentence(assurances[0]);
  }
  return banner(VERDICT_TONE[verdict], headline, `verdict-${verdict}`, detail);
}

function digestBlock(sha256: string, file?: FileInfo): HTMLElement {
  return facts([
    [t('verify.fileName'), file ? `${file.name} (${formatBytes(file.size)})` : null],
    [t('verify.digestLabel'), h('code', { class: 'mono digest', 'data-sha256': sha256 }, sha256)],
  ]);
}

function recordCard(
  rec: VerifyRecord,
  run: CheckRun | null,
  assurance: ReturnType<typeof assuranceOf>,
  /** The published checkpoint keys, once loaded: they tell an Ed25519 line from an SM2 one. */
  checkpointKeys?: readonly string[],
): HTMLElement {
  const bundle = rec.bundle;
  const headingId = `record-${rec.id}`;
  return h(
    'article',
    { class: 'card record', 'aria-labelledby': headingId, 'data-record-id': rec.id },
    h(
      'h2',
      { id: headingId, class: 'card-title' },
      kindWords(rec.kind),
      bundle.details?.title ? h('span', { class: 'card-subtitle' }, bundle.details.title) : null,
    ),
    facts([
      [
        t('record.status'),
        h('span', null, statusBadge(rec.status, assurance), ' ', standingBadge(rec.standing)),
      ],
      [
        t('record.project'),
        rec.projectId
          ? h(
              'a',
              { href: `/p/${encodeURIComponent(rec.projectId)}` },
              named(rec.project ? projectTitle(rec.project) : rec.projectName, rec.projectId),
            )
          : null,
      ],
      [t('record.organisation'), orgNamed(rec.project, rec.submitter.org)],
      [t('record.time'), timeText(rec.acceptedAt)],
      ...detailRows(bundle).map(([k, v]): [string, Node | string | undefined] =>
        k === t('record.milestone') && v ? [k, milestoneNamed(rec.project, v)] : [k, v],
      ),
      [t('record.id'), mono(rec.id)],
      [
        t('suites.label'),
        h('span', { 'data-suites': '' }, suitesWords(bundleSuites(bundle, checkpointKeys))),
      ],
    ]),
    bundle.record.visibility === 'restricted' && !bundle.details
      ? h('p', { class: 'note' }, t('record.visibility.restricted'))
      : null,
    ...versionNotes(rec),
    assuranceList(assurance),
    h('h3', null, t('record.flags')),
    flagList(rec.flags, 'record.noFlags', false, milestoneNameOf(rec.project)),
    h('h3', null, t('record.checks')),
    checklist(run, bundle, 'file', assurance),
    h(
      'div',
      { class: 'actions' },
      downloadButton(bundle, rec.id),
      h('a', { class: 'button', href: `/r/${encodeURIComponent(rec.id)}` }, t('record.certificate')),
    ),
    h('p', { class: 'hint' }, t('record.downloadHint')),
  );
}
