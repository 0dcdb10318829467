import type { Assurance, ProofBundle } from '@lianzheng/proof';
import { describe, expect, it } from 'vitest';
import type { Block } from '../documents/render.ts';
import { certificateSpec } from './certificate.ts';

// Only what the certificate reads of a bundle: a record not sealed yet, with its details.
const bundle = {
  record: {
    id: '01a24e19-c34d-707f-ad50-5d6443a18132',
    projectId: 'village-road-1',
    kind: 'acceptance',
    visibility: 'public',
    submitter: { org: 'village-committee' },
    acceptedAt: '2026-12-07T01:24:00.000Z',
    digests: { sha256: 'a'.repeat(64) },
    cid: 'bafkreiexample',
  },
  details: { milestone: 'm1', result: 'passed' },
} as unknown as ProofBundle;

const assurance = {
  ledger: { level: 'embedded' },
  anchoring: { level: 'none' },
  time: { level: 'gateway-clock' },
  witnesses: { level: 'none', cosigned: [], of: 0, quorum: 0 },
  onChain: false,
} as unknown as Assurance;

function fields(blocks: readonly Block[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const b of blocks) if (b.kind === 'fields') for (const [k, v] of b.rows) out.set(k, v);
  return out;
}

describe('certificate.pdf names (issue #21)', () => {
  const base = {
    bundle,
    status: 'accepted',
    standing: { state: 'standing' } as never,
    flags: [],
    assurance,
    generatedAt: new Date('2026-12-07T02:00:00Z'),
  };

  it('prints the project, the submitting organisation and the milestone by name, the id beside', () => {
    const rows = fields(
      certificateSpec({
        ...base,
        projectName: '城关镇五星村村道硬化工程',
        names: {
          projectEn: 'Wuxing village road surfacing',
          organisations: { 'village-committee': { zh: '五星村村民委员会', en: 'Wuxing Village Committee' } },
          milestones: { m1: { zh: '路基' } },
        },
      }).blocks,
    );
    expect(rows.get('项目 Project')).toBe(
      '城关镇五星村村道硬化工程 / Wuxing village road surfacing (village-road-1)',
    );
    expect(rows.get('提交单位 Submitted by')).toBe(
      '五星村村民委员会 / Wuxing Village Committee (village-committee)',
    );
    expect(rows.get('节点 Milestone')).toBe('路基 (m1)');
  });

  it('falls back to the bare ids when no names are known', () => {
    const rows = fields(certificateSpec(base).blocks);
    expect(rows.get('项目 Project')).toBe('village-road-1');
    expect(rows.get('提交单位 Submitted by')).toBe('village-committee');
    expect(rows.get('节点 Milestone')).toBe('m1');
  });
});
