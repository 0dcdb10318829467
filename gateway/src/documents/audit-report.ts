// The project audit report (项目审计报告, issue #22): what an inspector takes to a meeting or
// files in working papers. Built from facts the API already answers to the same caller — the
// project, its records with status and proof, its flags with the records they rest on, and what
// each record's evidence is worth (assurance) — as a document spec (render.ts), then signed.
// Pure: the route gathers the facts, this only lays them out.
import type { Assurance } from '@lianzheng/proof';
import type { FlagJson } from '../read/schemas.ts';
import type { RecordEntry } from '../read/views.ts';
import type { Block, DocumentSpec } from './render.ts';
import { anchorWords, type DocumentNames, ledgerWords, named, STATUS_WORDS, timeWords } from './words.ts';

export interface ReportProject {
  id: string;
  name: string;
  nameEn?: string;
  ownerOrg: string;
  ownerOrgName?: string;
  regionCode: string;
  level?: string;
  budget?: string;
  registeredAt?: string;
  ledgerTx?: string;
}

export interface ReportRecord {
  entry: RecordEntry;
  /** Where its proof stands: leaf index, log size of its checkpoint, ledger block and tx. */
  proof?: { index: number; size: number; block?: number; txId?: string; timestamped: boolean };
  assurance: Assurance;
}

export interface AuditReportInput {
  project: ReportProject;
  records: ReportRecord[];
  /** More records exist than the report holds (REPORT_MAX_RECORDS). */
  truncated: boolean;
  totalRecords: number;
  flags: FlagJson[];
  generatedAt: Date;
  /** Who asked (role and organisation), printed so a reader knows what was visible to them. */
  generatedFor: string;
  /** Whether the reader may see restricted details (titles, amounts, facts behind flags). */
  privileged: boolean;
  /** Submitting organisations' and milestones' display names, printed beside their ids. */
  names?: DocumentNames;
  gatewayOrigin?: string;
}

const short = (id: string) => id.slice(0, 8);
const day = (iso?: string) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '—');

/** A compact code per assurance, with a legend: the full words once, not on every row. */
const WITNESS_LEVEL: Record<Assurance['witnesses']['level'], string> = {
  none: '无 none',
  quorum: '达到所需见证方数 quorum of witnesses met',
  'below-quorum': "未达到所需见证方数 below the witnesses' quorum",
};

function assuranceKey(a: Assurance): string {
  return `${a.ledger.level}/${a.anchoring.level}/${a.time.level}/${a.witnesses.level}`;
}

export function auditReportSpec(input: AuditReportInput): DocumentSpec {
  const { project: p } = input;
  const blocks: Block[] = [];

  blocks.push({ kind: 'heading', text: '一、项目 Project' });
  blocks.push({
    kind: 'fields',
    rows: [
      ['项目编号 Project id', p.id],
      ['名称 Name', p.nameEn ? `${p.name}\n${p.nameEn}` : p.name],
      ['建设单位 Owning unit', p.ownerOrgName ? `${p.ownerOrgName} (${p.ownerOrg})` : p.ownerOrg],
      ['行政区划 Region', p.regionCode],
      ...(p.level ? ([['级别 Level', p.level]] as [string, string][]) : []),
      ...(p.budget ? ([['预算 Budget (CNY)', p.budget]] as [string, string][]) : []),
      ['登记时间 Registered', day(p.registeredAt)],
      ...(p.ledgerTx ? ([['登记交易 Registration tx', p.ledgerTx]] as [string, string][]) : []),
      ['记录数 Records', String(input.totalRecords)],
      ['预警数 Flags', String(input.flags.length)],
    ],
  });

  const counts = new Map<string, number>();
  for (const r of input.records) counts.set(r.entry.status, (counts.get(r.entry.status) ?? 0) + 1);
  blocks.push({ kind: 'heading', text: '二、存证记录 Records' });
  blocks.push({
    kind: 'paragraph',
    size: 9,
    text:
      `按受理顺序列出（${[...counts].map(([s, n]) => `${STATUS_WORDS[s] ?? s}: ${n}`).join('；')}）。` +
      '“证明”列：日志叶序号/检查点大小、账本区块与交易；“保障”列的代码见第四节。' +
      (input.privileged ? '' : ' 受限记录的标题与金额不向本报告的读者显示。') +
      '\nIn order of acceptance. Proof: leaf index / checkpoint size, ledger block and transaction. ' +
      'Assurance codes are explained in section 4.' +
      (input.privileged ? '' : ' Titles and amounts of restricted records are not shown to this reader.'),
  });
  if (input.truncated) {
    blocks.push({
      kind: 'paragraph',
      size: 9,
      color: '#9b2c2c',
      text:
        `本报告只列出前 ${input.records.length} 条记录（共 ${input.totalRecords} 条）；完整清单见 records.csv。\n` +
        `This report lists the first ${input.records.length} of ${input.totalRecords} records; ` +
        `GET /v1/projects/${p.id}/records.csv has them all.`,
    });
  }
  blocks.push({
    kind: 'table',
    columns: [
      // The record column fits a whole record id (36 characters) on one line.
      { title: '#', width: 0.4 },
      { title: '记录 Record', width: 3.9 },
      { title: '受理 Accepted', width: 1.5 },
      { title: '状态 Status', width: 1.3 },
      { title: '证明 Proof', width: 2.2 },
      { title: '保障 Assurance', width: 1.7 },
    ],
    rows: input.records.map((r, i) => {
      const e = r.entry;
      const links = [
        e.supersedes ? `取代 supersedes ${short(e.supersedes)}` : '',
        e.supersededBy ? `被取代 superseded by ${short(e.supersededBy)}` : '',
        e.withdrawnBy ? `已撤回 withdrawn by ${short(e.withdrawnBy)}` : '',
        e.flags.length ? `预警 flags: ${e.flags.map((f) => f.code).join(', ')}` : '',
      ].filter(Boolean);
      const title = e.details?.title;
      const amount = e.details?.amount;
      return [
        String(i + 1),
        [
          e.id,
          `${e.kind} · ${e.visibility} · ${named(e.submitter.org, input.names?.organisations?.[e.submitter.org])}`,
          title,
          e.details?.milestone
            ? `节点 milestone ${named(e.details.milestone, input.names?.milestones?.[e.details.milestone])}`
            : '',
          amount ? `¥ ${amount}` : '',
          ...links,
        ]
          .filter(Boolean)
          .join('\n'),
        day(e.acceptedAt),
        STATUS_WORDS[e.status] ?? e.status,
        r.proof
          ? [
              `叶 leaf ${r.proof.index} / ${r.proof.size}`,
              r.proof.block !== undefined ? `区块 block ${r.proof.block}` : '',
              r.proof.txId ? `tx ${r.proof.txId.slice(0, 16)}…` : '',
              r.proof.timestamped ? 'RFC 3161 ✓' : '',
            ]
              .filter(Boolean)
              .join('\n')
          : '尚未封存 not sealed yet',
        assuranceKey(r.assurance),
      ];
    }),
  });

  blocks.push({ kind: 'heading', text: '三、规则预警 Flags' });
  if (input.flags.length === 0) {
    blocks.push({ kind: 'paragraph', text: '无预警。No flags.' });
  } else {
    blocks.push({
      kind: 'table',
      columns: [
        { title: '规则 Rule', width: 2.2 },
        { title: '记录 Record', width: 1.2 },
        { title: '依据记录 Rests on', width: 1.6 },
        { title: '时间 Raised', width: 1.6 },
        { title: '处理 Resolved', width: 1.4 },
        { title: '事实 Facts', width: 2.4 },
      ],
      rows: input.flags.map((f) => [
        [f.code, f.rule].filter(Boolean).join('\n'),
        f.recordId,
        f.refs?.join('\n') ?? (input.privileged ? '—' : '（受限 restricted）'),
        day(f.raisedAt),
        f.resolvedBy ? `${f.resolvedBy}\n${day(f.resolvedAt)}` : '未处理 open',
        f.detail
          ? Object.entries(f.detail)
              .map(([k, v]) => `${k}: ${v}`)
              .join('\n')
          : '—',
      ]),
    });
  }

  blocks.push({ kind: 'heading', text: '四、证据保障程度 Assurance' });
  const seen = new Map<string, Assurance>();
  for (const r of input.records) seen.set(assuranceKey(r.assurance), r.assurance);
  blocks.push({
    kind: 'fields',
    rows: [...seen].map(([key, a]) => [
      key,
      `账本 Ledger: ${ledgerWords(a.ledger)}\n锚定 Anchoring: ${anchorWords(a.anchoring)}\n时间 Time: ${timeWords(a.time)}\n` +
        // Per group only whether the witnesses' quorum was met; who and when is on each certificate.
        `见证 Witnesses: ${WITNESS_LEVEL[a.witnesses.level]} · ${a.onChain ? '可称“上链” may be called on chain' : '不可称“上链” not “on chain”'}`,
    ]),
  });
  blocks.push({
    kind: 'paragraph',
    size: 9,
    text:
      '每条记录的证明包可在 GET /v1/evidence/{id} 取得，并用 lianzheng verify 离线核验；本报告的电子签名（PAdES，附 RFC 3161 时间戳）可用 pdfsig 或 Adobe Reader 核验。\n' +
      "Each record's proof bundle is at GET /v1/evidence/{id} and checks offline with `lianzheng verify`; " +
      "this report's signature (PAdES with an RFC 3161 time-stamp) checks with pdfsig or Adobe Reader.",
  });

  blocks.push({ kind: 'heading', text: '五、报告 About this report' });
  blocks.push({
    kind: 'fields',
    rows: [
      ['生成时间 Generated', day(input.generatedAt.toISOString())],
      ['生成对象 Generated for', input.generatedFor],
      ['受限内容 Restricted details', input.privileged ? '含 included' : '不含 not included'],
      ...(input.gatewayOrigin ? ([['网关 Gateway', input.gatewayOrigin]] as [string, string][]) : []),
    ],
  });

  return {
    title: '项目审计报告 Project Audit Report',
    subtitle: `${p.name} · ${p.id}`,
    info: {
      title: `项目审计报告 ${p.id}`,
      subject: `LianZheng project audit report for ${p.id}`,
      keywords: `LianZheng, 链证, audit, ${p.id}`,
    },
    blocks,
    footer: `链证 LianZheng · ${p.id} · ${input.generatedAt.toISOString()}`,
    createdAt: input.generatedAt,
  };
}
