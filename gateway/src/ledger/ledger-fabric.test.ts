import { describe, expect, it } from 'vitest';
import {
  describeProcessedTransaction,
  endorsingSets,
  toFabricLedgerError,
  transientReason,
} from './ledger-fabric.ts';

// The Fabric ledger's own judgement of errors and transactions, on the shapes fabric-network and
// fabric-common hand it. The whole path runs against a real network in
// tests/e2e/gateway-fabric.test.ts.

function endorsementFailure(message: string) {
  return Object.assign(
    new Error('No valid responses from any peers. Errors:\n    peer=peer0, status=500, message=' + message),
    {
      responses: [],
      errors: [new Error(message)],
    },
  );
}

describe('which Fabric failures are retried', () => {
  it('retries MVCC conflicts, timeouts and unreachable orderers or peers', () => {
    expect(
      transientReason(
        Object.assign(new Error('Commit of transaction abc failed on peer0 with status MVCC_READ_CONFLICT'), {
          transactionCode: 'MVCC_READ_CONFLICT',
        }),
      ),
    ).toBe('MVCC_READ_CONFLICT');
    expect(transientReason(new Error('REQUEST TIMEOUT'))).toBe('ENDORSEMENT_TIMEOUT');
    expect(
      transientReason(
        new Error('Failed to send transaction successfully to the orderer status:SERVICE_UNAVAILABLE'),
      ),
    ).toBe('ORDERER_UNAVAILABLE');
    expect(transientReason(new Error('14 UNAVAILABLE: No connection established'))).toBe('PEER_UNAVAILABLE');
    // A stale discovery view (a peer restarted since it was taken): another majority, a fresh view.
    expect(
      transientReason(
        new Error('The discovery service did not find any peers active for ConstructionMSP organizations'),
      ),
    ).toBe('PEER_UNAVAILABLE');
  });

  it('retries a LOG_GAP from a peer that is behind (its log shorter than the batch start), not one ahead', () => {
    expect(
      transientReason(endorsementFailure('LOG_GAP: batch starts at 2000 but the log has 1000 leaves')),
    ).toBe('PEER_BEHIND');
    expect(
      transientReason(endorsementFailure('LOG_GAP: batch starts at 1000 but the log has 2000 leaves')),
    ).toBeUndefined();
  });

  it("never retries the contract's own answers", () => {
    expect(
      transientReason(endorsementFailure('LOG_GAP: batch starts at 3 but the log has 5 leaves')),
    ).toBeUndefined();
    expect(
      transientReason(
        endorsementFailure(
          "transaction returned with failure: NOT_A_WRITER: InspectionMSP is not in the writers' list",
        ),
      ),
    ).toBeUndefined();
    expect(transientReason(new Error('something nobody has seen'))).toBeUndefined();
  });
});

describe('which organisations are asked to endorse a batch', () => {
  it('every majority of the channel, our own organisation in the first ones', () => {
    expect(
      endorsingSets('FinanceMSP', ['InspectionMSP', 'FinanceMSP', 'ConstructionMSP', 'FinanceMSP']),
    ).toEqual([
      ['ConstructionMSP', 'FinanceMSP'],
      ['FinanceMSP', 'InspectionMSP'],
      ['ConstructionMSP', 'InspectionMSP'],
    ]);
    expect(endorsingSets('A', ['A', 'B', 'C', 'D', 'E']).every((s) => s.length === 3)).toBe(true);
    expect(endorsingSets('A', ['A', 'B', 'C', 'D', 'E'])).toHaveLength(10);
    expect(endorsingSets('A', ['A'])).toEqual([]);
  });
});

describe('errors as the gateway sees them', () => {
  it("keeps the contract's code and message from a wrapped endorsement failure", () => {
    const e = toFabricLedgerError(
      endorsementFailure('BAD_REFERENCE: ref 0190 names a record of another project'),
      'RecordBatch',
    );
    expect(e.code).toBe('BAD_REFERENCE');
    expect(e.message).toBe('BAD_REFERENCE: ref 0190 names a record of another project');
    expect(e.refusesRecord).toBe(true);
  });

  it('calls anything else the ledger being unavailable, naming the transaction', () => {
    const e = toFabricLedgerError(new Error('14 UNAVAILABLE: connect ECONNREFUSED'), 'RecordBatch');
    expect(e.code).toBe('LEDGER_UNAVAILABLE');
    expect(e.message).toMatch(/^LEDGER_UNAVAILABLE: RecordBatch: 14 UNAVAILABLE/);
  });
});

describe('a processed transaction from qscc', () => {
  const processed = (validationCode: number, fn: string, payload: unknown, endorsers: string[]) => ({
    validationCode,
    transactionEnvelope: {
      payload: {
        header: { channel_header: { tx_id: 'ab'.repeat(32), timestamp: '2026-12-06T10:00:00.123Z' } },
        data: {
          actions: [
            {
              payload: {
                chaincode_proposal_payload: {
                  input: { chaincode_spec: { input: { args: [Buffer.from(fn), Buffer.from('{}')] } } },
                },
                action: {
                  proposal_response_payload: {
                    extension: { response: { status: 200, payload: Buffer.from(JSON.stringify(payload)) } },
                  },
                  endorsements: endorsers.map((mspid) => ({ endorser: { mspid } })),
                },
              },
            },
          ],
        },
      },
    },
  });

  it('names the function, the validation, the endorsing organisations and the recorded log head', () => {
    const tx = describeProcessedTransaction(
      processed(0, 'EvidenceContract:RecordBatch', { toSize: 12, root: 'cd'.repeat(32), flags: [] }, [
        'InspectionMSP',
        'FinanceMSP',
        'FinanceMSP',
      ]),
      7,
    );
    expect(tx).toEqual({
      txId: 'ab'.repeat(32),
      block: 7,
      valid: true,
      validation: 'VALID',
      fn: 'RecordBatch',
      timestamp: '2026-12-06T10:00:00.123Z',
      endorsers: ['FinanceMSP', 'InspectionMSP'],
      size: 12,
      root: 'cd'.repeat(32),
    });
  });

  it('reports an invalidated transaction without a log head', () => {
    const tx = describeProcessedTransaction(
      processed(11, 'RecordBatch', { toSize: 12, root: 'cd'.repeat(32) }, ['FinanceMSP']),
      9,
    );
    expect(tx).toMatchObject({ valid: false, validation: 'MVCC_READ_CONFLICT', fn: 'RecordBatch' });
    expect(tx.size).toBeUndefined();
  });
});
