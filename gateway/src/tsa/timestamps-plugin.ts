import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createTimestampToken } from './checkpoint-token.ts';
import { localPkiOptions } from './local-pki.ts';
import {
  initPki,
  loadLocalSm2TimeStampSigner,
  loadLocalTimeStampSigner,
  loadTimeStampSignerFromFiles,
  pkiPaths,
  writePublishedCertificates,
} from './pki.ts';
import { createPgSerial } from './serial.ts';
import { routeByImprint, type TimeStampSigner } from './signer.ts';

/** What the rest of the gateway sees of trusted time. */
export interface Timestamps {
  signer: TimeStampSigner;
  /** PEM certificates a verifier trusts for the bundle's `timestamp` step. */
  roots: string[];
  /**
   * SHA-256 (hex, of the DER) of the gateway's own local PKI root, when it has one: GET /v1/keys
   * publishes it as `operatorRoots`, so a verifier can tell a TSA this gateway certified itself
   * (its own clock, in effect) from an outside one.
   */
  operatorRoots: string[];
  /** A token over a checkpoint root (DER). */
  tokenFor(rootHash: Uint8Array): Promise<Uint8Array>;
  /** The PKI's certificates as published at /.well-known/lianzheng/certs.pem (routes/tsa). */
  certificatesPem(): Promise<string>;
}

declare module 'fastify' {
  interface FastifyInstance {
    timestamps?: Timestamps;
  }
}

/** The SHA-256 of the local PKI root's DER, if the root exists. */
async function localRootFingerprints(dir: string): Promise<string[]> {
  let pem: string;
  try {
    pem = await fs.readFile(pkiPaths(dir).rootCert, 'utf8');
  } catch {
    return [];
  }
  try {
    return [createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')];
  } catch {
    return [];
  }
}

/**
 * Sets up the gateway's time-stamp authority: the local PKI under DATA_DIR/pki (created on first
 * start, certifying the receipt and checkpoint keys too) or the TSA files an external CA issued,
 * serial numbers from PostgreSQL, and `app.timestamps` for the batcher, the bundles and the routes
 * (`POST /tsa` and the certificates, routes/tsa).
 */
async function timestampsPlugin(app: FastifyInstance): Promise<void> {
  const { tsa } = app.config;
  const dir = path.join(app.config.dataDir, 'pki');
  const nextSerial = createPgSerial(app.db);
  let signer: TimeStampSigner;
  let roots: string[];
  let certificatesPem: () => Promise<string>;
  if (tsa.keyFile && tsa.certFile) {
    signer = await loadTimeStampSignerFromFiles({
      keyPath: tsa.keyFile,
      certPath: tsa.certFile,
      chainPaths: tsa.chainFiles,
      nextSerial,
      ...(tsa.policyOid ? { policyOid: tsa.policyOid } : {}),
    });
    // An outside SM2 TSA beside it answers SM3 imprints (GM/T 0033); config.ts requires one under gm.
    if (tsa.sm2) {
      const sm2 = await loadTimeStampSignerFromFiles({
        keyPath: tsa.sm2.keyFile,
        certPath: tsa.sm2.certFile,
        chainPaths: tsa.sm2.chainFiles,
        nextSerial,
        ...(tsa.policyOid ? { policyOid: tsa.policyOid } : {}),
      });
      signer = routeByImprint(signer, sm2);
    }
    roots =
      tsa.rootFiles.length > 0 ? await Promise.all(tsa.rootFiles.map((f) => fs.readFile(f, 'utf8'))) : [];
    const certificateFiles = [
      tsa.certFile,
      ...tsa.chainFiles,
      ...(tsa.sm2 ? [tsa.sm2.certFile, ...tsa.sm2.chainFiles] : []),
    ];
    const published = (await Promise.all(certificateFiles.map((f) => fs.readFile(f, 'utf8')))).join('');
    certificatesPem = async () => roots.join('') + published;
  } else {
    // The receipt and checkpoint keys, and under dual and gm the SM2 TSA, the SM2 key and every
    // SM2 key made by rotation: certified at each start (local-pki.ts), so none is left out.
    await initPki(localPkiOptions(app.config, app.keys));
    const paths = pkiPaths(dir);
    await writePublishedCertificates(dir);
    const signerOptions = { nextSerial, ...(tsa.policyOid ? { policyOid: tsa.policyOid } : {}) };
    signer = await loadLocalTimeStampSigner(dir, signerOptions);
    if (app.config.cryptoSuite !== 'intl') {
      signer = routeByImprint(signer, await loadLocalSm2TimeStampSigner(dir, signerOptions));
    }
    roots = [await fs.readFile(paths.rootCert, 'utf8')];
    certificatesPem = () => fs.readFile(paths.published, 'utf8');
  }
  app.decorate('timestamps', {
    signer,
    roots,
    operatorRoots: await localRootFingerprints(dir),
    // Under gm the checkpoint's time-stamp is GM/T 0033 (an SM3 imprint, the SM2 TSA); otherwise
    // RFC 3161 over SHA-256 (the root itself is that imprint).
    tokenFor: (rootHash: Uint8Array) =>
      createTimestampToken(signer, rootHash, app.config.cryptoSuite === 'gm' ? 'sm3' : 'sha256'),
    certificatesPem,
  } satisfies Timestamps);
}

export default fp(timestampsPlugin, {
  name: 'timestamps',
  dependencies: ['config', 'db', 'keys'],
  fastify: '5.x',
});
