// `lianzheng package ID --out FILE.zip` (fetch a record's evidence package) and
// `lianzheng verify-package FILE.zip [--trust trust.json] [--file DOC] [--json]` (check one with
// no network at all: everything it needs is in the package and the files named).
import fs from 'node:fs/promises';
import https from 'node:https';
import { parseArgs } from 'node:util';
import { verifyEvidencePackage } from '../evidence-package/verify.ts';
import { ZIP_LIMITS } from '../evidence-package/zip.ts';
import { CliError, EXIT, type Out } from './common.ts';

export const PACKAGE_HELP = `  lianzheng package ID --out FILE.zip [--gateway URL] [--token JWT | --api-key KEY] [--cacert F]
      Save a record's evidence package (GET /v1/evidence/{id}/package): the signed certificate
      PDF (存证证书), the proof bundle, a C2SP tlog-proof, keys and certificates, every RFC 3161
      token, the ledger's evidence, the 验证意见书 (verification-report.html) and a signed
      manifest with the SHA-256 and SM3 of every file. Restricted details are in it only with
      the credentials of someone who may read them. docs/evidence-package.md.
  lianzheng verify-package FILE.zip [--trust trust.json] [--file DOCUMENT] [--json]
      Check a package offline (no network): the manifest's signature, time-stamp and every
      file's SHA-256 and SM3 (a changed byte is refused, naming the file), the bundle (leaf,
      inclusion, checkpoint, receipt, ledger, time-stamp), the tlog-proof, the certificate PDF's
      signature and every token. --trust pins the keys and the root (without it the package's
      own are used, and it says so); --file compares the document with the record. Exit 0
      verified, 1 refused, 2 usage, 7 the package's keys are not the pinned ones.`;

export async function cmdPackage(
  args: string[],
  env: Record<string, string | undefined>,
  out: Out,
  gatewayUrl: (value: string | undefined, env: Record<string, string | undefined>) => string,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      gateway: { type: 'string' },
      token: { type: 'string' },
      'api-key': { type: 'string' },
      cacert: { type: 'string' },
    },
  });
  const id = positionals[0];
  if (!id || positionals.length > 1 || !values.out) {
    throw new CliError(
      EXIT.USAGE,
      'usage: lianzheng package ID --out FILE.zip [--gateway URL] [credentials]',
    );
  }
  const headers: Record<string, string> = { accept: 'application/zip, application/problem+json' };
  if (values['api-key']) headers['x-api-key'] = values['api-key'];
  else if (values.token) headers.authorization = `Bearer ${values.token}`;
  const url = `${gatewayUrl(values.gateway, env)}/v1/evidence/${encodeURIComponent(id)}/package`;
  const ca = values.cacert ? await fs.readFile(values.cacert).catch(() => undefined) : undefined;
  if (values.cacert && !ca) throw new CliError(EXIT.USAGE, `cannot read --cacert ${values.cacert}`);
  let res: { status: number; body: Buffer };
  try {
    res = ca ? await httpsBytes(url, headers, ca) : await fetchBytes(url, headers);
  } catch (e) {
    throw new CliError(EXIT.NETWORK, `cannot reach ${url}: ${(e as Error).message}`);
  }
  if (res.status >= 500)
    throw new CliError(EXIT.NETWORK, `${url} answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
  if (res.status >= 400) {
    let p: { code?: string; detail?: string } = {};
    try {
      p = JSON.parse(res.body.toString('utf8'));
    } catch {
      // not problem+json
    }
    throw new CliError(
      EXIT.REFUSED,
      `refused (${res.status} ${p.code ?? ''}): ${p.detail ?? res.body.toString().slice(0, 300)}`,
    );
  }
  await fs.writeFile(values.out, res.body);
  out.log(
    `saved ${values.out} (${res.body.length} bytes); check it offline with: lianzheng verify-package ${values.out} --trust trust.json`,
  );
  return EXIT.OK;
}

async function fetchBytes(url: string, headers: Record<string, string>) {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

function httpsBytes(
  url: string,
  headers: Record<string, string>,
  ca: Buffer,
): Promise<{ status: number; body: Buffer }> {
  if (!url.startsWith('https://')) return Promise.reject(new Error('--cacert needs an https:// gateway'));
  return new Promise((resolve, reject) => {
    const req = https.request(url, { headers, ca, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', reject);
    req.end();
  });
}

const MARK = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP', warn: 'NOTE' } as const;

export async function cmdVerifyPackage(args: string[], out: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      trust: { type: 'string' },
      file: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const zipPath = positionals[0];
  if (!zipPath || positionals.length > 1) {
    throw new CliError(
      EXIT.USAGE,
      'usage: lianzheng verify-package FILE.zip [--trust trust.json] [--file DOCUMENT] [--json]',
    );
  }
  const read = async (flag: string, file: string) => {
    try {
      return await fs.readFile(file);
    } catch (e) {
      throw new CliError(EXIT.USAGE, `cannot read ${flag} ${file}: ${(e as Error).message}`);
    }
  };
  // Bounded before it is read: a package is ~100 KiB; ZIP_LIMITS bounds what it may inflate to.
  const size = await fs.stat(zipPath).then(
    (st) => st.size,
    () => -1,
  );
  if (size > ZIP_LIMITS.totalBytes) {
    throw new CliError(
      EXIT.USAGE,
      `${zipPath} is ${size} bytes; a package is at most ${ZIP_LIMITS.totalBytes}`,
    );
  }
  const zip = await read('the package', zipPath);
  let trust: unknown;
  if (values.trust) {
    try {
      trust = JSON.parse((await read('--trust', values.trust)).toString('utf8'));
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(EXIT.USAGE, `--trust ${values.trust} is not JSON`);
    }
  }
  const document = values.file ? await read('--file', values.file) : undefined;
  const result = await verifyEvidencePackage(zip, {
    ...(trust !== undefined ? { trust } : {}),
    ...(document ? { document } : {}),
  });
  if (values.json) {
    out.log(JSON.stringify({ ok: result.ok, checks: result.checks }, null, 2));
  } else {
    if (result.manifest) {
      out.log(
        `package of record ${result.manifest.recordId} (project ${result.manifest.projectId}), made ${result.manifest.generatedAt}`,
      );
    }
    for (const c of result.checks) {
      const detail = [c.code, c.detail].filter(Boolean).join(': ');
      out.log(`${MARK[c.status]}  ${c.id}  ${c.en} — ${c.standard}${detail ? `\n      ${detail}` : ''}`);
    }
    const failed = result.checks.filter((c) => c.status === 'fail');
    out.log(
      result.ok
        ? 'PACKAGE VERIFIED'
        : `PACKAGE REFUSED: ${failed.map((c) => `${c.id}${c.code ? ` (${c.code})` : ''}`).join(', ')}`,
    );
  }
  if (result.ok) return EXIT.OK;
  // 7 only when the keys are all that is wrong; a changed file (keys/keys.json among them) is 1.
  const failed = result.checks.filter((c) => c.status === 'fail');
  const onlyKeys = failed.every((c) => c.code === 'KEYS_NOT_PINNED' || c.code === 'ROOT_NOT_PINNED');
  return onlyKeys ? EXIT.TRUST_MISMATCH : EXIT.VERIFICATION_FAILED;
}
