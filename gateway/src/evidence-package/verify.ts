// `lianzheng verify-package`: checks an evidence package with nothing but the package, the
// reader's trust.json (optional) and the document (optional). No network: every key, certificate,
// token and ledger answer it needs is inside, and the manifest's signature and SHA-256/SM3 digests
// make sure none of them changed since the gateway made the package — a changed byte in any
// member is refused with the member's name.
import { createHash, X509Certificate } from 'node:crypto';
import { isObject } from './_util.ts';
import { checkPackageContents, checkToken, MEMBERS, type PackageCheck } from './checks.ts';
import { fileDigests, MANIFEST_FORMAT, type Manifest, verifyManifestSignature } from './manifest.ts';
import { MANIFEST_COMMANDS } from './report.ts';
import { PackageError, readZip } from './zip.ts';

export interface VerifyPackageOptions {
  /** A lianzheng-trust/1 file the reader pinned (GET /v1/trust.json from a channel they trust). */
  trust?: unknown;
  /** The deposited document, to compare its SHA-256 and SM3 with the record. */
  document?: Uint8Array;
}

export interface PackageVerification {
  ok: boolean;
  checks: PackageCheck[];
  manifest?: Manifest;
}

const MANIFEST_MEMBERS = new Set<string>([MEMBERS.manifest, MEMBERS.manifestJws, MEMBERS.manifestToken]);

const fail = (
  id: string,
  zh: string,
  en: string,
  standard: string,
  code: string,
  detail: string,
): PackageCheck => ({
  id,
  zh,
  en,
  standard,
  status: 'fail',
  code,
  detail,
  commands: [],
});

/** PEM certificates in a text, with their SHA-256 fingerprints. */
function certificatesIn(pem: string): { pem: string; sha256: string }[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].flatMap((m) => {
    try {
      return [
        {
          pem: `${m[0]}\n`,
          sha256: createHash('sha256').update(new X509Certificate(m[0]).raw).digest('hex'),
        },
      ];
    } catch {
      return [];
    }
  });
}

/**
 * The roots to trust: with a trust.json, the package's certificates whose fingerprints it pins
 * (tsaRoots); without one, the package's own root (and a warning among the checks).
 */
function trustedRoots(files: Map<string, Buffer>, trust: unknown): { roots: string[]; problem?: string } {
  const inPackage = certificatesIn(
    `${files.get(MEMBERS.root)?.toString('utf8') ?? ''}${files.get(MEMBERS.certificates)?.toString('utf8') ?? ''}`,
  );
  if (trust === undefined)
    return {
      roots: [...new Set(certificatesIn(files.get(MEMBERS.root)?.toString('utf8') ?? '').map((c) => c.pem))],
    };
  const pinned =
    isObject(trust) && Array.isArray(trust.tsaRoots) ? (trust.tsaRoots as unknown[]).map(String) : [];
  const roots = [...new Set(inPackage.filter((c) => pinned.includes(c.sha256)).map((c) => c.pem))];
  if (roots.length === 0)
    return { roots, problem: 'no certificate in the package is a root the trust file pins (tsaRoots)' };
  return { roots };
}

export async function verifyEvidencePackage(
  zip: Buffer,
  options: VerifyPackageOptions = {},
): Promise<PackageVerification> {
  let files: Map<string, Buffer>;
  try {
    files = await readZip(zip);
  } catch (err) {
    const code = err instanceof PackageError ? err.code : 'PACKAGE_MALFORMED';
    return {
      ok: false,
      checks: [
        fail(
          'zip',
          'ZIP 容器',
          'The ZIP container',
          'APPNOTE (PKWARE) ZIP, CRC-32',
          code,
          (err as Error).message,
        ),
      ],
    };
  }
  const checks: PackageCheck[] = [];
  const { roots, problem } = trustedRoots(files, options.trust);
  if (problem)
    checks.push(
      fail('keys.root', '信任根', 'The trusted root', 'lianzheng-trust/1', 'ROOT_NOT_PINNED', problem),
    );

  // The manifest: signed, time-stamped, and naming every other member with its digests.
  const manifestJson = files.get(MEMBERS.manifest);
  let manifest: Manifest | undefined;
  try {
    if (!manifestJson) throw new Error(`${MEMBERS.manifest} is missing`);
    const parsed = JSON.parse(manifestJson.toString('utf8')) as Manifest;
    if (parsed.format !== MANIFEST_FORMAT || !Array.isArray(parsed.files))
      throw new Error(`not a ${MANIFEST_FORMAT} manifest`);
    manifest = parsed;
  } catch (err) {
    checks.push(
      fail('manifest', '清单', 'The manifest', MANIFEST_FORMAT, 'MANIFEST_MALFORMED', (err as Error).message),
    );
  }
  if (manifestJson) {
    const jws = files.get(MEMBERS.manifestJws)?.toString('utf8');
    const sig = jws
      ? verifyManifestSignature(jws, manifestJson, roots)
      : { ok: false, code: 'MANIFEST_JWS_MALFORMED', detail: `${MEMBERS.manifestJws} is missing` };
    checks.push({
      id: 'manifest.signature',
      zh: '清单签名',
      en: 'The manifest is signed by the gateway (manifest.jws)',
      standard: 'RFC 7515 JWS, ES256; X.509 chain to the trusted root',
      status: sig.ok ? 'pass' : 'fail',
      ...(sig.ok
        ? { detail: `signed by ${'signer' in sig ? sig.signer : ''}` }
        : { code: sig.code, detail: sig.detail }),
      commands: MANIFEST_COMMANDS.slice(3),
    });
    const token = files.get(MEMBERS.manifestToken);
    const stamp = token
      ? await checkToken(token, createHash('sha256').update(manifestJson).digest(), roots)
      : { status: 'fail' as const, code: 'MISSING', detail: `${MEMBERS.manifestToken} is missing` };
    checks.push({
      id: 'manifest.timestamp',
      zh: '清单可信时间戳',
      en: 'The manifest is time-stamped (manifest.tst)',
      standard: 'RFC 3161 / RFC 5816',
      status: stamp.status === 'pass' ? 'pass' : 'fail',
      ...(stamp.status === 'pass'
        ? { detail: `genTime ${'genTime' in stamp ? stamp.genTime : ''}` }
        : { code: stamp.code ?? 'TIMESTAMP_FAILED', detail: stamp.detail ?? '' }),
      commands: [
        `openssl ts -verify -data ${MEMBERS.manifest} -in ${MEMBERS.manifestToken} -token_in -CAfile ${MEMBERS.root}`,
      ],
    });
  }
  if (manifest) {
    const listed = new Map(manifest.files.map((f) => [f.path, f]));
    for (const [name, data] of files) {
      if (MANIFEST_MEMBERS.has(name)) continue;
      const entry = listed.get(name);
      if (!entry) {
        checks.push(
          fail(
            `file:${name}`,
            '未列入清单的文件',
            'A file the manifest does not list',
            MANIFEST_FORMAT,
            'FILE_NOT_IN_MANIFEST',
            name,
          ),
        );
        continue;
      }
      const actual = fileDigests(data);
      if (actual.sha256 !== entry.sha256 || actual.sm3 !== entry.sm3 || actual.bytes !== entry.bytes) {
        checks.push(
          fail(
            `file:${name}`,
            '文件已被改动',
            'A file changed since the package was made',
            'FIPS 180-4 SHA-256; GB/T 32905-2016 SM3',
            'FILE_DIGEST_MISMATCH',
            `${name}: SHA-256 ${actual.sha256}, the manifest says ${entry.sha256}`,
          ),
        );
      }
    }
    for (const path of listed.keys()) {
      if (!files.has(path)) {
        checks.push(
          fail(`file:${path}`, '缺少文件', 'A listed file is missing', MANIFEST_FORMAT, 'FILE_MISSING', path),
        );
      }
    }
    if (!checks.some((c) => c.id.startsWith('file:'))) {
      checks.push({
        id: 'manifest.files',
        zh: '所有文件与清单摘要一致',
        en: 'Every file matches its SHA-256 and SM3 in the manifest',
        standard: 'FIPS 180-4 SHA-256; GB/T 32905-2016 SM3',
        status: 'pass',
        detail: `${manifest.files.length} files`,
        commands: MANIFEST_COMMANDS.slice(0, 2),
      });
    }
  }

  checks.push(...(await checkPackageContents(files, { roots, ...options })));
  return { ok: !checks.some((c) => c.status === 'fail'), checks, ...(manifest ? { manifest } : {}) };
}
