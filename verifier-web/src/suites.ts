// Which signature suites a bundle carries (issue #23, CRYPTO_SUITE intl / dual / gm): its receipts
// (ES256 and/or SM2-with-SM3) and the signature lines on its checkpoint (Ed25519 and/or SM2). Read
// from the bundle itself — the receipts' JWS headers, the checkpoint's signature lines — so the page
// says what this record carries, not what the gateway signs today. A checkpoint line's key type is
// not in the line (both kinds are 4 + 64 bytes): it is the type of the published verifier key with
// the line's name and key hash; a line no published key names is not counted (not guessed).

import { fromBase64, noteKeyAlgorithm, type ProofBundle, RECEIPT_SM2_ALG, toHex } from '@lianzheng/proof';
import { t } from './i18n.ts';

export type ReceiptSuite = 'ES256' | 'SM2';
export type CheckpointSuite = 'Ed25519' | 'SM2';

export interface BundleSuites {
  receipts: ReceiptSuite[];
  checkpoint: CheckpointSuite[];
}

/** The `alg` of a compact JWS's protected header, or undefined when it is not readable. */
function jwsAlg(jws: unknown): string | undefined {
  if (typeof jws !== 'string') return undefined;
  try {
    const header = JSON.parse(new TextDecoder().decode(fromBase64(toStdBase64(jws.split('.')[0] ?? ''))));
    return typeof header?.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

function toStdBase64(b64url: string): string {
  const s = b64url.replace(/-/g, '+').replace(/_/g, '/');
  return s + '='.repeat((4 - (s.length % 4)) % 4);
}

function receiptSuite(alg: string | undefined): ReceiptSuite | undefined {
  if (alg === 'ES256') return 'ES256';
  if (alg === RECEIPT_SM2_ALG) return 'SM2';
  return undefined;
}

/** The signature lines of a signed note: `— <name> <base64(key hash ‖ signature)>`. */
function noteLines(note: unknown): { name: string; keyHash: string }[] {
  if (typeof note !== 'string') return [];
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return [];
  return note
    .slice(split + 2)
    .split('\n')
    .slice(0, 64) // a checkpoint carries a handful; a hostile bundle cannot make the page loop
    .flatMap((line) => {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) return [];
      try {
        const raw = fromBase64(m[2]!);
        return raw.length > 4 ? [{ name: m[1]!, keyHash: toHex(raw.subarray(0, 4)) }] : [];
      } catch {
        return [];
      }
    });
}

/** The suites of `bundle`'s receipts and checkpoint lines, each listed once, in a fixed order. */
export function bundleSuites(bundle: ProofBundle, checkpointKeys: readonly string[] = []): BundleSuites {
  const receipts = new Set<ReceiptSuite>();
  for (const jws of [bundle.receipt, bundle.receiptSm2]) {
    const s = receiptSuite(jwsAlg(jws));
    if (s) receipts.add(s);
  }
  const checkpoint = new Set<CheckpointSuite>();
  const byLine = new Map<string, CheckpointSuite>();
  for (const vkey of checkpointKeys) {
    const [name, hash] = vkey.split('+');
    try {
      byLine.set(`${name} ${hash?.toLowerCase()}`, noteKeyAlgorithm(vkey) === 'sm2' ? 'SM2' : 'Ed25519');
    } catch {
      // A malformed published key names no line.
    }
  }
  for (const line of noteLines(bundle.inclusion?.checkpoint)) {
    const s = byLine.get(`${line.name} ${line.keyHash}`);
    if (s) checkpoint.add(s);
  }
  const order = <T extends string>(set: Set<T>, all: T[]) => all.filter((x) => set.has(x));
  return {
    receipts: order(receipts, ['ES256', 'SM2']),
    checkpoint: order(checkpoint, ['Ed25519', 'SM2']),
  };
}

/** One line for the page: 「回执 ES256、SM2；检查点 Ed25519、SM2」 / "receipts ES256, SM2; checkpoint Ed25519, SM2". */
export function suitesWords(s: BundleSuites): string {
  const list = (xs: string[]) => xs.join(t('suites.separator'));
  const parts = [
    s.receipts.length ? t('suites.receipts', { list: list(s.receipts) }) : null,
    s.checkpoint.length ? t('suites.checkpoint', { list: list(s.checkpoint) }) : null,
  ].filter((p): p is string => p !== null);
  return parts.length ? parts.join(t('suites.joiner')) : t('suites.none');
}
