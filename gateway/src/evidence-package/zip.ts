// The package's container: a plain ZIP written with yazl and read back with yauzl. Reading is
// defensive because `lianzheng verify-package` opens files strangers send: names are checked
// (no absolute paths, no `..`, no backslashes, no duplicates), sizes and counts are bounded before
// anything is inflated, and yauzl checks each entry's CRC-32 and declared size as it inflates.
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import yazl from 'yazl';

export class PackageError extends Error {
  constructor(
    readonly code: 'PACKAGE_MALFORMED' | 'PACKAGE_TOO_LARGE',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'PackageError';
  }
}

export const ZIP_LIMITS = {
  entries: 200,
  entryBytes: 64 * 1024 * 1024,
  totalBytes: 256 * 1024 * 1024,
} as const;

export interface ZipMember {
  name: string;
  data: Buffer;
}

/** Members in the given order, deflated, dated `mtime` (the package's generated time). */
export function writeZip(members: readonly ZipMember[], mtime: Date): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const m of members) zip.addBuffer(m.data, m.name, { mtime, mode: 0o100644 });
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

const SAFE_NAME = /^(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+$/;

/** Every member of a ZIP, by name. Throws PackageError for anything odd. */
export async function readZip(buffer: Buffer): Promise<Map<string, Buffer>> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(buffer, {
      lazyEntries: true,
      validateEntrySizes: true,
      strictFileNames: true,
    });
  } catch (err) {
    throw new PackageError('PACKAGE_MALFORMED', `not a ZIP file: ${(err as Error).message}`);
  }
  if (zip.entryCount > ZIP_LIMITS.entries) {
    zip.close();
    throw new PackageError('PACKAGE_TOO_LARGE', `${zip.entryCount} entries (at most ${ZIP_LIMITS.entries})`);
  }
  const out = new Map<string, Buffer>();
  let total = 0;
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      zip.close();
      reject(err instanceof PackageError ? err : new PackageError('PACKAGE_MALFORMED', err.message));
    };
    zip.on('error', fail);
    zip.on('end', () => resolve(out));
    zip.on('entry', (entry: yauzl.Entry) => {
      const name = entry.fileName;
      if (name.endsWith('/')) return zip.readEntry(); // a directory entry carries nothing
      if (!SAFE_NAME.test(name) || name.split('/').some((part) => part === '..' || part === '.')) {
        return fail(new PackageError('PACKAGE_MALFORMED', `unsafe member name ${JSON.stringify(name)}`));
      }
      if (out.has(name)) return fail(new PackageError('PACKAGE_MALFORMED', `member ${name} appears twice`));
      if (entry.uncompressedSize > ZIP_LIMITS.entryBytes) {
        return fail(new PackageError('PACKAGE_TOO_LARGE', `${name}: ${entry.uncompressedSize} bytes`));
      }
      total += entry.uncompressedSize;
      if (total > ZIP_LIMITS.totalBytes) {
        return fail(
          new PackageError('PACKAGE_TOO_LARGE', `more than ${ZIP_LIMITS.totalBytes} bytes inflated`),
        );
      }
      zip.openReadStream(entry, (err, stream) => {
        if (err || !stream) return fail(new PackageError('PACKAGE_MALFORMED', `${name}: ${err?.message}`));
        const chunks: Buffer[] = [];
        (stream as Readable)
          .on('data', (c: Buffer) => chunks.push(c))
          // yauzl reports a CRC-32 or size mismatch here: a member changed inside the ZIP.
          .on('error', (e: Error) => fail(new PackageError('PACKAGE_MALFORMED', `${name}: ${e.message}`)))
          .on('end', () => {
            out.set(name, Buffer.concat(chunks));
            zip.readEntry();
          });
      });
    });
    zip.readEntry();
  });
}
