// Browser implementation behind `#receipt-group-impl`: the tree and items of a group receipt (see
// ReceiptGroup in receipt.ts) from the portable pieces — UTF-8 and base64url of `#codec-impl`,
// the leaf hash and treeWithPaths of merkle.ts. The page builds groups only to check them (and
// small ones); the gateway's Node builder (receipt-group-node.ts) makes the same bytes with less
// garbage, which receipt-group.test.ts checks on random groups.
import { base64urlEncode, utf8Encode } from '#codec-impl';
import { concatBytes, toHex } from './encoding.ts';
import { leafHash, treeWithPaths } from './merkle.ts';

/**
 * The group's root (hex) and each record's `<claims>.<index>.<path>` item, given the records'
 * canonical claims JSON in order; `BAD_LENGTH` for no records, as treeWithPaths.
 */
export function receiptGroupImpl(texts: readonly string[]): { root: string; items: string[] } {
  const encoded = texts.map(utf8Encode);
  const { root, paths } = treeWithPaths(encoded.map(leafHash));
  return {
    root: toHex(root),
    items: encoded.map(
      (bytes, i) => `${base64urlEncode(bytes)}.${i}.${base64urlEncode(concatBytes(...paths[i]!))}`,
    ),
  };
}
