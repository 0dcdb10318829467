// 国密 (issue #23): what SM2 and SM3 cost beside the international algorithms, in one run.
// 1. Signatures per second: SM2 (proof/: OpenSSL's [k]G in Node, the rest in JavaScript) beside
//    ES256 and Ed25519 (node:crypto), sign and verify, rounds interleaved.
// 2. SM3 throughput: proof/'s JavaScript SM3 (what the page runs) beside OpenSSL's SM3 and SHA-256.
// 3. The gateway as `npm start` runs it, once with CRYPTO_SUITE=intl and once with dual (each on
//    its own fresh database): hash-only POSTs (closed loop, 64 connections) and batches of 1,000,
//    with the gateway's CPU per request and the size of a batch's answer — dual's extra cost is
//    one SM2 signature per group commit (single POSTs and batches alike) and per checkpoint, and
//    each record's detached SM2 receipt (~190 bytes) stored and answered.
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { sm2PublicKey, sm2RandomPrivateKey, sm2Sign, sm2Verify, sm3 } from '@lianzheng/proof';
import { type BenchContext, type BenchResult, compare, measureRates } from './harness.ts';
import { closedLoop, type LoadRequest } from './load/closed-loop.ts';
import { formatLatency } from './load/latencies.ts';
import { watch } from './load/proc-stats.ts';
import { seedBench, startBenchDatabase, startGatewayStack } from './load/stack.ts';
import { batchBody, DigestSource, hashOnlyBody, waitRecorded } from './load/workload.ts';

async function signatures(ctx: BenchContext): Promise<BenchResult[]> {
  // A receipt's signing input is a few hundred bytes of base64url.
  const message = Buffer.from(`eyJhbGciOiJTTTItd2l0aC1TTTMifQ.${'x'.repeat(400)}`);
  const d = sm2RandomPrivateKey();
  const sm2Pub = sm2PublicKey(d);
  const sm2Sig = sm2Sign(d, message);
  // Eight keys in turn: more than proof's verifier keeps (4), so none gets its table (a verifier
  // meeting a key for the first time, e.g. the page); the single key above gets one after 16.
  const coldKeys = Array.from({ length: 8 }, () => {
    const key = sm2RandomPrivateKey();
    return { pub: sm2PublicKey(key), sig: sm2Sign(key, message) };
  });
  let cold = 0;
  const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const esSig = sign('sha256', message, es.privateKey);
  const ed = generateKeyPairSync('ed25519');
  const edSig = sign(null, message, ed.privateKey);
  const N = 20;
  const rates = await measureRates(ctx, {
    sm2Sign: () => {
      for (let i = 0; i < N; i++) sm2Sign(d, message);
      return N;
    },
    es256Sign: () => {
      for (let i = 0; i < N; i++) sign('sha256', message, es.privateKey);
      return N;
    },
    ed25519Sign: () => {
      for (let i = 0; i < N; i++) sign(null, message, ed.privateKey);
      return N;
    },
    sm2Verify: () => {
      for (let i = 0; i < 4; i++) if (!sm2Verify(sm2Pub, message, sm2Sig)) throw new Error('SM2 verify');
      return 4;
    },
    sm2VerifyCold: () => {
      for (let i = 0; i < 4; i++) {
        const k = coldKeys[cold++ % coldKeys.length]!;
        if (!sm2Verify(k.pub, message, k.sig)) throw new Error('SM2 verify');
      }
      return 4;
    },
    es256Verify: () => {
      for (let i = 0; i < N; i++)
        if (!verify('sha256', message, es.publicKey, esSig)) throw new Error('ES256');
      return N;
    },
    ed25519Verify: () => {
      for (let i = 0; i < N; i++) if (!verify(null, message, ed.publicKey, edSig)) throw new Error('Ed25519');
      return N;
    },
  });
  const es256Sign = { name: 'ES256 sign (node:crypto)', value: rates.es256Sign, unit: 'signatures/s' };
  const es256Verify = {
    name: 'ES256 verify (node:crypto)',
    value: rates.es256Verify,
    unit: 'verifications/s',
  };
  return [
    compare(
      { name: 'SM2 sign (proof/, [k]G by OpenSSL)', value: rates.sm2Sign, unit: 'signatures/s' },
      es256Sign,
    ),
    compare(
      { name: 'Ed25519 sign (node:crypto)', value: rates.ed25519Sign, unit: 'signatures/s' },
      es256Sign,
    ),
    compare(
      {
        name: 'SM2 verify, a key verified often (proof/, its table)',
        value: rates.sm2Verify,
        unit: 'verifications/s',
      },
      es256Verify,
    ),
    compare(
      {
        name: 'SM2 verify, a key seen for the first time (proof/, @noble/curves)',
        value: rates.sm2VerifyCold,
        unit: 'verifications/s',
      },
      es256Verify,
    ),
    compare(
      { name: 'Ed25519 verify (node:crypto)', value: rates.ed25519Verify, unit: 'verifications/s' },
      es256Verify,
    ),
  ];
}

async function sm3Throughput(ctx: BenchContext): Promise<BenchResult[]> {
  const chunk = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
  const MB = chunk.length / 1e6;
  const rates = await measureRates(ctx, {
    proofSm3: () => {
      sm3(chunk);
      return MB;
    },
    opensslSm3: () => {
      createHash('sm3').update(chunk).digest();
      return MB;
    },
    sha256: () => {
      createHash('sha256').update(chunk).digest();
      return MB;
    },
  });
  const baseline = { name: 'SHA-256 (node:crypto)', value: rates.sha256, unit: 'MB/s' };
  return [
    compare({ name: 'SM3, proof/ (JavaScript: the page)', value: rates.proofSm3, unit: 'MB/s' }, baseline),
    compare({ name: 'SM3, OpenSSL (node:crypto)', value: rates.opensslSm3, unit: 'MB/s' }, baseline),
  ];
}

interface SuiteRun {
  batchAnswerBytes: number;
  batchCpuUs: number;
  postRps: number;
  postCpuUs: number;
  batchRecords: number;
  latency: string;
}

async function gatewayRun(ctx: BenchContext, suite: 'intl' | 'dual'): Promise<SuiteRun> {
  const db = await startBenchDatabase(`lz-bench-gm-${suite}-`);
  // PostgreSQL shutting down under an idle pooled client must not crash the bench process.
  db.pool.on('error', () => {});
  const stack = await startGatewayStack(db.url, { env: { CRYPTO_SUITE: suite } });
  try {
    const gw = stack.gateway;
    const creds = await seedBench(gw, db.pool);
    const digests = new DigestSource();
    const headers = { 'content-type': 'application/json', 'x-api-key': creds.apiKey };
    const post: LoadRequest = {
      method: 'POST',
      path: '/v1/evidence',
      headers,
      body: () => hashOnlyBody(creds.projectId, digests.next()),
      template: { path: '/v1/evidence', body: hashOnlyBody(creds.projectId, '{{digest}}'), digests },
    };
    const seconds = ctx.quick ? 0.75 : 5;
    await closedLoop(gw.url, post, { connections: 16, seconds: ctx.quick ? 0.5 : 2 });
    const w = watch(stack.pids);
    const p = await closedLoop(gw.url, post, { connections: 64, seconds });
    const pw = w.stop();
    await waitRecorded(db.pool, ctx.quick ? 60_000 : 300_000);
    const batch: LoadRequest = {
      method: 'POST',
      path: '/v1/evidence/batch',
      headers,
      body: () => batchBody(creds.projectId, digests, 1000),
    };
    const bwatch = watch(stack.pids);
    const b = await closedLoop(gw.url, batch, { connections: 4, seconds });
    const bw = bwatch.stop();
    // One more batch of 1,000, to weigh its answer (dual adds each item's SM2 receipt).
    const answer = await fetch(`${gw.url}/v1/evidence/batch`, {
      method: 'POST',
      headers,
      body: batchBody(creds.projectId, digests, 1000),
    });
    const batchAnswerBytes = (await answer.arrayBuffer()).byteLength;
    await waitRecorded(db.pool, ctx.quick ? 60_000 : 300_000);
    const run = {
      batchAnswerBytes,
      // The gateway's CPU while batches arrive (the pipeline sealing them included) per record.
      batchCpuUs: (bw.cpuCores * bw.seconds * 1e6) / Math.max(1, b.ok * 1000),
      postRps: p.rps,
      postCpuUs: (pw.cpuCores * pw.seconds * 1e6) / Math.max(1, p.ok),
      batchRecords: (b.ok * 1000) / b.seconds,
      latency: formatLatency(p.latency),
    };
    ctx.log(
      `${suite}: ${Math.round(run.postRps)} POST/s ${run.latency}, ${Math.round(run.postCpuUs)} µs gateway CPU/POST; batches ${Math.round(run.batchRecords)} records/s at ${Math.round(run.batchCpuUs)} µs gateway CPU/record, answer ${batchAnswerBytes} bytes`,
    );
    return run;
  } finally {
    await stack.stop();
    await db.stop();
  }
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  ctx.log('gm-crypto: signatures');
  const results = await signatures(ctx);
  ctx.log('gm-crypto: SM3');
  results.push(...(await sm3Throughput(ctx)));
  ctx.log('gm-crypto: gateway, CRYPTO_SUITE=intl then dual');
  const intl = await gatewayRun(ctx, 'intl');
  const dual = await gatewayRun(ctx, 'dual');
  results.push(
    compare(
      { name: 'hash-only POST, CRYPTO_SUITE=dual (64 connections)', value: dual.postRps, unit: 'accepted/s' },
      { name: 'CRYPTO_SUITE=intl', value: intl.postRps, unit: 'accepted/s' },
    ),
    compare(
      { name: 'gateway CPU per hash-only POST, dual', value: dual.postCpuUs, unit: 'µs' },
      { name: 'intl', value: intl.postCpuUs, unit: 'µs' },
    ),
    compare(
      {
        name: 'batches of 1,000, CRYPTO_SUITE=dual (4 connections)',
        value: dual.batchRecords,
        unit: 'records/s',
      },
      { name: 'CRYPTO_SUITE=intl', value: intl.batchRecords, unit: 'records/s' },
    ),
    compare(
      { name: 'gateway CPU per batch record, dual', value: dual.batchCpuUs, unit: 'µs' },
      { name: 'intl', value: intl.batchCpuUs, unit: 'µs' },
    ),
    compare(
      { name: 'answer to a batch of 1,000, dual', value: dual.batchAnswerBytes / 1e6, unit: 'MB' },
      { name: 'intl', value: intl.batchAnswerBytes / 1e6, unit: 'MB' },
    ),
  );
  return results;
}
