import { describe, expect, it } from 'vitest';
import {
  ApiError,
  parseAnchorTx,
  parseKeys,
  parseLedgerTx,
  parseProject,
  parseProjectFlags,
  parseProjectRecords,
  parseVerifyAnswer,
} from './api.ts';

const record = {
  v: 1,
  id: 'r1',
  projectId: 'p1',
  kind: 'contract',
  digests: { sha256: 'a'.repeat(64) },
  cid: 'bafkrei',
  visibility: 'public',
  submitter: { org: 'org-1' },
  acceptedAt: '2025-01-02T03:04:05.678Z',
  detailsDigest: 'b'.repeat(64),
};

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof ApiError ? e.code : 'OTHER';
  }
  return undefined;
}

describe('api parsers', () => {
  it('reads the verify answer and fills missing fields from the bundle record', () => {
    const a = parseVerifyAnswer(
      {
        sha256: 'a'.repeat(64),
        records: [
          { status: 'recorded', flags: [{ code: 'OVERPAYMENT', recordId: 'r1' }], bundle: { record } },
        ],
      },
      'x',
    );
    expect(a.records[0]).toMatchObject({
      id: 'r1',
      status: 'recorded',
      projectId: 'p1',
      kind: 'contract',
      submitter: { org: 'org-1' },
      flags: [{ code: 'OVERPAYMENT', recordId: 'r1' }],
    });
  });

  it('refuses answers the page cannot use', () => {
    expect(code(() => parseVerifyAnswer({}, 'x'))).toBe('BAD_RESPONSE');
    expect(code(() => parseVerifyAnswer({ records: [{ id: 'r1' }] }, 'x'))).toBe('BAD_RESPONSE');
    expect(code(() => parseKeys({ jwks: {} }))).toBe('BAD_RESPONSE');
    expect(code(() => parseLedgerTx({ block: 1 }))).toBe('BAD_RESPONSE');
    expect(code(() => parseProject({ name: 'x' }))).toBe('BAD_RESPONSE');
    expect(code(() => parseProjectRecords({}))).toBe('BAD_RESPONSE');
    expect(code(() => parseProjectFlags('x'))).toBe('BAD_RESPONSE');
  });

  it('reads keys, ledger transactions and projects in the shapes the gateway may use', () => {
    expect(
      parseKeys({ jwks: { keys: [{ kty: 'EC' }] }, checkpointKeys: ['k', 3], ledger: 'embedded' }),
    ).toEqual({
      jwks: { keys: [{ kty: 'EC' }] },
      checkpointKeys: ['k'],
      tsaRoots: [],
      ledger: 'embedded',
    });
    expect(parseLedgerTx({ valid: true, block: 7, size: 4, root: 'ab', txId: 't' })).toEqual({
      valid: true,
      block: 7,
      size: 4,
      root: 'ab',
    });
    expect(parseLedgerTx({ valid: true, block: 7 })).toEqual({ valid: true, block: 7, size: -1, root: '' });
    expect(parseProject({ project: { id: 'p1', name: 'Road', level: 'C' } })).toMatchObject({
      id: 'p1',
      name: 'Road',
      level: 'C',
    });
    expect(
      parseProjectRecords({ records: [{ record, details: { salt: 's', title: 'T' }, status: 'anchored' }] }),
    ).toEqual([
      expect.objectContaining({
        id: 'r1',
        kind: 'contract',
        title: 'T',
        status: 'anchored',
        sha256: 'a'.repeat(64),
      }),
    ]);
    expect(parseProjectFlags({ flags: ['OVERPAYMENT', { code: 'OVERPAYMENT', recordId: 'r1' }, 3] })).toEqual(
      [
        { code: 'OVERPAYMENT' },
        { code: 'OVERPAYMENT', recordId: 'r1', raisedAt: undefined, detail: undefined },
      ],
    );
  });
});

describe('the anchoring identity and the anchor proxy', () => {
  const contract = `0x${'5F'.repeat(20)}`;
  const anchorer = `0x${'70'.repeat(20)}`;
  const keys = { jwks: { keys: [] }, checkpointKeys: [] };

  it('reads the identity /v1/keys publishes, lower-cased, with its retired sites', () => {
    const parsed = parseKeys({
      ...keys,
      anchor: {
        chainId: 'eip155:1337',
        contract,
        anchorer,
        origin: 'gw.example/log',
        originHash: `0x${'AB'.repeat(32)}`,
        confirmations: 3,
        retired: [{ chainId: 'eip155:1337', contract: `0x${'aa'.repeat(20)}`, anchorer }],
      },
    });
    expect(parsed.anchor).toEqual({
      chainId: 'eip155:1337',
      contract: contract.toLowerCase(),
      anchorer,
      origin: 'gw.example/log',
      originHash: `0x${'ab'.repeat(32)}`,
      confirmations: 3,
      retired: [{ chainId: 'eip155:1337', contract: `0x${'aa'.repeat(20)}`, anchorer }],
    });
    // Older gateways publish none: the page then says "not pinned".
    expect(parseKeys(keys).anchor).toBeUndefined();
    // A malformed identity is not quietly dropped (that would unpin the check).
    expect(code(() => parseKeys({ ...keys, anchor: { chainId: 'eip155:1', contract: 'x', anchorer } }))).toBe(
      'BAD_RESPONSE',
    );
    expect(
      code(() =>
        parseKeys({
          ...keys,
          anchor: { chainId: 'eip155:1', contract, anchorer, retired: [{ chainId: 1 }] },
        }),
      ),
    ).toBe('BAD_RESPONSE');
  });

  it("keeps the proxy's sender, contract, confirmations and stored root", () => {
    expect(
      parseAnchorTx({
        size: 7,
        root: 'ab'.repeat(32),
        block: 9,
        chainId: 'eip155:1337',
        contract,
        anchorer,
        from: anchorer,
        confirmations: 4,
        storedRoot: null,
      }),
    ).toEqual({
      size: 7,
      root: 'ab'.repeat(32),
      block: 9,
      chainId: 'eip155:1337',
      contract,
      anchorer,
      from: anchorer,
      confirmations: 4,
      storedRoot: null,
    });
    expect(parseAnchorTx({ size: 7, root: 'ab', block: 9 })).toEqual({ size: 7, root: 'ab', block: 9 });
    expect(code(() => parseAnchorTx({ size: '7', root: 'ab', block: 9 }))).toBe('BAD_RESPONSE');
  });
});

describe('display names and public details (issue #21)', () => {
  it('reads the project’s names, its milestones’ English names and the organisations’ names', () => {
    const p = parseProject({
      project: {
        id: 'p1',
        name: '村道硬化',
        nameEn: 'Village road',
        registeredName: '村道硬化工程',
        ownerOrg: 'village',
        ownerOrgName: { zh: '五星村村民委员会', en: 'Wuxing Village Committee' },
        milestones: [
          { id: 'm1', name: '路基', nameEn: 'Subgrade', dueDate: '2026-06-30' },
          { id: 'm2', name: '路面', dueDate: '2026-09-30' },
        ],
      },
      organisations: {
        partner: { zh: '财政平台' },
        bad: { en: 'no Chinese' },
        village: { zh: '五星村村民委员会' },
      },
    });
    expect(p).toMatchObject({ name: '村道硬化', nameEn: 'Village road', registeredName: '村道硬化工程' });
    expect(p.milestones?.[0]).toEqual({ id: 'm1', name: '路基', nameEn: 'Subgrade', dueDate: '2026-06-30' });
    expect(p.milestones?.[1]?.nameEn).toBeUndefined();
    // A name without Chinese is no name; the owner's own name wins over a short listing.
    expect(p.organisations).toEqual({ partner: { zh: '财政平台' }, village: { zh: '五星村村民委员会' } });
    expect(
      parseProject({ id: 'p2', name: 'x', ownerOrg: 'o', ownerOrgName: { zh: '甲' } }).organisations,
    ).toEqual({
      o: { zh: '甲' },
    });
  });

  it('keeps a record’s amount, milestone, refs and supersedes when the gateway sent them', () => {
    const [r] = parseProjectRecords({
      records: [
        {
          id: 'r9',
          kind: 'payment_approval',
          acceptedAt: '2026-01-01T00:00:00Z',
          visibility: 'public',
          refs: ['c1'],
          supersedes: 'r8',
          details: { title: '进度款', amount: '3000000', milestone: 'm1' },
        },
      ],
    });
    expect(r).toMatchObject({ amount: '3000000', milestone: 'm1', refs: ['c1'], supersedes: 'r8' });
    const [hidden] = parseProjectRecords({
      records: [{ id: 'r1', kind: 'contract', visibility: 'restricted' }],
    });
    expect(hidden?.amount).toBeUndefined();
  });
});
