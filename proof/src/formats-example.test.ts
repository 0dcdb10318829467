// docs/FORMATS.md's worked example, recomputed from the page itself: every hash is computed again
// from the bytes the page shows and every signature is verified with the keys it shows, so the
// public format specification fails the build the day it stops describing what proof/ does.
import { readFileSync } from 'node:fs';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  cidFromSha256,
  detailsDigest,
  type EvidenceRecord,
  formatCheckpoint,
  fromHex,
  type JSONWebKeySet,
  jwkThumbprint,
  leafHash,
  nodeHash,
  noteKeyAlgorithm,
  type RecordDetails,
  recordLeafHash,
  rootAtCallData,
  sha256,
  sm3,
  toHex,
  validateRecord,
  verifyBundle,
  verifyCheckpoint,
  verifyConsistency,
  verifyCosignatures,
  verifyInclusion,
  verifyReceipt,
} from './index.ts';

const page = readFileSync(new URL('../../docs/FORMATS.md', import.meta.url), 'utf8');

/** The fenced block right after `<!-- example:name -->`, without its fences. */
function block(name: string): string {
  const at = page.indexOf(`<!-- example:${name} -->`);
  if (at < 0) throw new Error(`FORMATS.md has no example block ${name}`);
  const open = page.indexOf('```', at);
  const start = page.indexOf('\n', open) + 1;
  const end = page.indexOf('\n```', start);
  return page.slice(start, end + 1);
}
/** A one-line block's text without its newline. */
const line = (name: string) => block(name).trimEnd();
/** The 64-digit hashes of a block, one per line, in order. */
const hashes = (name: string) =>
  [...block(name).matchAll(/^(?:\S+\s*=\s*)?([0-9a-f]{64})/gm)].map((m) => m[1]!);
/** `name = value` lines of a block. */
function named(name: string): Record<string, string> {
  return Object.fromEntries([...block(name).matchAll(/^(\S+)\s*=\s*(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
}
const ascii = (s: string) => new TextEncoder().encode(s);

const document = ascii('hello world');
const details = JSON.parse(line('details')) as RecordDetails;
const record = JSON.parse(line('record')) as EvidenceRecord;
const tree = named('tree');

describe('docs/FORMATS.md worked example', () => {
  it('the record and details are canonical JSON, and bind the document and each other', () => {
    expect(canonicalJson(details)).toBe(line('details'));
    expect(canonicalJson(record)).toBe(line('record'));
    expect(new TextEncoder().encode(line('record')).length).toBe(527);
    expect(new TextEncoder().encode(line('details')).length).toBe(103);
    validateRecord(record);
    expect(record.digests.sha256).toBe(toHex(sha256(document)));
    expect(record.digests.sm3).toBe(toHex(sm3(document)));
    expect(record.cid).toBe(cidFromSha256(sha256(document)));
    expect(record.cid).toBe('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
    expect(record.detailsDigest).toBe(detailsDigest(details));
  });

  it('the leaves, roots and proofs are the ones the page states', () => {
    const leaf = recordLeafHash(record);
    expect(toHex(leaf)).toBe(tree.L1);
    expect(toHex(leafHash(ascii('leaf 0')))).toBe(tree.L0);
    expect(toHex(leafHash(ascii('leaf 2')))).toBe(tree.L2);
    expect(toHex(leafHash(ascii('leaf 3')))).toBe(tree.L3);
    const [l0, l1, l2, l3] = [tree.L0, tree.L1, tree.L2, tree.L3].map((h) => fromHex(h!)) as Uint8Array[];
    const root3 = nodeHash(nodeHash(l0!, l1!), l2!);
    const root4 = nodeHash(nodeHash(l0!, l1!), nodeHash(l2!, l3!));
    expect(toHex(root3)).toBe(tree.root3);
    expect(toHex(root4)).toBe(tree.root4);
    const path = hashes('inclusion').map(fromHex);
    expect(path).toHaveLength(2);
    expect(verifyInclusion(leaf, 1, 3, path, root3)).toBe(true);
    const consistency = hashes('consistency').map(fromHex);
    expect(consistency).toHaveLength(3);
    expect(verifyConsistency(3, 4, consistency, root3, root4)).toBe(true);
  });

  it('the checkpoint is the size-3 tree, signed Ed25519 and SM2 by the keys shown', async () => {
    const note = block('checkpoint');
    const keys = block('checkpoint-keys').trimEnd().split('\n');
    expect(keys.map(noteKeyAlgorithm)).toEqual(['ed25519', 'sm2']);
    const body = formatCheckpoint({
      origin: 'lianzheng.example/log',
      size: 3,
      rootHash: fromHex(tree.root3!),
    });
    expect(note.startsWith(`${body}\n`)).toBe(true);
    const checked = await verifyCheckpoint(note, keys);
    expect(checked.algorithms).toEqual(['ed25519', 'sm2']);
    // Each key alone verifies its own line: neither line leans on the other.
    for (const key of keys) {
      const alone = await verifyCheckpoint(note, [key]);
      expect(alone.algorithms).toEqual([noteKeyAlgorithm(key)]);
      expect(alone.checkpoint.size).toBe(3);
    }
  });

  it("the witness's cosignature verifies over that checkpoint, at the time stated", () => {
    const note = `${block('checkpoint')}${block('cosignature')}`;
    const check = verifyCosignatures(note, [line('witness-key')]);
    expect(check.invalid).toEqual([]);
    expect(check.cosignatures.map((c) => [c.name, c.time])).toEqual([['witness.example/w1', 1796612405]]);
  });

  it('the receipts verify with the JWKS shown and state the record', async () => {
    const jwks = JSON.parse(line('jwks')) as JSONWebKeySet;
    const key = jwks.keys[0] as Record<string, unknown>;
    expect(key.kid).toBe(jwkThumbprint(key));
    const plain = await verifyReceipt(line('receipt'), jwks);
    expect(plain).toEqual(JSON.parse(line('receipt-payload')));
    expect(plain.leaf).toBe(tree.L1);

    const receipt = line('group-receipt');
    const group = await verifyReceipt(receipt, jwks);
    expect(group).toMatchObject({ sub: record.id, leaf: tree.L1, iss: 'lianzheng.example' });
    const signed = JSON.parse(Buffer.from(receipt.split('.')[1]!, 'base64url').toString('utf8'));
    expect(signed).toEqual(JSON.parse(line('group-claims')));
    const [claims, index, path] = receipt.split('~')[1]!.split('.') as [string, string, string];
    const bytes = Buffer.from(claims, 'base64url');
    expect(bytes.toString('utf8')).toBe(line('group-item-claims'));
    expect(index).toBe('0');
    // The root is hex, and is the RFC 9162 hash over the items' leaves.
    const root = nodeHash(leafHash(bytes), Buffer.from(path, 'base64url'));
    expect(signed.root).toBe(toHex(root));
  });

  it("the anchor look-up's origin hash and rootAt call data", () => {
    const anchor = named('anchor');
    expect(anchor.originHash).toBe(`0x${toHex(keccak_256(ascii('lianzheng.example/log')))}`);
    expect(anchor.rootAt).toBe(
      rootAtCallData('0x00000000000000000000000000000000000a11ce', anchor.originHash!, 4),
    );
  });

  it('the bundle made of these pieces verifies as the page says', async () => {
    const bundle = {
      version: 'lianzheng-bundle/1',
      record,
      details,
      receipt: line('group-receipt'),
      inclusion: { index: 1, size: 3, path: hashes('inclusion'), checkpoint: block('checkpoint') },
      cosignatures: [line('cosignature')],
    };
    const result = await verifyBundle(bundle, {
      bytes: document,
      keys: {
        jwks: JSON.parse(line('jwks')),
        checkpointKeys: block('checkpoint-keys').trimEnd().split('\n'),
        witnesses: [line('witness-key')],
      },
    });
    expect(result.ok).toBe(true);
    expect(Object.fromEntries(result.steps.map((s) => [s.step, s.code ?? s.status]))).toEqual({
      digest: 'pass',
      details: 'pass',
      leaf: 'pass',
      inclusion: 'pass',
      checkpoint: 'pass',
      receipt: 'pass',
      ledger: 'NO_LEDGER_REF',
      anchor: 'NO_ANCHOR_REF',
      timestamp: 'NO_TIMESTAMP',
      witnesses: 'pass',
    });
  });
});
