// RFC 3161: tokens per second from the TSA core and from POST /tsa, beside the raw node:crypto
// signature rate of the same key measured in the same run; forge's pure-JS RSA beside node:crypto
// RSA (why the signature is computed with node:crypto); the browser-safe verifier beside
// node:crypto's verify.
import { createHash, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import Fastify from 'fastify';
import forge from 'node-forge';
import tsaPlugin, { TIMESTAMP_QUERY } from '../../gateway/src/routes/tsa/index.ts';
import { toPem } from '../../gateway/src/tsa/certificate.ts';
import {
  createClockSerial,
  createTimeStampSigner,
  createTimestampToken,
} from '../../gateway/src/tsa/index.ts';
import { createRootCa, issueCertificate } from '../../gateway/src/tsa/pki.ts';
import { verifyTimestampToken } from '../../proof/src/timestamp/index.ts';
import { type BenchContext, type BenchResult, compare, measureRate } from './harness.ts';

// A SHA-256 TimeStampReq with a nonce and certReq, as `openssl ts -query -sha256 -cert` makes it.
function query(imprint: Uint8Array): Buffer {
  const head = Buffer.from('3043020101303130 0d06096086480165030402010500 0420'.replace(/\s/g, ''), 'hex');
  const tail = Buffer.from('0208 0102030405060708 0101ff'.replace(/\s/g, ''), 'hex');
  return Buffer.concat([head, imprint, tail]);
}

const GRANTED_STATUS = Buffer.from('3003020100', 'hex');

async function keyRun(ctx: BenchContext, label: string, privateKey: KeyObject, publicKey: KeyObject) {
  const ca = createRootCa();
  const certificate = issueCertificate(ca, 'tsa', { commonName: 'bench TSA' }, publicKey);
  const signer = createTimeStampSigner({ privateKey, certificate, nextSerial: createClockSerial() });
  // About the size of the signed attributes the TSA signs.
  const message = Buffer.alloc(190, 7);

  const measureSign = () =>
    measureRate(ctx, () => {
      for (let i = 0; i < 20; i++) sign('sha256', message, privateKey);
      return 20;
    });
  // Measured before and after the TSA runs; the higher figure is the baseline, so a burst of load
  // from elsewhere on the machine cannot flatter the ratio.
  const rawBefore = await measureSign();

  const imprint = createHash('sha256').update(label).digest();
  const core = await measureRate(ctx, async () => {
    for (let i = 0; i < 20; i++) await signer.timestamp(imprint);
    return 20;
  });

  const app = Fastify({ logger: false });
  await app.register(tsaPlugin, { signer, rateLimit: false });
  await app.ready();
  const body = query(imprint);
  const CONCURRENCY = 16;
  const route = await measureRate(ctx, async () => {
    const replies = await Promise.all(
      Array.from({ length: CONCURRENCY }, () =>
        app.inject({
          method: 'POST',
          url: '/tsa',
          headers: { 'content-type': TIMESTAMP_QUERY },
          payload: body,
        }),
      ),
    );
    // A granted TimeStampResp: SEQUENCE (long form) { SEQUENCE { INTEGER 0 } ... }
    const granted = (r: { statusCode: number; rawPayload: Buffer }) =>
      r.statusCode === 200 && r.rawPayload.subarray(4, 9).equals(GRANTED_STATUS);
    if (!replies.every(granted)) throw new Error('TSA bench: a reply was not granted');
    return CONCURRENCY;
  });
  await app.close();
  const rawSign = Math.max(rawBefore, await measureSign());
  const baseline = { name: `node:crypto sign, ${label}`, value: rawSign, unit: 'signatures/s' };

  const rootPem = toPem(ca.certificate);
  const token = await createTimestampToken(signer, imprint);
  const verifyRate = await measureRate(ctx, async () => {
    for (let i = 0; i < 10; i++) {
      const r = await verifyTimestampToken(token, imprint, [rootPem]);
      if (r.status !== 'pass') throw new Error(`TSA bench: ${r.code}`);
    }
    return 10;
  });
  const signature = sign('sha256', message, privateKey);
  const rawVerify = await measureRate(ctx, () => {
    for (let i = 0; i < 20; i++) verify('sha256', message, publicKey, signature);
    return 20;
  });

  return [
    compare({ name: `TSA core timestamp(), ${label}`, value: core, unit: 'tokens/s' }, baseline),
    compare(
      {
        name: `POST /tsa via inject (${CONCURRENCY} in flight), ${label}`,
        value: route,
        unit: 'tokens/s',
      },
      baseline,
    ),
    compare(
      { name: `verifyTimestampToken (WebCrypto, chain of 2), ${label}`, value: verifyRate, unit: 'tokens/s' },
      { name: `node:crypto verify, ${label}`, value: rawVerify, unit: 'verifications/s' },
    ),
  ] satisfies BenchResult[];
}

async function forgeRsa(ctx: BenchContext, privateKey: KeyObject): Promise<BenchResult> {
  const message = Buffer.alloc(190, 7);
  const nodeRate = await measureRate(ctx, () => {
    for (let i = 0; i < 10; i++) sign('sha256', message, privateKey);
    return 10;
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  const forgeRate = await measureRate(ctx, () => {
    const md = forge.md.sha256.create();
    md.update(message.toString('binary'));
    forgeKey.sign(md);
    return 1;
  });
  return compare(
    { name: 'forge pure-JS sign, RSA-2048', value: forgeRate, unit: 'signatures/s' },
    { name: 'node:crypto sign, RSA-2048', value: nodeRate, unit: 'signatures/s' },
  );
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const results: BenchResult[] = [];
  ctx.log('tsa: ECDSA P-256');
  results.push(...(await keyRun(ctx, 'ECDSA P-256', ec.privateKey, ec.publicKey)));
  ctx.log('tsa: RSA-2048');
  results.push(...(await keyRun(ctx, 'RSA-2048', rsa.privateKey, rsa.publicKey)));
  ctx.log('tsa: forge RSA');
  results.push(await forgeRsa(ctx, rsa.privateKey));
  return results;
}
