// Node implementation behind `#receipt-group-impl`: the tree and items of a group receipt (see
// ReceiptGroup in receipt.ts) for the gateway's group commit, up to thousands of records a group
// on the batch route's hot path. The same bytes as the portable builder (receipt-group-browser.ts,
// checked against each other on random groups in receipt-group.test.ts), with far less garbage,
// which under sustained load is the gateway's largest single cost:
// - every hash lives in one flat buffer, level after level (the leaves, then each level's
//   parents, a lone last node copied up as RFC 9162's unbalanced split makes it), rather than
//   a Uint8Array per node and an array per path;
// - node:crypto's one-shot `hash` returns its digest as a 32-character latin1 ('binary') string,
//   written into the flat buffer: about a third of the cost of a digest returned as a Buffer;
// - a record's claims are written once into a scratch buffer behind the leaf's 0x00, hashed and
//   base64url-encoded from there, and its path is copied word by word into a second scratch
//   buffer and encoded natively: no per-record Uint8Array, concatenation or JS encoder.
// All scratch is module-level and reused: building is synchronous and keeps no reference to it.
import { hash } from 'node:crypto';
import { ProofError } from './errors.ts';

const HASH = 32;
const WORDS = HASH / 4;
// Flat trees up to this size (a group of ~8,000) are kept for the next group; larger ones are not.
const KEEP_FLAT_BYTES = 512 * 1024;
// Above this a record's claims get a scratch buffer of their own for the one call.
const KEEP_TEXT_BYTES = 64 * 1024;

/** A Buffer with an Int32Array over the same memory (4-byte aligned: its own ArrayBuffer). */
interface Scratch {
  bytes: Buffer;
  words: Int32Array;
}

function scratch(size: number): Scratch {
  const ab = new ArrayBuffer(size);
  return { bytes: Buffer.from(ab), words: new Int32Array(ab) };
}

let flat = scratch(64 * 1024);
let path = scratch(HASH * 64);
let text = Buffer.allocUnsafe(4096);
// Views of `text`'s first `end` bytes by `end`: node:crypto's `hash` takes a whole view, and
// claims are of a few lengths only, so each view is made once rather than once per record.
const VIEW_MAX = 2048;
let views: Buffer[] = [];
const node = Buffer.allocUnsafe(1 + 2 * HASH);
node[0] = 1;

/**
 * The group's root (hex) and each record's `<claims>.<index>.<path>` item, given the records'
 * canonical claims JSON in order; `BAD_LENGTH` for no records, as treeWithPaths.
 */
export function receiptGroupImpl(texts: readonly string[]): { root: string; items: string[] } {
  const n = texts.length;
  if (n === 0) throw new ProofError('BAD_LENGTH', 'a tree needs at least one leaf');
  let nodes = 0;
  for (let size = n; ; size = Math.ceil(size / 2)) {
    nodes += size;
    if (size === 1) break;
  }
  const need = nodes * HASH;
  let tree = flat;
  if (tree.bytes.length < need) {
    tree = scratch(need <= KEEP_FLAT_BYTES ? Math.max(need, 2 * tree.bytes.length) : need);
    if (need <= KEEP_FLAT_BYTES) flat = tree;
  }
  const bytes = tree.bytes;
  const words = tree.words;

  // Leaves: SHA-256(0x00 ‖ claims), and the claims' base64url from the same bytes.
  const claims = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const t = texts[i]!;
    // UTF-8 takes at most three bytes per UTF-16 code unit.
    const max = 1 + 3 * t.length;
    let buf = text;
    if (buf.length < max) {
      buf = Buffer.allocUnsafe(Math.max(max, 2 * text.length));
      if (max <= KEEP_TEXT_BYTES) {
        text = buf;
        views = [];
      }
    }
    buf[0] = 0;
    const end = 1 + buf.write(t, 1, 'utf8');
    let leaf: Buffer | undefined;
    if (buf === text && end <= VIEW_MAX) {
      leaf = views[end];
      if (leaf === undefined) {
        leaf = buf.subarray(0, end);
        views[end] = leaf;
      }
    } else leaf = buf.subarray(0, end);
    bytes.write(hash('sha256', leaf, 'binary'), i * HASH, 'latin1');
    claims[i] = buf.toString('base64url', 1, end);
  }

  // Levels: level k starts at offsets[k] (in hashes) and holds sizes[k] nodes.
  const offsets: number[] = [0];
  const sizes: number[] = [n];
  let from = 0;
  for (let size = n; size > 1; ) {
    const to = from + size;
    const pairs = Math.floor(size / 2);
    for (let j = 0; j < pairs; j++) {
      const at = (from + 2 * j) * HASH;
      bytes.copy(node, 1, at, at + 2 * HASH);
      bytes.write(hash('sha256', node, 'binary'), (to + j) * HASH, 'latin1');
    }
    // An odd node out has no sibling at this level and moves up as it is: RFC 9162 splits at the
    // largest power of two, so it is a right child only further up (and adds no hash to paths here).
    if (size % 2 === 1)
      words.copyWithin((to + pairs) * WORDS, (from + size - 1) * WORDS, (from + size) * WORDS);
    from = to;
    size = pairs + (size % 2);
    offsets.push(from);
    sizes.push(size);
  }
  const levels = offsets.length - 1;

  // Paths, leaf to root: the sibling at each level where there is one.
  const maxPath = levels * HASH;
  if (path.bytes.length < maxPath) path = scratch(maxPath);
  const pathBytes = path.bytes;
  const pathWords = path.words;
  const items = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    let w = 0;
    let index = i;
    for (let k = 0; k < levels; k++) {
      const sibling = index % 2 === 0 ? index + 1 : index - 1;
      if (sibling < sizes[k]!) {
        const src = (offsets[k]! + sibling) * WORDS;
        for (let x = 0; x < WORDS; x++) pathWords[w + x] = words[src + x]!;
        w += WORDS;
      }
      index = Math.floor(index / 2);
    }
    items[i] = `${claims[i]}.${i}.${pathBytes.toString('base64url', 0, w * 4)}`;
  }
  return { root: bytes.toString('hex', from * HASH, from * HASH + HASH), items };
}
