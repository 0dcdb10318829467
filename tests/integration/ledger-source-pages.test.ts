// The audit reads the embedded ledger's records through pgEmbeddedLedgerSource, a page of ids at a
// time, with a bounded cache of batch values. With more batches than the cache holds, a page that
// names batches cached by an earlier page must still find every record (a crash test with many
// small batches once read ten recorded records as missing from the ledger).

import { buildEntry, testRecordId, villageRoadProject } from '@lianzheng/chaincode/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgEmbeddedLedgerSource } from '../../gateway/src/audit/ledger-source.ts';
import { EmbeddedLedger } from '../../gateway/src/ledger/ledger-embedded.ts';
import { startTestDatabase, type TestDatabase } from './pipeline-support.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase();
});

afterAll(async () => {
  await db?.stop();
});

describe('the embedded ledger read as the audit reads it', () => {
  it('finds every record of 80 batches, asked in overlapping pages', async () => {
    const ledger = new EmbeddedLedger(db.pool, { mspId: 'LianZhengGatewayMSP' });
    await ledger.ready();
    const project = villageRoadProject('PAGES-1');
    await ledger.registerProject(project);
    const ids: string[] = [];
    for (let b = 0; b < 80; b++) {
      const records = [0, 1].map((i) =>
        buildEntry({ id: testRecordId(b * 2 + i), projectId: project.id, kind: 'other' }),
      );
      await ledger.recordBatch({ fromSize: b * 2, records });
      ids.push(...records.map((r) => r.record.id));
    }
    const source = pgEmbeddedLedgerSource(db.pool);
    const first = await source.records(ids.slice(0, 140)); // batches 0–69: more than the cache holds
    const second = await source.records(ids.slice(120)); // 60–79: 60–69 cached by the first page
    expect(first.size).toBe(140);
    expect(second.size).toBe(40);
    expect(second.get(ids[159]!)?.index).toBe(159);
    expect(second.get(ids[120]!)?.index).toBe(120);
  });
});
