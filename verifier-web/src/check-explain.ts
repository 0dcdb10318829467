// What each technical check means, for a reader who has never heard of a leaf hash: one plain line
// under the check, and behind a 「技术细节」 toggle the values it compared, so an inspector can copy
// them into another tool. The toggle is a native <details> (keyboard and screen readers for free)
// and is not printed: the certificate keeps to one A4 page.

import { type ProofBundle, parseCheckpoint, recordLeafHash, toHex } from '@lianzheng/proof';
import { receiptKeyId } from './checks.ts';
import { h } from './dom.ts';
import { hasMessage, t } from './i18n.ts';
import type { MessageKey } from './messages.ts';

/** The values a step compared, as [label, value] rows; empty where the bundle has none. */
export function stepValues(step: string, bundle: ProofBundle): [string, string][] {
  const rows: [MessageKey, string | number | undefined][] = [];
  const r = bundle.record;
  switch (step) {
    case 'digest':
      rows.push(['check.value.sha256', r.digests.sha256]);
      break;
    case 'details':
      rows.push(['check.value.detailsDigest', r.detailsDigest]);
      break;
    case 'leaf':
      rows.push(['check.value.leaf', leafHex(bundle)]);
      break;
    case 'inclusion':
      if (bundle.inclusion) {
        rows.push(['check.value.position', `${bundle.inclusion.index} / ${bundle.inclusion.size}`]);
        rows.push(['check.value.root', checkpointRoot(bundle.inclusion.checkpoint)]);
      }
      break;
    case 'checkpoint':
      if (bundle.inclusion) rows.push(['check.value.checkpoint', bundle.inclusion.checkpoint.trim()]);
      break;
    case 'receipt':
      rows.push(['check.value.kid', receiptKeyId(bundle.receipt)]);
      break;
    case 'ledger':
      if (bundle.ledger) {
        rows.push(['check.value.txId', bundle.ledger.txId]);
        rows.push(['check.value.block', bundle.ledger.block]);
        rows.push(['check.value.root', bundle.ledger.root]);
      }
      break;
    case 'anchor':
      if (bundle.anchor) {
        rows.push(['check.value.anchorTx', bundle.anchor.txHash]);
        rows.push(['check.value.contract', bundle.anchor.contract]);
        rows.push(['check.value.block', bundle.anchor.block]);
      }
      break;
    case 'timestamp':
      if (bundle.timestamp) rows.push(['check.value.token', bundle.timestamp.token]);
      break;
  }
  return rows.flatMap(([k, v]) =>
    v === undefined || v === '' ? [] : [[t(k), String(v)] as [string, string]],
  );
}

/** The plain line and the toggle, to sit under the check's own sentence. */
export function stepExplanation(step: string, bundle: ProofBundle): HTMLElement[] {
  const key = `explain.${step}`;
  const out: HTMLElement[] = [];
  if (hasMessage(key)) out.push(h('span', { class: 'check-explain', 'data-explain': step }, t(key)));
  const values = stepValues(step, bundle);
  if (values.length > 0) {
    out.push(
      h(
        'details',
        { class: 'check-values no-print', 'data-values': step },
        h('summary', null, t('check.detailsToggle')),
        h(
          'dl',
          null,
          values.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, h('code', { class: 'mono' }, v))]),
        ),
      ),
    );
  }
  return out;
}

function leafHex(bundle: ProofBundle): string | undefined {
  try {
    return toHex(recordLeafHash(bundle.record));
  } catch {
    return undefined; // A record that cannot be encoded fails its own check; nothing to show.
  }
}

function checkpointRoot(note: string): string | undefined {
  try {
    return toHex(parseCheckpoint(note).rootHash);
  } catch {
    return undefined;
  }
}
