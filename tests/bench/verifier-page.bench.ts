// The verifier page in headless Chromium: hashing throughput on a generated file (1 GiB; 64 MiB
// with --quick) beside node:crypto on the same bytes, the JS heap while hashing, the one-shot
// WebCrypto path against streaming for a small file (the page's choice for files ≤ 128 MiB), the
// page-ready time beside a blank page from the same server, and the page's JavaScript size.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import {
  buildPage,
  DIST,
  type FakeGateway,
  launchChromium,
  makeFixture,
  startFakeGateway,
} from '../e2e/verifier-page-support.ts';
import { type BenchContext, type BenchResult, compare, median } from './harness.ts';

const MiB = 1024 * 1024;

async function writeFile(path: string, size: number): Promise<void> {
  // 16 MiB of random bytes repeated: incompressible enough for any cache, cheap to make.
  const block = randomBytes(16 * MiB);
  const fh = await open(path, 'w');
  try {
    for (let written = 0; written < size; written += block.length) {
      await fh.write(block, 0, Math.min(block.length, size - written));
    }
  } finally {
    await fh.close();
  }
}

async function nodeHash(path: string): Promise<{ hex: string; ms: number }> {
  const start = performance.now();
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) h.update(chunk as Buffer);
  return { hex: h.digest('hex'), ms: performance.now() - start };
}

interface BrowserHash {
  hex: string;
  ms: number;
  method: string;
  maxHeapBytes: number;
  maxWithBuffersBytes: number;
  idleHeapBytes: number;
}

async function browserHash(
  browser: Browser,
  gw: FakeGateway,
  path: string,
  oneShotMaxBytes: number,
): Promise<BrowserHash> {
  const context = await browser.newContext();
  // A shared 2-core machine can be slow to start a page; the figures, not the waits, are measured.
  context.setDefaultTimeout(120_000);
  try {
    await context.addInitScript((n) => {
      (globalThis as { lianzhengConfig?: object }).lianzhengConfig = { oneShotMaxBytes: n };
    }, oneShotMaxBytes);
    const page = await context.newPage();
    await page.goto(`${gw.url}/`);
    await page.waitForSelector('html[data-ready="true"]', { timeout: 120_000 });
    const cdp = await context.newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    // usedSize is V8's heap; backingStorageSize (when Chromium reports it) adds the ArrayBuffers the
    // file's chunks arrive in, which live outside it — both must stay flat for a streamed file.
    type HeapUsage = { usedSize: number; backingStorageSize?: number };
    const idle = (await cdp.send('Runtime.getHeapUsage')) as HeapUsage;
    let maxHeap = idle.usedSize;
    let maxWithBuffers = idle.usedSize + (idle.backingStorageSize ?? 0);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const u = (await cdp.send('Runtime.getHeapUsage')) as HeapUsage;
        maxHeap = Math.max(maxHeap, u.usedSize);
        maxWithBuffers = Math.max(maxWithBuffers, u.usedSize + (u.backingStorageSize ?? 0));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await page.setInputFiles('#file-input', path);
    await page.waitForSelector('html[data-hash-ms]', { timeout: 600_000 });
    sampling = false;
    await sampler;
    const ms = Number(await page.getAttribute('html', 'data-hash-ms'));
    const method = (await page.getAttribute('html', 'data-hash-method')) ?? '';
    await page.waitForSelector('.digest', { timeout: 120_000 });
    const hex = (await page.getAttribute('.digest', 'data-sha256')) ?? '';
    return {
      hex,
      ms,
      method,
      maxHeapBytes: maxHeap,
      maxWithBuffersBytes: maxWithBuffers,
      idleHeapBytes: idle.usedSize,
    };
  } finally {
    await context.close();
  }
}

async function readyTimes(
  browser: Browser,
  gw: FakeGateway,
  rounds: number,
): Promise<{ page: number; blank: number }> {
  const page: number[] = [];
  const blank: number[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const which of ['blank', 'page'] as const) {
      const context = await browser.newContext();
      context.setDefaultTimeout(120_000);
      const p = await context.newPage();
      if (which === 'blank') {
        await p.goto(`${gw.url}/__blank`, { waitUntil: 'load' });
        blank.push(await p.evaluate(() => performance.getEntriesByType('navigation')[0]!.duration));
      } else {
        await p.goto(`${gw.url}/`);
        await p.waitForSelector('html[data-ready="true"]', { timeout: 120_000 });
        page.push(await p.evaluate(() => performance.getEntriesByName('lianzheng-ready')[0]!.startTime));
      }
      await context.close();
    }
  }
  return { page: median(page), blank: median(blank) };
}

function jsSizes(): { gzip: number; raw: number } {
  let gzip = 0;
  let raw = 0;
  for (const f of readdirSync(join(DIST, 'assets')).filter((n) => n.endsWith('.js'))) {
    const bytes = readFileSync(join(DIST, 'assets', f));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { gzip, raw };
}

export async function run(ctx: BenchContext): Promise<BenchResult[]> {
  buildPage();
  const fx = await makeFixture();
  const gw = await startFakeGateway(fx);
  const browser = await launchChromium();
  const size = ctx.quick ? 64 * MiB : 1024 * MiB;
  const big = join(tmpdir(), `lianzheng-bench-${process.pid}.bin`);
  const small = join(tmpdir(), `lianzheng-bench-small-${process.pid}.bin`);
  const results: BenchResult[] = [];
  try {
    ctx.log(`generating ${size / MiB} MiB`);
    await writeFile(big, size);
    writeFileSync(small, randomBytes(16 * MiB));

    // Throughput: node:crypto and the page on the same file, interleaved, best of the rounds.
    const rounds = ctx.quick ? 1 : 3;
    const node: number[] = [];
    const page: BrowserHash[] = [];
    for (let i = 0; i < rounds; i++) {
      node.push((await nodeHash(big)).ms);
      page.push(await browserHash(browser, gw, big, 0));
      ctx.log(
        `round ${i + 1}: node ${node.at(-1)!.toFixed(0)} ms, page ${page.at(-1)!.ms.toFixed(0)} ms (${page.at(-1)!.method})`,
      );
    }
    const expected = (await nodeHash(big)).hex;
    if (page.some((p) => p.hex !== expected))
      throw new Error('the page computed another digest than node:crypto');
    const mbps = (ms: number) => statSync(big).size / MiB / (ms / 1000);
    const nodeRate = mbps(Math.min(...node));
    const pageRate = mbps(Math.min(...page.map((p) => p.ms)));
    results.push(
      compare(
        {
          name: `page SHA-256 of a ${size / MiB} MiB file (streamed, proof/createSha256)`,
          value: pageRate,
          unit: 'MiB/s',
        },
        { name: 'node:crypto streaming, same file', value: nodeRate, unit: 'MiB/s' },
      ),
    );
    const maxHeap = Math.max(...page.map((p) => p.maxHeapBytes)) / MiB;
    const idleHeap = Math.min(...page.map((p) => p.idleHeapBytes)) / MiB;
    results.push({
      ...compare(
        { name: 'page JS heap, peak while hashing', value: maxHeap, unit: 'MiB' },
        { name: 'page JS heap at rest', value: idleHeap, unit: 'MiB' },
      ),
      target: '< 100 MiB',
      meetsTarget: maxHeap < 100,
    });
    const maxBuffers = Math.max(...page.map((p) => p.maxWithBuffersBytes)) / MiB;
    results.push({
      ...compare(
        {
          name: 'page JS heap + ArrayBuffer backing stores, peak while hashing',
          value: maxBuffers,
          unit: 'MiB',
        },
        { name: 'page JS heap at rest', value: idleHeap, unit: 'MiB' },
      ),
      target: '< 100 MiB',
      meetsTarget: maxBuffers < 100,
    });

    // The small-file path: one WebCrypto call against streaming, same 16 MiB file.
    const oneShot: number[] = [];
    const streamed: number[] = [];
    for (let i = 0; i < (ctx.quick ? 2 : 5); i++) {
      oneShot.push((await browserHash(browser, gw, small, 128 * MiB)).ms);
      streamed.push((await browserHash(browser, gw, small, 0)).ms);
    }
    results.push(
      compare(
        {
          name: 'page SHA-256 of 16 MiB, one-shot WebCrypto',
          value: 16 / (median(oneShot) / 1000),
          unit: 'MiB/s',
        },
        {
          name: 'page, streamed through proof/createSha256',
          value: 16 / (median(streamed) / 1000),
          unit: 'MiB/s',
        },
      ),
    );

    const ready = await readyTimes(browser, gw, ctx.quick ? 3 : 9);
    results.push({
      ...compare(
        { name: 'page ready on localhost (navigation → interactive)', value: ready.page, unit: 'ms' },
        { name: 'blank HTML page, same server', value: ready.blank, unit: 'ms' },
      ),
      target: '≤ 1000 ms',
      meetsTarget: ready.page <= 1000,
    });

    const js = jsSizes();
    results.push({
      ...compare(
        { name: 'page JavaScript, gzipped', value: js.gzip / 1024, unit: 'KiB' },
        { name: 'page JavaScript, uncompressed', value: js.raw / 1024, unit: 'KiB' },
      ),
      target: '≤ 200 KiB',
      meetsTarget: js.gzip <= 200 * 1024,
    });
    return results;
  } finally {
    await browser.close();
    await gw.close();
    rmSync(big, { force: true });
    rmSync(small, { force: true });
  }
}
