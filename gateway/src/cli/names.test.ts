import { describe, expect, it } from 'vitest';
import { nameWithId, parseProjectNames, recordLine } from './names.ts';

const bundle = {
  record: { projectId: 'p1', kind: 'payment_approval', submitter: { org: 'village' } },
  details: { milestone: 'm1' },
};

describe('names in the CLI summary', () => {
  it('reads a project answer: its name, its organisations and milestones by id', () => {
    const names = parseProjectNames({
      project: {
        id: 'p1',
        name: '村道硬化',
        nameEn: 'Village road',
        ownerOrg: 'village',
        ownerOrgName: { zh: '村委会' },
        milestones: [{ id: 'm1', name: '路基', nameEn: 'Subgrade' }, { id: 'm2' }],
      },
      organisations: { partner: { zh: '财政平台', en: 'Finance' }, odd: { en: 'no Chinese' } },
    });
    expect(names).toEqual({
      id: 'p1',
      name: { zh: '村道硬化', en: 'Village road' },
      organisations: { partner: { zh: '财政平台', en: 'Finance' }, village: { zh: '村委会' } },
      milestones: { m1: { zh: '路基', en: 'Subgrade' } },
    });
    expect(recordLine(bundle, names)).toBe(
      '  record: payment_approval in 村道硬化 / Village road [p1], submitted by 村委会 [village], milestone 路基 / Subgrade [m1]',
    );
  });

  it('falls back to the ids when the gateway gave no names, and ignores what is not a project', () => {
    expect(parseProjectNames({ error: 'x' })).toBeUndefined();
    expect(parseProjectNames({ project: { id: 'p1' } })).toBeUndefined();
    expect(recordLine(bundle, undefined)).toBe(
      '  record: payment_approval in p1, submitted by village, milestone m1',
    );
    expect(recordLine({ nothing: true }, undefined)).toBeUndefined();
    expect(nameWithId(undefined, 'id-1')).toBe('id-1');
  });
});
