// certificate.pdf — the 存证证书 of one record, in Chinese with English: what was deposited (the
// document's digests, never the document), by whom, when, where its proof stands (log, ledger,
// anchor, trusted time) and what that is worth (assurance), and how to check it without us. It
// says plainly what it does not prove: the truth of the document's content.
import type { Assurance, ProofBundle, Standing } from '@lianzheng/proof';
import type { DocumentSpec } from '../documents/render.ts';
import {
  anchorWords,
  type DocumentNames,
  ledgerWords,
  named,
  STATUS_WORDS,
  timeWords,
  witnessWords,
} from '../documents/words.ts';
import type { FlagJson } from '../read/schemas.ts';

export interface CertificateInput {
  bundle: ProofBundle;
  status: string;
  standing: Standing;
  flags: FlagJson[];
  assurance: Assurance;
  projectName?: string;
  /**
   * Display names (GET /v1/projects/{id}): the project's English name, organisations and
   * milestones by id. A reader sees 五星村村民委员会, with the id small beside it for the record.
   */
  names?: DocumentNames;
  /** genTime of the checkpoint's RFC 3161 token, when there is one. */
  checkpointTime?: string;
  generatedAt: Date;
  gatewayOrigin?: string;
}

const when = (iso?: string) => (iso ? iso.replace('T', ' ').replace(/Z$/, ' UTC') : '—');

function standingWords(s: Standing): string {
  switch (s.state) {
    case 'standing':
      return '有效 standing';
    case 'withdrawn':
      return `已撤回 withdrawn by ${s.by}${s.reason ? ` (${s.reason})` : ''}`;
    case 'superseded':
      return `已被取代 superseded by ${s.by}`;
  }
}

export function certificateSpec(input: CertificateInput): DocumentSpec {
  const { bundle, assurance } = input;
  const r = bundle.record;
  const d = bundle.details;
  const cp = bundle.inclusion?.checkpoint.split('\n');
  const rows: [string, string][] = [
    ['证书编号 Certificate no.', r.id],
    [
      '项目 Project',
      named(r.projectId, {
        ...(input.projectName ? { zh: input.projectName } : {}),
        ...(input.names?.projectEn ? { en: input.names.projectEn } : {}),
      }),
    ],
    ['文件类型 Document kind', r.kind],
    ['可见性 Visibility', r.visibility === 'public' ? '公开 public' : '受限 restricted'],
    ['提交单位 Submitted by', named(r.submitter.org, input.names?.organisations?.[r.submitter.org])],
    ['受理时间 Accepted at', when(r.acceptedAt)],
    ['文件摘要 SHA-256', r.digests.sha256],
    ...(r.digests.sm3 ? ([['文件摘要 SM3 (GB/T 32905)', r.digests.sm3]] as [string, string][]) : []),
    ['内容标识 CID', r.cid],
    ...(r.supersedes ? ([['取代 Supersedes', r.supersedes]] as [string, string][]) : []),
    ...(r.refs?.length ? ([['关联记录 Refers to', r.refs.join('\n')]] as [string, string][]) : []),
  ];
  const disclosed: [string, string][] = d
    ? [
        ...(d.title ? ([['标题 Title', d.title]] as [string, string][]) : []),
        ...(d.amount ? ([['金额 Amount (CNY)', d.amount]] as [string, string][]) : []),
        ...(d.milestone
          ? ([['节点 Milestone', named(d.milestone, input.names?.milestones?.[d.milestone])]] as [
              string,
              string,
            ][])
          : []),
        ...(d.result ? ([['结论 Result', d.result]] as [string, string][]) : []),
        ...(d.reason ? ([['理由 Reason', d.reason]] as [string, string][]) : []),
      ]
    : [];
  const proof: [string, string][] = bundle.inclusion
    ? [
        ['日志 Log', cp?.[0] ?? ''],
        ['叶序号 Leaf index', `${bundle.inclusion.index} / ${bundle.inclusion.size}`],
        ['检查点根 Checkpoint root (base64)', cp?.[2] ?? ''],
        ...(bundle.ledger
          ? ([
              [
                '账本交易 Ledger transaction',
                `${bundle.ledger.network} · block ${bundle.ledger.block}\n${bundle.ledger.txId}`,
              ],
            ] as [string, string][])
          : []),
        ...(bundle.timestamp
          ? ([['可信时间 Trusted time (RFC 3161)', when(input.checkpointTime)]] as [string, string][])
          : []),
        ...(bundle.anchor
          ? ([
              [
                '公链锚定 Anchor',
                `${bundle.anchor.chainId} · block ${bundle.anchor.block}\n${bundle.anchor.txHash}`,
              ],
            ] as [string, string][])
          : []),
      ]
    : [['日志 Log', '尚未封存入日志 not yet sealed into the log']];

  return {
    title: '电子数据存证证书',
    subtitle: 'Electronic Evidence Deposit Certificate · 链证 LianZheng',
    info: {
      title: `存证证书 ${r.id}`,
      subject: `LianZheng evidence certificate for record ${r.id}`,
      keywords: `LianZheng, 链证, 存证, ${r.id}, ${r.digests.sha256}`,
    },
    createdAt: input.generatedAt,
    footer: `链证 LianZheng · ${r.id} · ${input.generatedAt.toISOString()}`,
    blocks: [
      {
        kind: 'paragraph',
        size: 10,
        text:
          '兹证明下列电子数据（以其摘要表示）已由链证网关受理、签发回执、写入可验证日志并记入账本，情况如下。\n' +
          'This certifies that the electronic data below (identified by its digests) was accepted by the LianZheng gateway, ' +
          'receipted, written to a verifiable log and recorded on a ledger, as follows.',
      },
      { kind: 'heading', text: '一、存证记录 The record' },
      { kind: 'fields', rows },
      ...(disclosed.length
        ? [
            { kind: 'heading' as const, text: '二、披露事项 Disclosed details' },
            { kind: 'fields' as const, rows: disclosed },
          ]
        : []),
      { kind: 'heading', text: '三、状态 Status' },
      {
        kind: 'fields',
        rows: [
          ['处理状态 Status', STATUS_WORDS[input.status] ?? input.status],
          ['效力 Standing', standingWords(input.standing)],
          ['规则预警 Flags', input.flags.length ? input.flags.map((f) => f.code).join('\n') : '无 none'],
        ],
      },
      { kind: 'heading', text: '四、证明 Proof' },
      { kind: 'fields', rows: proof },
      { kind: 'heading', text: '五、保障程度 What the evidence is worth' },
      {
        kind: 'fields',
        rows: [
          ['账本 Ledger', ledgerWords(assurance.ledger)],
          ['锚定 Anchoring', anchorWords(assurance.anchoring)],
          ['时间 Time', timeWords(assurance.time)],
          ['见证 Witnesses', witnessWords(assurance.witnesses)],
          [
            '“上链” On chain',
            assurance.onChain ? '是 yes' : '否 no — 不得称“已上链” not to be called “on chain”',
          ],
        ],
      },
      { kind: 'heading', text: '六、核验 How to check it' },
      {
        kind: 'paragraph',
        size: 9,
        text:
          '本证书随证据包（ZIP）提供。离线核验：lianzheng verify-package package.zip --trust trust.json；' +
          '本证书的电子签名（PAdES，含 RFC 3161 时间戳）可用 pdfsig、Adobe Reader 或福昕阅读器核验，签名证书链至运营方公布的根证书。' +
          '各项检查、所依标准及用 openssl、python、pdfsig 重复检查的命令见 verification-report.html（验证意见书）。\n' +
          'This certificate comes in an evidence package (ZIP). Offline: `lianzheng verify-package package.zip --trust trust.json`. ' +
          "Its signature (PAdES with an RFC 3161 time-stamp) checks in pdfsig, Adobe Reader or Foxit; the signing certificate chains to the operator's published root. " +
          'Each check, its standard and the commands to repeat it with openssl, python and pdfsig are in verification-report.html.' +
          (input.gatewayOrigin ? `\n${input.gatewayOrigin}/r/${r.id}` : ''),
      },
      {
        kind: 'paragraph',
        size: 8.5,
        color: '#52606d',
        text:
          '说明：本证书证明上述摘要所对应的电子数据在所示时间已存在且此后未被改动，不证明其内容真实、合法。' +
          '受限记录的披露事项仅向有权查看者提供。\n' +
          'Note: this certificate shows that the data with these digests existed at the times shown and has not changed since; ' +
          'it does not show that its content is true or lawful. Restricted details are given only to those entitled to read them.',
      },
      {
        kind: 'fields',
        rows: [['出具时间 Issued', when(input.generatedAt.toISOString())]],
      },
    ],
  };
}
