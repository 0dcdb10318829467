import { describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.ts';
import { digestLookups } from '../intake/submission-store.ts';
import { decodeArray } from '../storage/binary-arrays.ts';
import type { Queryable } from '../storage/queryable.ts';
import { maySeeDetails, regionCovers } from './bundle.ts';

const project = { ownerOrg: 'village-committee', regionCode: '620102' };

describe('who sees restricted details', () => {
  it('widens an inspector region by its trailing zero pairs', () => {
    expect(regionCovers('620102', '620102')).toBe(true);
    expect(regionCovers('620100', '620102')).toBe(true);
    expect(regionCovers('620000', '620102')).toBe(true);
    expect(regionCovers('620103', '620102')).toBe(false);
    expect(regionCovers('630000', '620102')).toBe(false);
    expect(regionCovers('6201', '620102')).toBe(false);
    expect(regionCovers(undefined, '620102')).toBe(false);
    expect(regionCovers('620102', null)).toBe(false);
  });

  it('gives every principal the public records and only the allowed ones the restricted', () => {
    const cases: [Principal, boolean][] = [
      [{ role: 'public' }, false],
      [{ role: 'unit', org: 'village-committee' }, true],
      [{ role: 'unit', org: 'another-town' }, false],
      [{ role: 'unit' }, false],
      [{ role: 'partner', org: 'village-committee' }, true],
      [{ role: 'partner', org: 'finance-platform' }, false],
      [{ role: 'inspector', region: '620100' }, true],
      [{ role: 'inspector', region: '630000' }, false],
      [{ role: 'inspector' }, false],
      [{ role: 'admin' }, true],
    ];
    for (const [principal, restricted] of cases) {
      expect(maySeeDetails(principal, 'public', project), JSON.stringify(principal)).toBe(true);
      expect(maySeeDetails(principal, 'restricted', project), JSON.stringify(principal)).toBe(restricted);
    }
    // The submitting organisation sees its own record even in another organisation's project.
    expect(
      maySeeDetails({ role: 'partner', org: 'finance-platform' }, 'restricted', project, 'finance-platform'),
    ).toBe(true);
  });
});

describe('digestLookups', () => {
  it('answers each digest with its own rows in acceptance order, whatever order the database returns', async () => {
    const queries: unknown[][] = [];
    const rows = [
      { seq: '10', sha256: 'aa' },
      { seq: '9', sha256: 'aa' },
      { seq: '11', sha256: 'bb' },
      { seq: '100', sha256: 'aa' },
    ];
    const db = {
      query: async (config: { values: Uint8Array[] }) => {
        queries.push(config.values.map(decodeArray));
        return { rows };
      },
    } as unknown as Queryable;
    const lookups = digestLookups(db);
    const [a, b, c, again] = await Promise.all(['aa', 'bb', 'cc', 'aa'].map((d) => lookups.load(d)));
    expect(a!.map((r) => r.seq)).toEqual(['9', '10', '100']);
    expect(b!.map((r) => r.seq)).toEqual(['11']);
    expect(c).toEqual([]);
    expect(again).toBe(a);
    // One query, each digest asked for once.
    expect(queries).toEqual([[['aa', 'bb', 'cc']]]);
  });
});
