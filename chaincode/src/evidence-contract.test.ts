import { canonicalJson, cidFromSha256, detailsDigest, sha256, toHex } from '@lianzheng/proof';
import { describe, expect, it } from 'vitest';
import { chaincodeErrorCode } from './errors.ts';
import type { BatchResult, Checkpoint, RecordEntry } from './index.ts';
import {
  buildEntry,
  ContractDriver,
  INSPECTOR,
  MemoryLedger,
  testRecordId,
  villageRoadProject,
  WRITER,
} from './testing/index.ts';

const P = 'XC-2025-ROAD-001';
const at = '2025-03-10T02:00:00.000Z';

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

function e(
  n: number,
  kind: Parameters<typeof buildEntry>[0]['kind'],
  extra: Partial<Parameters<typeof buildEntry>[0]> = {},
): RecordEntry {
  return buildEntry({ id: testRecordId(n), projectId: P, kind, ...extra });
}

/** Re-seals details after a change, so that only the intended defect remains. */
function withDetails(entry: RecordEntry, details: Record<string, unknown>): RecordEntry {
  const d = { ...entry.details, ...details } as RecordEntry['details'];
  return { details: d, record: { ...entry.record, detailsDigest: detailsDigest(d) } };
}

describe('access control', () => {
  it('refuses writes before InitLedger', async () => {
    const driver = new ContractDriver();
    expect(await codeOf(driver.register(villageRoadProject(P)))).toBe('NOT_INITIALISED');
  });

  it('lets only writers record and register; anyone may query', async () => {
    const driver = await ready();
    expect(
      await codeOf(
        driver.submitBatch(0, [e(1, 'other')], {
          identity: INSPECTOR,
        }),
      ),
    ).toBe('NOT_A_WRITER');
    expect(await codeOf(driver.register(villageRoadProject('OTHER-1'), { identity: INSPECTOR }))).toBe(
      'NOT_A_WRITER',
    );
    expect(await driver.query<Checkpoint>('GetCheckpoint', [''])).toMatchObject({ size: 0 });
    // Nothing the refused transactions tried was committed.
    expect(await codeOf(driver.query('GetProject', ['OTHER-1']))).toBe('NOT_FOUND');
  });

  it('keeps the writers list in state, changed only by the admin', async () => {
    const driver = await ready();
    expect(
      await codeOf(driver.submit('SetWriters', [JSON.stringify([INSPECTOR.mspId])], { identity: INSPECTOR })),
    ).toBe('NOT_AN_ADMIN');
    await driver.submit('SetWriters', [JSON.stringify([WRITER.mspId, INSPECTOR.mspId])]);
    expect(await driver.query('GetConfig')).toEqual({
      adminMsp: WRITER.mspId,
      writers: [WRITER.mspId, INSPECTOR.mspId].sort(),
      advanceLimitPercent: 30,
    });
    await driver.record([e(1, 'other')], { identity: INSPECTOR });
    await driver.submit('SetWriters', [JSON.stringify([WRITER.mspId])]);
    expect(await codeOf(driver.record([e(2, 'other')], { identity: INSPECTOR }))).toBe('NOT_A_WRITER');
  });

  it('makes InitLedger idempotent and refuses a different second configuration', async () => {
    const driver = new ContractDriver();
    await driver.init();
    await driver.init();
    expect(await codeOf(driver.init({ advanceLimitPercent: 10 }))).toBe('ALREADY_INITIALISED');
    expect(await codeOf(driver.submit('SetConfig', [JSON.stringify({ advanceLimitPercent: 101 })]))).toBe(
      'BAD_CONFIG',
    );
    expect(await codeOf(driver.submit('SetConfig', [JSON.stringify({ colour: 'red' })]))).toBe('BAD_CONFIG');
  });

  it('takes a bare admin MSP id', async () => {
    const driver = new ContractDriver();
    await driver.submit('InitLedger', ['CountyMSP'], { identity: { mspId: 'Org1MSP' } });
    expect(await driver.query('GetConfig')).toEqual({
      adminMsp: 'CountyMSP',
      writers: ['CountyMSP'],
      advanceLimitPercent: 30,
    });
  });

  it('defaults the admin and writer to the caller when InitLedger has no argument', async () => {
    const driver = new ContractDriver();
    await driver.submit('InitLedger', [''], { identity: { mspId: 'CountyMSP' } });
    expect(await driver.query('GetConfig')).toEqual({
      adminMsp: 'CountyMSP',
      writers: ['CountyMSP'],
      advanceLimitPercent: 30,
    });
  });

  it('stores the submitter MSP and certificate subject with each record, outside the hashed record', async () => {
    const driver = await ready();
    const entry = e(1, 'other');
    await driver.record([entry]);
    const stored = await driver.query<{ by: unknown; record: unknown }>('GetRecord', [entry.record.id]);
    expect(stored.by).toEqual({ msp: WRITER.mspId, subject: WRITER.subject });
    expect(stored.record).toEqual(entry.record);
  });
});

describe('GetBatchRecords', () => {
  it('gives each batch its records as hashed, with their leaf indexes, and the next batch starts at its toSize', async () => {
    const driver = await ready();
    const first = [e(1, 'other'), e(2, 'notice')];
    const second = [e(3, 'other')];
    await driver.record(first);
    await driver.record(second);
    type Page = {
      fromSize: number;
      toSize: number;
      txId: string;
      records: { record: unknown; index: number }[];
    };
    const a = await driver.query<Page>('GetBatchRecords', ['0']);
    expect(a).toMatchObject({ fromSize: 0, toSize: 2 });
    expect(a.records).toEqual(first.map((x, i) => ({ record: x.record, index: i })));
    const b = await driver.query<Page>('GetBatchRecords', [String(a.toSize)]);
    expect(b.records).toEqual([{ record: second[0]!.record, index: 2 }]);
    expect(await codeOf(driver.query('GetBatchRecords', ['3']))).toBe('NOT_FOUND');
    expect(await codeOf(driver.query('GetBatchRecords', ['-1']))).toBe('BAD_ARGUMENT');
  });
});

describe('RegisterProject', () => {
  it('derives the level from the budget and is idempotent', async () => {
    const driver = await ready();
    await driver.register(villageRoadProject(P));
    const { project } = await driver.query<{ project: { level: string; budget: string } }>('GetProject', [P]);
    expect(project).toMatchObject({ level: 'C', budget: '120000000' });
    expect(await codeOf(driver.register({ ...villageRoadProject(P), name: '另一个工程' }))).toBe(
      'PROJECT_EXISTS',
    );
  });

  it('refuses malformed projects', async () => {
    const driver = await ready();
    const base = villageRoadProject('P-2');
    for (const bad of [
      { ...base, regionCode: '43052' },
      { ...base, budget: '12.5' },
      { ...base, level: 'A' },
      { ...base, milestones: [{ id: 'M1', name: 'x', dueDate: '2025-02-30' }] },
      { ...base, milestones: [base.milestones[0], base.milestones[0]] },
      { ...base, id: 'bad\u0000id' },
      { ...base, extra: 1 },
    ]) {
      expect(await codeOf(driver.register(bad))).toBe('BAD_PROJECT');
    }
    expect(await codeOf(driver.submit('RegisterProject', ['{not json']))).toBe('BAD_ARGUMENT');
  });
});

describe('RecordBatch validation', () => {
  const refused: [string, () => RecordEntry[]][] = [
    [
      'UNKNOWN_KIND',
      () => [{ ...e(1, 'other'), record: { ...e(1, 'other').record, kind: 'invoice' as never } }],
    ],
    [
      'BAD_DIGEST',
      () => [{ ...e(1, 'other'), record: { ...e(1, 'other').record, digests: { sha256: 'AB'.repeat(32) } } }],
    ],
    [
      'BAD_CID',
      () => [
        {
          ...e(1, 'other'),
          record: { ...e(1, 'other').record, cid: cidFromSha256(sha256(new Uint8Array([1]))) },
        },
      ],
    ],
    ['BAD_RECORD', () => [{ ...e(1, 'other'), record: { ...e(1, 'other').record, id: 'not-a-uuid' } }]],
    [
      'BAD_RECORD',
      () => [{ ...e(1, 'other'), record: { ...e(1, 'other').record, acceptedAt: '2025-03-01T08:00:00Z' } }],
    ],
    ['BAD_RECORD', () => [{ ...e(1, 'other'), record: { ...e(1, 'other').record, v: 2 as 1 } }]],
    [
      'BAD_RECORD',
      () => [{ ...e(1, 'other'), record: { ...e(1, 'other').record, visibility: 'secret' as 'public' } }],
    ],
    [
      'DETAILS_MISMATCH',
      () => [{ ...e(1, 'other'), details: { ...e(1, 'other').details, title: 'changed' } }],
    ],
    ['BAD_DETAILS', () => [withDetails(e(1, 'contract', { details: { amount: '1' } }), { amount: '1.5' })]],
    ['BAD_DETAILS', () => [e(1, 'payment_approval')]],
    ['BAD_DETAILS', () => [e(1, 'acceptance')]],
    ['BAD_DETAILS', () => [e(1, 'withdrawal', { refs: [testRecordId(9)] })]],
    ['NO_SUCH_PROJECT', () => [buildEntry({ id: testRecordId(1), projectId: 'NOPE', kind: 'other' })]],
    ['BAD_MILESTONE', () => [e(1, 'acceptance', { details: { result: 'passed', milestone: 'M9' } })]],
    ['BAD_REFERENCE', () => [e(1, 'notice', { refs: [testRecordId(99)] })]],
    // A payment may only ref a contract.
    [
      'BAD_REFERENCE',
      () => [e(1, 'other'), e(2, 'payment_approval', { refs: [testRecordId(1)], details: { amount: '1' } })],
    ],
    // refs are resolved in order: a record cannot ref one later in the batch.
    ['BAD_REFERENCE', () => [e(2, 'notice', { refs: [testRecordId(3)] }), e(3, 'other')]],
    ['BAD_SUPERSEDE', () => [e(1, 'notice'), e(2, 'other', { supersedes: testRecordId(1) })]],
    [
      'BAD_SUPERSEDE',
      () => [
        e(1, 'notice'),
        e(2, 'notice', { supersedes: testRecordId(1) }),
        e(3, 'notice', { supersedes: testRecordId(1) }),
      ],
    ],
    [
      'BAD_REFERENCE',
      () => [
        e(1, 'notice'),
        e(2, 'withdrawal', { refs: [testRecordId(1)], details: { reason: 'x' } }),
        e(3, 'withdrawal', { refs: [testRecordId(1)], details: { reason: 'again' } }),
      ],
    ],
    ['RECORD_EXISTS', () => [e(1, 'other'), e(1, 'other')]],
  ];

  for (const [code, entries] of refused) {
    it(`refuses with ${code}: ${entries()
      .map((x) => x.record.kind)
      .join(', ')}`, async () => {
      const driver = await ready();
      expect(await codeOf(driver.record(entries(), { time: at }))).toBe(code);
      // The whole batch is refused: nothing was written.
      expect(await driver.query<Checkpoint>('GetCheckpoint', [''])).toMatchObject({ size: 0 });
    });
  }

  it('refuses a record from another project as a reference', async () => {
    const driver = await ready();
    await driver.register(villageRoadProject('XC-2025-ROAD-002'));
    const other = buildEntry({
      id: testRecordId(1),
      projectId: 'XC-2025-ROAD-002',
      kind: 'contract',
      details: { amount: '1' },
    });
    await driver.record([other]);
    expect(
      await codeOf(
        driver.record([e(2, 'payment_approval', { refs: [testRecordId(1)], details: { amount: '1' } })]),
      ),
    ).toBe('BAD_REFERENCE');
    expect(
      await codeOf(
        driver.record([e(3, 'contract', { supersedes: testRecordId(1), details: { amount: '1' } })]),
      ),
    ).toBe('BAD_SUPERSEDE');
  });

  it('refuses a record id already on the ledger', async () => {
    const driver = await ready();
    await driver.record([e(1, 'other')]);
    expect(await codeOf(driver.record([e(1, 'other', { content: 'different' })]))).toBe('RECORD_EXISTS');
  });

  it('refuses malformed batches', async () => {
    const driver = await ready();
    for (const arg of [
      '',
      '[]',
      '{"fromSize":0,"records":[]}',
      '{"fromSize":-1,"records":[{}]}',
      '{"fromSize":0,"records":[{"record":{}}]}',
    ]) {
      expect(await codeOf(driver.submit('RecordBatch', [arg]))).toBe('BAD_ARGUMENT');
    }
  });
});

describe('the log kept by the ledger', () => {
  it('answers a repeated batch with the stored result and writes nothing', async () => {
    const driver = await ready();
    const batch = [
      e(1, 'contract', { details: { amount: '100' } }),
      e(2, 'payment_approval', { refs: [testRecordId(1)], details: { amount: '90' } }),
    ];
    const first = await driver.record(batch);
    await driver.record([e(3, 'other')]);
    const again = await driver.submitBatch(0, batch);
    expect(again.result).toEqual(first.tx.result);
    expect(again.privateWrites).toEqual([]);
    expect(again.writes).toEqual([]);
    expect(again.event).toBeUndefined();
  });

  it('refuses a gap with LOG_GAP and a different batch at a used size with LOG_CONFLICT', async () => {
    const driver = await ready();
    await driver.record([e(1, 'other'), e(2, 'other')]);
    const json = (fromSize: number, records: RecordEntry[]) => [JSON.stringify({ fromSize, records })];
    expect(await codeOf(driver.submit('RecordBatch', json(3, [e(3, 'other')])))).toBe('LOG_GAP');
    expect(await codeOf(driver.submit('RecordBatch', json(1, [e(2, 'other')])))).toBe('LOG_GAP');
    expect(await codeOf(driver.submit('RecordBatch', json(0, [e(1, 'other'), e(3, 'other')])))).toBe(
      'LOG_CONFLICT',
    );
    expect(await codeOf(driver.submit('RecordBatch', json(0, [e(1, 'other')])))).toBe('LOG_CONFLICT');
  });

  it('stores a checkpoint per batch and emits one event', async () => {
    const driver = await ready();
    const a = await driver.record([e(1, 'other'), e(2, 'other')]);
    const b = await driver.record([e(3, 'other')]);
    expect(await driver.query('GetCheckpoint', ['2'])).toEqual({ size: 2, root: a.root });
    expect(await driver.query('GetCheckpoint', ['3'])).toEqual({ size: 3, root: b.root });
    expect(await driver.query('GetCheckpoint', [''])).toEqual({ size: 3, root: b.root });
    expect(await codeOf(driver.query('GetCheckpoint', ['1']))).toBe('NOT_FOUND');
    expect(await codeOf(driver.query('GetCheckpoint', ['-1']))).toBe('BAD_ARGUMENT');
    const events = driver.ledger.events.filter((x) => x.name === 'BatchRecorded');
    expect(events.map((x) => JSON.parse(new TextDecoder().decode(x.payload)))).toEqual([
      { fromSize: 0, toSize: 2, root: a.root },
      { fromSize: 2, toSize: 3, root: b.root },
    ]);
  });

  it('writes a constant number of keys per batch and project, not per record', async () => {
    const driver = await ready();
    const entries = Array.from({ length: 500 }, (_, i) => e(i + 1, 'other'));
    const { tx } = await driver.record(entries);
    // The project's key, the page of its facts (500 fit in one), the batch, the log head and the
    // checkpoint (state-calls.test.ts counts reads too; book.test.ts pages that split).
    expect(tx.writes.length).toBe(5);
  });
});

describe('several projects and versions in one batch', () => {
  it("keeps each project's totals apart and follows a contract through its versions", async () => {
    const driver = await ready();
    await driver.register(villageRoadProject('XC-2025-ROAD-002'));
    const Q = 'XC-2025-ROAD-002';
    const c1 = e(1, 'contract', { details: { amount: '1000' } });
    const c1b = e(2, 'contract', { supersedes: testRecordId(1), details: { amount: '1100' } });
    const c1c = e(3, 'contract', { supersedes: testRecordId(2), details: { amount: '1200' } });
    const q1 = buildEntry({
      id: testRecordId(4),
      projectId: Q,
      kind: 'contract',
      details: { amount: '500' },
    });
    // Refs the first version: counts against the chain, whose live amount is 1200.
    const pay = e(5, 'payment_approval', { refs: [testRecordId(1)], details: { amount: '300' } });
    const qPay = buildEntry({
      id: testRecordId(6),
      projectId: Q,
      kind: 'payment_approval',
      details: { amount: '100' },
    });
    const result = await driver.record([c1, c1b, c1c, q1, pay, qPay], { time: at });
    expect(result.flags).toEqual([]);
    const p = await driver.query<{ summary: { contracts: Record<string, unknown> } }>('GetProject', [P]);
    expect(p.summary.contracts).toEqual({
      [testRecordId(1)]: {
        current: testRecordId(3),
        amount: '1200',
        paid: '300',
        advance: '300',
        changes: '0',
        payments: 1,
        passedAcceptances: 0,
        live: true,
      },
    });
    const q = await driver.query<{ summary: { contracts: Record<string, { paid: string }> } }>('GetProject', [
      Q,
    ]);
    expect(q.summary.contracts[testRecordId(4)]?.paid).toBe('100');
    const trail = await driver.query<{ records: { supersededBy?: string }[] }>('ProjectTrail', [P]);
    expect(trail.records.map((r) => r.supersededBy)).toEqual([
      testRecordId(2),
      testRecordId(3),
      undefined,
      undefined,
    ]);
    expect(
      await codeOf(
        driver.record([e(7, 'contract', { supersedes: testRecordId(1), details: { amount: '1' } })]),
      ),
    ).toBe('BAD_SUPERSEDE');
  });
});

describe('queries', () => {
  it('finds every record of a digest, in log order, with its state', async () => {
    const driver = await ready();
    const first = e(1, 'notice', { content: 'same file' });
    const second = e(2, 'notice', { content: 'same file', supersedes: testRecordId(1) });
    await driver.record([first, e(3, 'other'), second]);
    const found = await driver.query<{
      records: { record: { id: string }; supersededBy?: string; index: number }[];
    }>('FindByDigest', [first.record.digests.sha256]);
    expect(found.records.map((r) => [r.record.id, r.index, r.supersededBy])).toEqual([
      [first.record.id, 0, second.record.id],
      [second.record.id, 2, undefined],
    ]);
    expect(
      (await driver.query<{ records: unknown[] }>('FindByDigest', [toHex(sha256(new Uint8Array(0)))]))
        .records,
    ).toEqual([]);
    expect(await codeOf(driver.query('FindByDigest', ['XYZ']))).toBe('BAD_DIGEST');
  });

  it('answers NOT_FOUND for unknown ids', async () => {
    const driver = await ready();
    expect(await codeOf(driver.query('GetRecord', [testRecordId(42)]))).toBe('NOT_FOUND');
    expect(await codeOf(driver.query('ProjectTrail', ['NOPE']))).toBe('NOT_FOUND');
    expect(await codeOf(driver.query('GetFlags', ['NOPE']))).toBe('NOT_FOUND');
  });
});

describe('determinism', () => {
  async function history(ledger: MemoryLedger): Promise<ContractDriver> {
    const driver = new ContractDriver(ledger);
    await driver.init();
    await driver.register(villageRoadProject(P), { txId: 'a'.repeat(64), time: '2025-02-01T00:00:00.000Z' });
    await driver.record([e(1, 'contract', { details: { amount: '1000' } })], {
      txId: 'b'.repeat(64),
      time: at,
    });
    return driver;
  }

  it('writes identical bytes when two peers execute the same proposal', async () => {
    const peers = [await history(new MemoryLedger()), await history(new MemoryLedger())];
    const records = [
      e(2, 'payment_approval', { refs: [testRecordId(1)], details: { amount: '400' } }),
      e(3, 'acceptance', { refs: [testRecordId(1)], details: { milestone: 'M1', result: 'passed' } }),
      e(4, 'contract', { supersedes: testRecordId(1), details: { amount: '1200' } }),
    ];
    const options = { txId: 'c'.repeat(64), time: '2025-06-10T00:00:00.000Z' };
    const [x, y] = await Promise.all(peers.map((p) => p.submitBatch(1, records, options)));
    expect(x!.writes.length).toBeGreaterThan(0);
    expect(Buffer.from(canonicalJson(x!.writes.map(([k, v]) => [k, toHex(v)])))).toEqual(
      Buffer.from(canonicalJson(y!.writes.map(([k, v]) => [k, toHex(v)]))),
    );
    expect(x!.privateWrites.length).toBeGreaterThan(0);
    expect(Buffer.from(canonicalJson(x!.privateWrites.map(([c, k, v]) => [c, k, toHex(v)])))).toEqual(
      Buffer.from(canonicalJson(y!.privateWrites.map(([c, k, v]) => [c, k, toHex(v)]))),
    );
    expect(x!.event).toEqual(y!.event);
    expect(x!.result).toEqual(y!.result);
    // Every value is canonical JSON.
    for (const [, value] of x!.writes) {
      const text = new TextDecoder().decode(value);
      expect(canonicalJson(JSON.parse(text))).toBe(text);
    }
    const result = x!.result as BatchResult;
    expect(result.flags.map((f) => f.code).sort()).toEqual([
      'ADVANCE_OVER_LIMIT',
      'MILESTONE_OVERDUE_30_DAYS',
      'SUPERSEDED_AFTER_RELIANCE',
    ]);
  });

  it('uses the transaction time, not the host clock', async () => {
    const driver = await ready();
    await driver.record([e(1, 'other')], { time: '2031-01-01T00:00:00.123Z' });
    const stored = await driver.query<{ recordedAt: string }>('GetRecord', [testRecordId(1)]);
    expect(stored.recordedAt).toBe('2031-01-01T00:00:00.123Z');
  });
});
