// Migration 0993 (issue #26): a group commit's rows share one signed group receipt, so its JWS
// (and, under CRYPTO_SUITE dual, the detached SM2 JWS) is stored once in `receipt_groups` and each
// row keeps only its `<item>`. Every reader goes through `submission_states`, which must give the
// receipts back byte for byte; rows that do not fit the group keep theirs whole.

import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  insertSubmissions,
  type NewSubmission,
  type StoredReceiptGroup,
} from '../../gateway/src/intake/submission-store.ts';
import type { TestDatabase } from './pipeline-support.ts';
import { useTestDatabase } from './test-database.ts';

let db: TestDatabase;

useTestDatabase((started) => ({ db } = started));

const b64 = (n: number) => randomBytes(n).toString('base64url');

function row(receipt: string, extra: Partial<NewSubmission> = {}): NewSubmission {
  const id = randomUUID();
  return {
    id,
    projectId: 'receipt-groups',
    sha256: randomBytes(32).toString('hex'),
    kind: 'notice',
    recordJson: JSON.stringify({ id }),
    detailsJson: '{"salt":"00"}',
    receipt,
    receiptSm2: null,
    idempotencyKey: null,
    idemScope: null,
    requestHash: null,
    acceptedAt: new Date().toISOString(),
    linkTarget: null,
    ...extra,
  };
}

async function read(ids: string[]) {
  const stored = await db.pool.query<{
    id: string;
    receipt: string;
    receipt_sm2: string | null;
    group: string | null;
  }>(
    'select id::text, receipt, receipt_sm2, receipt_group::text as group from submissions where id = any($1::uuid[])',
    [ids],
  );
  const states = await db.pool.query<{ id: string; receipt: string; receipt_sm2: string | null }>(
    'select id::text, receipt, receipt_sm2 from submission_states where id = any($1::uuid[])',
    [ids],
  );
  const byId = <T extends { id: string }>(rows: T[]) => new Map(rows.map((r) => [r.id, r]));
  return { stored: byId(stored.rows), states: byId(states.rows) };
}

describe('receipt groups (0993)', () => {
  it('stores a group JWS once and its rows as items; readers get every receipt back whole', async () => {
    const group: StoredReceiptGroup = { jws: `${b64(30)}.${b64(200)}.${b64(64)}`, sm2Detached: null };
    const items = Array.from({ length: 5 }, (_, i) => `${b64(250)}.${i}.${b64(96)}`);
    const grouped = items.map((item) => row(`${group.jws}~${item}`, { receiptGroup: group }));
    // In the same group commit: a single POST's plain JWS, and a row claiming the group whose
    // receipt is not one of its items (never made by intake; it must still be kept whole).
    const plain = row(`${b64(30)}.${b64(200)}.${b64(64)}`);
    const stranger = row(`${b64(30)}.${b64(200)}.${b64(64)}~${items[0]}`, { receiptGroup: group });
    const before = Number((await db.pool.query('select count(*) as n from receipt_groups')).rows[0].n);
    const all = [plain, ...grouped, stranger];
    expect(await insertSubmissions(db.pool, all)).toEqual(all.map(() => ({ inserted: true })));
    expect(Number((await db.pool.query('select count(*) as n from receipt_groups')).rows[0].n)).toBe(
      before + 1,
    );

    const { stored, states } = await read(all.map((r) => r.id));
    for (const [i, r] of grouped.entries()) {
      expect(stored.get(r.id)!.receipt).toBe(items[i]);
      expect(stored.get(r.id)!.group).not.toBeNull();
    }
    for (const r of [plain, stranger]) {
      expect(stored.get(r.id)!.receipt).toBe(r.receipt);
      expect(stored.get(r.id)!.group).toBeNull();
    }
    for (const r of all) {
      expect(states.get(r.id)!.receipt).toBe(r.receipt);
      expect(states.get(r.id)!.receipt_sm2).toBeNull();
    }
  });

  it('keeps the group’s detached SM2 JWS once too (CRYPTO_SUITE dual)', async () => {
    const sm2Detached = `${b64(40)}..${b64(64)}`;
    const group: StoredReceiptGroup = { jws: `${b64(30)}.${b64(200)}.${b64(64)}`, sm2Detached };
    const rows = [0, 1, 2].map((i) => {
      const receipt = `${group.jws}~${b64(250)}.${i}.${b64(64)}`;
      return row(receipt, { receiptGroup: group, receiptSm2: 'whole', receiptSm2Detached: sm2Detached });
    });
    // An SM2 receipt that is not the group's detached one stays with its row.
    const own = `${b64(40)}..${b64(64)}`;
    const odd = row(`${group.jws}~${b64(250)}.3.${b64(64)}`, {
      receiptGroup: group,
      receiptSm2: 'whole',
      receiptSm2Detached: own,
    });
    await insertSubmissions(db.pool, [...rows, odd]);
    const { stored, states } = await read([...rows, odd].map((r) => r.id));
    for (const r of rows) {
      expect(stored.get(r.id)!.receipt_sm2).toBeNull();
      expect(states.get(r.id)!.receipt_sm2).toBe(sm2Detached);
      expect(states.get(r.id)!.receipt).toBe(r.receipt);
    }
    expect(stored.get(odd.id)!.group).toBeNull();
    expect(stored.get(odd.id)!.receipt_sm2).toBe(own);
    expect(states.get(odd.id)!.receipt).toBe(odd.receipt);
  });

  it('answers Idempotency-Key conflicts for grouped rows as before', async () => {
    const group: StoredReceiptGroup = { jws: `${b64(30)}.${b64(200)}.${b64(64)}`, sm2Detached: null };
    const keyed = (key: string, i: number) =>
      row(`${group.jws}~${b64(250)}.${i}.${b64(64)}`, {
        receiptGroup: group,
        idempotencyKey: key,
        idemScope: 'scope',
        requestHash: 'h',
      });
    const first = [keyed('k1', 0), keyed('k2', 1)];
    expect(await insertSubmissions(db.pool, first)).toEqual([{ inserted: true }, { inserted: true }]);
    const again = [keyed('k1', 0), keyed('k3', 1)];
    expect(await insertSubmissions(db.pool, again)).toEqual([{ inserted: false }, { inserted: true }]);
    const { states } = await read([...first, again[1]!].map((r) => r.id));
    for (const r of [...first, again[1]!]) expect(states.get(r.id)!.receipt).toBe(r.receipt);
  });
});
