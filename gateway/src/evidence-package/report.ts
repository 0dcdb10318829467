// verification-report.html — the 验证意见书 (GB/T 39321-2020's verification opinion): each check
// the gateway ran on the package when it made it, its result, the standard it follows, and the
// commands that repeat it with outside tools. Static HTML, no script, no outside resources, so it
// opens the same way in any browser years from now; it is listed in the signed manifest like
// every other member.
import type { DocumentSpec } from '../documents/render.ts';
import { MEMBERS, type PackageCheck } from './checks.ts';

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STATUS: Record<PackageCheck['status'], string> = {
  pass: '通过 pass',
  fail: '未通过 FAIL',
  skipped: '未检查 not checked',
  warn: '提示 note',
};

/**
 * The manifest's checks with outside tools, run in the unpacked folder: every file's SHA-256 (exit 1
 * naming the changed ones), an SM3 by openssl, the manifest's time-stamp, and its JWS signature by
 * the certificate in x5c (Python's `cryptography`; the chain to the root: openssl verify).
 */
export const MANIFEST_COMMANDS = [
  `python3 -c "import json,hashlib; m=json.load(open('${MEMBERS.manifest}')); bad=[f['path'] for f in m['files'] if hashlib.sha256(open(f['path'],'rb').read()).hexdigest()!=f['sha256']]; print('changed:', bad or 'none'); exit(1 if bad else 0)"`,
  `openssl dgst -sm3 ${MEMBERS.certificate}   # compare with its sm3 in ${MEMBERS.manifest}`,
  `openssl ts -verify -data ${MEMBERS.manifest} -in ${MEMBERS.manifestToken} -token_in -CAfile ${MEMBERS.root}`,
  `python3 -c "import base64,json;from cryptography import x509;from cryptography.hazmat.primitives import hashes,serialization;from cryptography.hazmat.primitives.asymmetric import ec,utils; h,p,s=open('${MEMBERS.manifestJws}').read().strip().split('.'); d=lambda x: base64.urlsafe_b64decode(x+'='*(-len(x)%4)); c=x509.load_der_x509_certificate(base64.b64decode(json.loads(d(h))['x5c'][0])); r=d(s); c.public_key().verify(utils.encode_dss_signature(int.from_bytes(r[:32],'big'),int.from_bytes(r[32:],'big')),(h+'.'+p).encode(),ec.ECDSA(hashes.SHA256())); assert d(p)==open('${MEMBERS.manifest}','rb').read(); open('manifest-signer.pem','wb').write(c.public_bytes(serialization.Encoding.PEM)); print('manifest.jws OK, signed by', c.subject.rfc4514_string())"`,
  `openssl verify -CAfile ${MEMBERS.root} manifest-signer.pem`,
];

export interface ReportContext {
  recordId: string;
  projectId: string;
  generatedAt: Date;
  gatewayOrigin?: string;
  restrictedDetails: boolean;
}

export function verificationReportHtml(checks: readonly PackageCheck[], ctx: ReportContext): string {
  const failed = checks.filter((c) => c.status === 'fail');
  const verdict = failed.length
    ? `<p class="fail">未通过 ${failed.length} 项检查 — ${failed.length} check(s) failed: ${esc(failed.map((c) => c.id).join(', '))}</p>`
    : '<p class="pass">所有已执行的检查均通过。All checks that were run passed.</p>';
  const rows = checks
    .map(
      (c) => `<tr class="${c.status}">
  <td><b>${esc(c.zh)}</b><br>${esc(c.en)}<br><code>${esc(c.id)}</code></td>
  <td>${esc(STATUS[c.status])}${c.code ? `<br><code>${esc(c.code)}</code>` : ''}${c.detail ? `<br><small>${esc(c.detail)}</small>` : ''}</td>
  <td>${esc(c.standard)}</td>
  <td>${c.commands.map((cmd) => `<pre>${esc(cmd)}</pre>`).join('')}</td>
</tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>验证意见书 Verification report — ${esc(ctx.recordId)}</title>
<style>
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:2rem;color:#1f2933;max-width:72rem}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #cbd2d9;padding:.4rem;vertical-align:top;text-align:left}
th{background:#eef2f6}pre{white-space:pre-wrap;word-break:break-all;background:#f5f7fa;padding:.3rem;margin:.2rem 0;font-size:.8rem}
tr.fail td{background:#fde8e8}.fail{color:#9b2c2c;font-weight:bold}.pass{color:#276749;font-weight:bold}code{font-size:.85rem}
</style>
</head>
<body>
<h1>电子数据验证意见书<br><small>Verification report of an evidence package</small></h1>
<table>
<tr><th>存证记录 Record</th><td><code>${esc(ctx.recordId)}</code></td></tr>
<tr><th>项目 Project</th><td><code>${esc(ctx.projectId)}</code></td></tr>
<tr><th>生成时间 Generated</th><td>${esc(ctx.generatedAt.toISOString())}</td></tr>
${ctx.gatewayOrigin ? `<tr><th>网关 Gateway</th><td>${esc(ctx.gatewayOrigin)}</td></tr>` : ''}
<tr><th>受限内容 Restricted details</th><td>${ctx.restrictedDetails ? '含 included' : '不含 not included'}</td></tr>
</table>
<h2>结论 Result</h2>
${verdict}
<p>以下检查由生成本证据包的网关执行；任何人可用 <code>lianzheng verify-package</code> 离线重做（不访问网络），或用每行所列的 openssl、python、pdfsig 命令逐项重做（在解压后的目录中运行）。<br>
The gateway that made this package ran the checks below; anyone can repeat them offline with <code>lianzheng verify-package</code> (no network), or one by one with the openssl, python and pdfsig commands on each row (run in the unpacked folder).</p>
<table>
<tr><th>检查 Check</th><th>结果 Result</th><th>依据标准 Standard</th><th>重复检查的命令 Commands to repeat it</th></tr>
${rows}
<tr>
  <td><b>清单与完整性</b><br>The manifest: every file's SHA-256 and SM3, signed and time-stamped<br><code>manifest</code></td>
  <td>由 verify-package 检查 checked by verify-package</td>
  <td>FIPS 180-4 SHA-256; GB/T 32905-2016 SM3; RFC 7515 JWS (ES256, x5c); RFC 3161</td>
  <td>${MANIFEST_COMMANDS.map((cmd) => `<pre>${esc(cmd)}</pre>`).join('')}</td>
</tr>
</table>
<p><small>本意见书说明技术核验的结果，不对电子数据内容的真实性、合法性作出判断。This report states the result of technical checks; it makes no finding on whether the data's content is true or lawful.</small></p>
</body>
</html>
`;
}

/**
 * verification-report.pdf: the same opinion as a signed PDF (PAdES B-T, like the certificate), for
 * a court file that takes PDFs. The commands are printed after the table, one per check.
 */
export function verificationReportSpec(checks: readonly PackageCheck[], ctx: ReportContext): DocumentSpec {
  const failed = checks.filter((c) => c.status === 'fail');
  return {
    title: '电子数据验证意见书',
    subtitle: 'Verification report of an evidence package · 链证 LianZheng',
    info: {
      title: `验证意见书 ${ctx.recordId}`,
      subject: `LianZheng verification report for record ${ctx.recordId}`,
      keywords: `LianZheng, 链证, 验证意见书, ${ctx.recordId}`,
    },
    createdAt: ctx.generatedAt,
    footer: `链证 LianZheng · ${ctx.recordId} · ${ctx.generatedAt.toISOString()}`,
    blocks: [
      {
        kind: 'fields',
        rows: [
          ['存证记录 Record', ctx.recordId],
          ['项目 Project', ctx.projectId],
          ['生成时间 Generated', ctx.generatedAt.toISOString()],
          ...(ctx.gatewayOrigin ? ([['网关 Gateway', ctx.gatewayOrigin]] as [string, string][]) : []),
          ['受限内容 Restricted details', ctx.restrictedDetails ? '含 included' : '不含 not included'],
        ],
      },
      { kind: 'heading', text: '结论 Result' },
      {
        kind: 'paragraph',
        color: failed.length ? '#9b2c2c' : '#276749',
        text: failed.length
          ? `未通过 ${failed.length} 项检查 — ${failed.length} check(s) failed: ${failed.map((c) => c.id).join(', ')}`
          : '所有已执行的检查均通过。All checks that were run passed.',
      },
      {
        kind: 'paragraph',
        size: 9,
        text:
          '以下检查由生成本证据包的网关执行；任何人可用 lianzheng verify-package 离线重做，或用所列命令逐项重做（在解压后的目录中运行）。清单（manifest.json）的签名与各文件摘要由 verify-package 检查。\n' +
          'The gateway that made this package ran the checks below; anyone can repeat them offline with `lianzheng verify-package`, ' +
          "or one by one with the commands listed (in the unpacked folder). The manifest's signature and every file's digests are checked by verify-package.",
      },
      { kind: 'heading', text: '检查 Checks' },
      {
        kind: 'table',
        columns: [
          { title: '检查 Check', width: 3 },
          { title: '结果 Result', width: 2 },
          { title: '依据标准 Standard', width: 2.4 },
        ],
        rows: checks.map((c) => [
          `${c.zh}\n${c.en}\n${c.id}`,
          [STATUS[c.status], c.code, c.detail].filter(Boolean).join('\n'),
          c.standard,
        ]),
      },
      { kind: 'heading', text: '重复检查的命令 Commands to repeat the checks' },
      ...checks
        .filter((c) => c.commands.length > 0)
        .map((c) => ({ kind: 'paragraph' as const, size: 7.5, text: `${c.id}:\n${c.commands.join('\n')}` })),
      {
        kind: 'paragraph',
        size: 8.5,
        color: '#52606d',
        text:
          '本意见书说明技术核验的结果，不对电子数据内容的真实性、合法性作出判断。\n' +
          "This report states the result of technical checks; it makes no finding on whether the data's content is true or lawful.",
      },
    ],
  };
}
