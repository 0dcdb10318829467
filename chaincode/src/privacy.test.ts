// Restricted details as Fabric private data: they travel as transient data, never in the
// argument or public state, and queries return them only where the peer can read the collection.

import { canonicalJson, detailsDigest } from '@lianzheng/proof';
import { describe, expect, it } from 'vitest';
import { chaincodeErrorCode } from './errors.ts';
import type { Flag, RecordEntry } from './model.ts';
import { encodeRecordBatch, TRANSIENT_DETAILS_KEY } from './protocol.ts';
import { buildEntry, ContractDriver, testRecordId, villageRoadProject, WRITER } from './testing/index.ts';

const P = 'XC-2025-ROAD-001';
const SECRET_AMOUNT = '987654321';
const SECRET_TITLE = '机密合同标题';

async function ready(): Promise<ContractDriver> {
  const driver = new ContractDriver();
  await driver.init();
  await driver.register(villageRoadProject(P));
  return driver;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return chaincodeErrorCode(error) ?? 'UNCODED';
  }
  return undefined;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A restricted contract, a public payment against it (flagged: advance over limit), a restricted notice. */
function entries(): RecordEntry[] {
  return [
    buildEntry({
      id: testRecordId(1),
      projectId: P,
      kind: 'contract',
      details: { amount: SECRET_AMOUNT, title: SECRET_TITLE },
    }),
    buildEntry({
      id: testRecordId(2),
      projectId: P,
      kind: 'payment_approval',
      visibility: 'public',
      refs: [testRecordId(1)],
      details: { amount: '500000000', title: '公开的付款' },
    }),
    buildEntry({ id: testRecordId(3), projectId: P, kind: 'notice', details: { title: SECRET_TITLE } }),
  ];
}

describe('encodeRecordBatch', () => {
  it('leaves restricted details out of the argument and puts them in the transient map', () => {
    const batch = { fromSize: 7, records: entries() };
    const { args, transient } = encodeRecordBatch(batch);
    const parsed = JSON.parse(args);
    expect(parsed.fromSize).toBe(7);
    expect(parsed.records.map((r: { details?: unknown }) => r.details !== undefined)).toEqual([
      false,
      true,
      false,
    ]);
    expect(args).not.toContain(SECRET_AMOUNT);
    expect(args).not.toContain(SECRET_TITLE);
    expect(JSON.parse(text(transient[TRANSIENT_DETAILS_KEY]!))).toEqual({
      [testRecordId(1)]: batch.records[0]!.details,
      [testRecordId(3)]: batch.records[2]!.details,
    });
    const open = encodeRecordBatch({ fromSize: 0, records: [batch.records[1]!] });
    expect(open.transient).toEqual({});
  });

  it('writes entries that carry their stored canonical JSON as those strings, giving the same bytes', () => {
    // The batcher hands over the strings intake stored (issue #26); for records and details (fixed
    // field names, keys in sorted order) they are exactly what JSON.stringify makes of the parsed values.
    const records = [
      ...entries(),
      buildEntry({
        id: testRecordId(4),
        projectId: P,
        kind: 'acceptance',
        visibility: 'public',
        details: { milestone: 'M1', result: 'failed', reason: '引号 " 反斜杠 \\ 换行 \n 表情 😀' },
      }),
    ];
    const json = records.map((e) => ({ record: canonicalJson(e.record), details: canonicalJson(e.details) }));
    // Before: the batcher parsed the stored strings and the encoder serialised the parsed values.
    const plain = encodeRecordBatch({
      fromSize: 12,
      records: json.map((j) => ({ record: JSON.parse(j.record), details: JSON.parse(j.details) })),
    });
    const stored = encodeRecordBatch({
      fromSize: 12,
      records: records.map((e, i) => ({ ...e, json: json[i] })),
    });
    expect(stored.args).toBe(plain.args);
    expect(text(stored.transient[TRANSIENT_DETAILS_KEY]!)).toBe(
      text(plain.transient[TRANSIENT_DETAILS_KEY]!),
    );
    // The strings are taken as they are, not re-serialised from the parsed values.
    const marked = encodeRecordBatch({
      fromSize: 0,
      records: [{ ...records[1]!, json: { record: '{"as":"stored"}', details: '{"d":1}' } }],
    });
    expect(marked.args).toBe('{"fromSize":0,"records":[{"record":{"as":"stored"},"details":{"d":1}}]}');
  });
});

describe('RecordBatch with restricted records', () => {
  it('keeps restricted details and flag facts out of public state, in one private value per batch', async () => {
    const driver = await ready();
    const { tx, flags } = await driver.record(entries());
    const publicBytes = tx.writes.map(([, v]) => text(v)).join('\n');
    expect(publicBytes).not.toContain(SECRET_AMOUNT);
    expect(publicBytes).not.toContain(SECRET_TITLE);
    expect(JSON.stringify(tx.result)).not.toContain(SECRET_AMOUNT);
    // The public payment's details are public.
    expect(publicBytes).toContain('公开的付款');
    // The private batch value, the project's private value (the summary) and the private value
    // of its page of facts (the rule details).
    expect(tx.privateWrites.map(([c]) => c)).toEqual([
      'restrictedDetails',
      'restrictedDetails',
      'restrictedDetails',
    ]);
    const privateBytes = tx.privateWrites.map(([, , v]) => text(v)).join('\n');
    expect(privateBytes).toContain(SECRET_AMOUNT);
    expect(privateBytes).toContain(SECRET_TITLE);
    // The flag: its facts privately (GetBatch on a member), none in the answer.
    expect((tx.result as { flags: Flag[] }).flags).toEqual([
      expect.objectContaining({ code: 'ADVANCE_OVER_LIMIT', detail: {} }),
    ]);
    expect(flags[0]!.detail).toMatchObject({ contractAmount: SECRET_AMOUNT, advanceTotal: '500000000' });
  });

  it('refuses restricted details in the argument, missing, not matching, or for no restricted record', async () => {
    const driver = await ready();
    const [contract] = entries();
    const open = buildEntry({ id: testRecordId(9), projectId: P, kind: 'other', visibility: 'public' });
    const plain = JSON.stringify({ fromSize: 0, records: [contract] });
    expect(await codeOf(driver.submit('RecordBatch', [plain]))).toBe('BAD_DETAILS');
    const { args, transient } = encodeRecordBatch({ fromSize: 0, records: [contract!] });
    expect(await codeOf(driver.submit('RecordBatch', [args]))).toBe('BAD_DETAILS');
    const otherDetails = { ...contract!.details, amount: '1' };
    const forged = {
      [TRANSIENT_DETAILS_KEY]: new TextEncoder().encode(
        JSON.stringify({ [contract!.record.id]: otherDetails }),
      ),
    };
    expect(detailsDigest(otherDetails)).not.toBe(contract!.record.detailsDigest);
    expect(await codeOf(driver.submit('RecordBatch', [args], { transient: forged }))).toBe(
      'DETAILS_MISMATCH',
    );
    const stray = encodeRecordBatch({ fromSize: 0, records: [open] });
    expect(await codeOf(driver.submit('RecordBatch', [stray.args], { transient }))).toBe('BAD_DETAILS');
    const junk = { [TRANSIENT_DETAILS_KEY]: new TextEncoder().encode('[1]') };
    expect(await codeOf(driver.submit('RecordBatch', [args], { transient: junk }))).toBe('BAD_DETAILS');
    // Nothing was recorded.
    expect(await driver.query('GetCheckpoint', [''])).toMatchObject({ size: 0 });
    await driver.submit('RecordBatch', [args], { transient });
    expect(await driver.query('GetCheckpoint', [''])).toMatchObject({ size: 1 });
  });
});

describe('queries and the private collection', () => {
  it('return restricted details, flag facts and totals only where the peer can read the collection', async () => {
    const driver = await ready();
    const batch = entries();
    await driver.record(batch);
    const member = { identity: WRITER };
    const outsider = { identity: WRITER, privateMember: false };
    type View = { record: { id: string }; details?: unknown; flags: Flag[] };

    const restricted = testRecordId(1);
    expect((await driver.query<View>('GetRecord', [restricted], member)).details).toEqual(batch[0]!.details);
    expect((await driver.query<View>('GetRecord', [restricted], outsider)).details).toBeUndefined();
    const payment = await driver.query<View>('GetRecord', [testRecordId(2)], outsider);
    expect(payment.details).toEqual(batch[1]!.details);
    expect(payment.flags).toEqual([expect.objectContaining({ code: 'ADVANCE_OVER_LIMIT', detail: {} })]);
    const paid = await driver.query<View>('GetRecord', [testRecordId(2)], member);
    expect(paid.flags[0]!.detail).toMatchObject({ contractAmount: SECRET_AMOUNT });

    const trail = await driver.query<{ records: View[] }>('ProjectTrail', [P], outsider);
    expect(trail.records.map((r) => r.details !== undefined)).toEqual([false, true, false]);
    expect(JSON.stringify(trail)).not.toContain(SECRET_AMOUNT);
    const full = await driver.query<{ records: View[] }>('ProjectTrail', [P], member);
    expect(full.records.map((r) => r.details !== undefined)).toEqual([true, true, true]);

    const digest = batch[2]!.record.digests.sha256;
    for (const hint of [[], [''], [P]]) {
      const found = await driver.query<{ records: View[] }>('FindByDigest', [digest, ...hint], outsider);
      expect(found.records.map((r) => [r.record.id, r.details])).toEqual([[testRecordId(3), undefined]]);
    }
    const found = await driver.query<{ records: View[] }>('FindByDigest', [digest, P], member);
    expect(found.records[0]!.details).toEqual(batch[2]!.details);

    const flags = await driver.query<{ flags: Flag[] }>('GetFlags', [P], outsider);
    expect(JSON.stringify(flags)).not.toContain(SECRET_AMOUNT);
    type Project = { summary: { records: number; contracts: Record<string, { amount: string }> } };
    const open = await driver.query<Project>('GetProject', [P], outsider);
    expect(open.summary).toEqual({ records: 3, contracts: {}, passed: {}, overdue: [] });
    const known = await driver.query<Project>('GetProject', [P], member);
    expect(known.summary.contracts[restricted]!.amount).toBe(SECRET_AMOUNT);
  });

  it('finds a digest within one project with the hint, and across projects without', async () => {
    const driver = await ready();
    const Q = 'XC-2025-ROAD-002';
    await driver.register(villageRoadProject(Q));
    const a = buildEntry({ id: testRecordId(1), projectId: P, kind: 'other', content: 'same' });
    const b = buildEntry({ id: testRecordId(2), projectId: Q, kind: 'other', content: 'same' });
    await driver.record([a]);
    await driver.record([b]);
    const ids = async (...args: string[]) =>
      (await driver.query<{ records: { record: { id: string } }[] }>('FindByDigest', args)).records.map(
        (r) => r.record.id,
      );
    const digest = a.record.digests.sha256;
    expect(await ids(digest)).toEqual([a.record.id, b.record.id]);
    expect(await ids(digest, Q)).toEqual([b.record.id]);
    expect(await codeOf(driver.query('FindByDigest', [digest, 'NOPE']))).toBe('NOT_FOUND');
  });
});
