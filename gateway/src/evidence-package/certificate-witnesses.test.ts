// The certificate (存证证书) names the witnesses that cosigned the record's checkpoint (#24).
import type { Assurance, ProofBundle, WitnessAssurance } from '@lianzheng/proof';
import { describe, expect, it } from 'vitest';
import type { Block } from '../documents/render.ts';
import { assuranceLine, witnessWords } from '../documents/words.ts';
import { certificateSpec } from './certificate.ts';

const bundle = {
  record: {
    id: '01a24e19-c34d-707f-ad50-5d6443a18132',
    projectId: 'village-road-1',
    kind: 'notice',
    visibility: 'public',
    submitter: { org: 'village-committee' },
    acceptedAt: '2026-12-07T01:24:00.000Z',
    digests: { sha256: 'a'.repeat(64) },
    cid: 'bafkreiexample',
  },
} as unknown as ProofBundle;

const witnessed: WitnessAssurance = {
  level: 'quorum',
  quorum: 2,
  of: 3,
  cosigned: [
    {
      name: 'notary.example/w1',
      displayName: 'Xicheng Notary Office',
      displayNameZh: '西城公证处',
      at: '2026-12-07T01:30:00.000Z',
    },
    { name: 'audit.example/w1', at: '2026-12-07T01:30:01.000Z' },
  ],
};

const assurance = (witnesses: Assurance['witnesses']) =>
  ({
    ledger: { level: 'embedded' },
    anchoring: { level: 'none' },
    time: { level: 'gateway-clock' },
    witnesses,
    onChain: false,
  }) as Assurance;

function row(blocks: readonly Block[], key: string): string | undefined {
  for (const b of blocks) if (b.kind === 'fields') for (const [k, v] of b.rows) if (k === key) return v;
  return undefined;
}

describe('the certificate names the witnesses', () => {
  it('prints who cosigned and when, and whether the quorum was met', () => {
    const spec = certificateSpec({
      bundle,
      status: 'recorded',
      standing: { state: 'standing' } as never,
      flags: [],
      assurance: assurance(witnessed),
      generatedAt: new Date('2026-12-07T02:00:00Z'),
    });
    expect(row(spec.blocks, '见证 Witnesses')).toBe(
      '由西城公证处见证于 2026-12-07T01:30:00.000Z witnessed by Xicheng Notary Office\n' +
        '由audit.example/w1见证于 2026-12-07T01:30:01.000Z witnessed by audit.example/w1\n' +
        '2/3 家联署，需 2 家：已达到 quorum met',
    );
  });

  it('says none, none yet and below the quorum in words', () => {
    expect(witnessWords({ level: 'none' })).toBe('无 none');
    expect(witnessWords({ level: 'below-quorum', quorum: 2, of: 3, cosigned: [] })).toBe(
      '尚无见证方联署 none yet；0/3 家联署，需 2 家：未达到 quorum not met',
    );
    expect(assuranceLine(assurance(witnessed))).toContain(' · 由西城公证处见证于 ');
  });

  it('names a witness that cosigned a later checkpoint with its size (bundle.witnessed)', () => {
    const later: WitnessAssurance = {
      ...witnessed,
      cosigned: [witnessed.cosigned[0]!, { ...witnessed.cosigned[1]!, size: 42 }],
    };
    expect(witnessWords(later).split('\n')[1]).toBe(
      "由audit.example/w1见证于 2026-12-07T01:30:01.000Z witnessed by audit.example/w1（联署其后规模为 42 的检查点，与本记录的检查点一致）(cosigned at size 42, consistent with the record's checkpoint)",
    );
    expect(witnessWords(witnessed)).not.toContain('规模');
  });
});
