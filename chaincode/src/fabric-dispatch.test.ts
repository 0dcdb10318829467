// The contract as fabric-shim sees it: metadata from the decorators (compiled by esbuild, which
// emits no design:paramtypes), argument marshalling, the caller from an X.509 certificate through
// fabric-shim's own ClientIdentity, and errors returned as coded messages.

import { createRequire } from 'node:module';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { EvidenceContract, encodeRecordBatch } from './index.ts';
import { buildEntry, MemoryLedger, testRecordId, villageRoadProject } from './testing/index.ts';

const require = createRequire(import.meta.url);
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract.js');
const { JSONSerializer } = require('fabric-contract-api');

interface ShimResponse {
  status: number;
  message?: string;
  payload?: Uint8Array;
}

function selfSignedPem(cn: string, org: string): string {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date('2025-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2035-01-01T00:00:00Z');
  const attrs = [
    { shortName: 'C', value: 'CN' },
    { shortName: 'O', value: org },
    { shortName: 'CN', value: cn },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

describe('EvidenceContract under fabric-shim', () => {
  let chaincode: {
    metadata: { contracts: Record<string, { transactions: unknown[] }> };
    Invoke(stub: unknown): Promise<ShimResponse>;
  };
  let pem: string;
  const ledger = new MemoryLedger();

  beforeAll(() => {
    chaincode = new ChaincodeFromContract(
      [EvidenceContract],
      { transaction: 'jsonSerializer', serializers: { jsonSerializer: JSONSerializer } },
      {},
      'lianzheng',
      '0.1.0',
    );
    pem = selfSignedPem('gateway', 'FinanceBureau');
  });

  /** One Fabric transaction: fabric-shim's dispatch over a memory stub; commits only on status 200. */
  async function invoke(mspid: string, fn: string, ...args: string[]): Promise<ShimResponse> {
    return invokeWith({}, mspid, fn, ...args);
  }

  async function invokeWith(
    transient: Record<string, Uint8Array>,
    mspid: string,
    fn: string,
    ...args: string[]
  ): Promise<ShimResponse> {
    let response: ShimResponse | undefined;
    try {
      await ledger.invoke(
        async (ctx) => {
          const fabricStub = Object.assign(ctx.stub, {
            getBufferArgs: () => [Buffer.from(`EvidenceContract:${fn}`), ...args.map((a) => Buffer.from(a))],
            getChannelID: () => 'evidence',
            getCreator: () => ({ mspid, idBytes: Buffer.from(pem) }),
          });
          response = await chaincode.Invoke(fabricStub);
          if (response.status !== 200) throw new Error('rolled back');
        },
        { transient },
      );
    } catch {
      // the response says why
    }
    return response!;
  }

  const text = (r: ShimResponse) => Buffer.from(r.payload ?? []).toString('utf8');

  it('publishes every transaction with its string parameters and submit/evaluate tags', () => {
    const txs = chaincode.metadata.contracts.EvidenceContract!.transactions as {
      name: string;
      tag: string[];
      parameters: { name: string; schema: { type: string } }[];
    }[];
    const byName = Object.fromEntries(txs.map((t) => [t.name, t]));
    expect(byName.RecordBatch?.parameters).toEqual([
      { name: 'batch', description: '', schema: { type: 'string' } },
    ]);
    expect(byName.RecordBatch?.tag).toContain('SUBMIT');
    expect(byName.GetRecord?.tag).toEqual(['EVALUATE']);
    expect(byName.GetCheckpoint?.parameters.map((p) => p.name)).toEqual(['size']);
    expect(byName.GetBatchRecords?.tag).toEqual(['EVALUATE']);
    expect(Object.keys(byName).sort()).toEqual(
      [
        'FindByDigest',
        'GetBatch',
        'GetBatchRecords',
        'GetCheckpoint',
        'GetConfig',
        'GetFlags',
        'GetProject',
        'GetRecord',
        'InitLedger',
        'ProjectTrail',
        'RecordBatch',
        'RegisterProject',
        'SetConfig',
        'SetWriters',
      ].sort(),
    );
  });

  it('runs a batch end to end and returns coded errors as the message', async () => {
    expect((await invoke('FinanceMSP', 'InitLedger', '')).status).toBe(200);
    const registered = await invoke('FinanceMSP', 'RegisterProject', JSON.stringify(villageRoadProject()));
    expect(registered.status).toBe(200);
    expect(JSON.parse(text(registered)).by).toEqual({
      msp: 'FinanceMSP',
      subject: '/C=CN/O=FinanceBureau/CN=gateway',
    });

    const entries = [
      buildEntry({
        id: testRecordId(1),
        projectId: 'XC-2025-ROAD-001',
        kind: 'contract',
        details: { amount: '100' },
      }),
      buildEntry({
        id: testRecordId(2),
        projectId: 'XC-2025-ROAD-001',
        kind: 'payment_approval',
        refs: [testRecordId(1)],
        details: { amount: '50' },
      }),
    ];
    const { args, transient } = encodeRecordBatch({ fromSize: 0, records: entries });
    expect(args).not.toContain('"details"');
    const leaked = await invoke(
      'FinanceMSP',
      'RecordBatch',
      JSON.stringify({ fromSize: 0, records: entries }),
    );
    expect(leaked.message).toMatch(/^BAD_DETAILS: /);
    const recorded = await invokeWith(transient, 'FinanceMSP', 'RecordBatch', args);
    expect(recorded.status).toBe(200);
    const result = JSON.parse(text(recorded));
    expect(result.toSize).toBe(2);
    // The answer is in the block: the flag without its facts (amounts).
    expect(result.flags).toEqual([
      expect.objectContaining({ code: 'ADVANCE_OVER_LIMIT', recordId: testRecordId(2), detail: {} }),
    ]);
    const batch = await invoke('FinanceMSP', 'GetBatch', '0');
    expect(JSON.parse(text(batch)).flags[0].detail).toMatchObject({
      contractAmount: '100',
      advanceTotal: '50',
    });
    expect(ledger.events.at(-1)?.name).toBe('BatchRecorded');

    const refused = await invoke(
      'InspectionMSP',
      'RecordBatch',
      JSON.stringify({ fromSize: 2, records: entries }),
    );
    expect(refused.status).toBe(500);
    expect(refused.message).toMatch(/^NOT_A_WRITER: /);

    const gap = await invoke('FinanceMSP', 'RecordBatch', JSON.stringify({ fromSize: 5, records: entries }));
    expect(gap.message).toMatch(/^LOG_GAP: /);

    const checkpoint = await invoke('InspectionMSP', 'GetCheckpoint', '');
    expect(JSON.parse(text(checkpoint))).toEqual({ size: 2, root: result.root });
  });
});
