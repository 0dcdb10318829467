import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pagesPlugin, { ASSET_CACHE_CONTROL, PAGE_CACHE_CONTROL } from './plugin.ts';

// A stand-in build (the real one comes from Vite; its content does not matter to the serving).
let dir: string;
let app: FastifyInstance;
const html = '<!doctype html><title>t</title><script type="module" src="/assets/index-abc123.js"></script>';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lz-pages-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), html);
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, 'secret.txt'), 'not public');
  app = Fastify();
  app.get('/v1/other', async () => ({ ok: true }));
  await app.register(pagesPlugin, { root: dir });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pages plugin', () => {
  it.each(['/', '/p/demo-road-1', '/r/0190d3c2-7b1e-7c3a-8f00-000000000001', `/v/${'ab'.repeat(32)}`])(
    'serves the page at %s',
    async (url) => {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toBe(html);
      expect(res.headers['cache-control']).toBe(PAGE_CACHE_CONTROL);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      // Only fetch() may leave this origin, and only for the reader's own chain node: any https
      // origin, or loopback over http. Scripts, styles, images and the rest stay on this origin.
      const directives = csp.split('; ');
      expect(directives.filter((d) => /https?:/.test(d))).toEqual([
        "connect-src 'self' https: http://127.0.0.1:* http://localhost:*",
      ]);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    },
  );

  it('serves hashed assets as immutable for a year', async () => {
    const res = await app.inject({ url: '/assets/index-abc123.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toBe(ASSET_CACHE_CONTROL);
  });

  it('answers 404 for a missing asset and never serves files outside assets/', async () => {
    expect((await app.inject({ url: '/assets/nope.js' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/..%2fsecret.txt' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/../secret.txt' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/secret.txt' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/r/a/b' })).statusCode).toBe(404);
  });

  it('keeps its headers to its own routes', async () => {
    const res = await app.inject({ url: '/v1/other' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBeUndefined();
  });

  it("replaces the app's global helmet policy with its own on the page routes", async () => {
    const withHelmet = Fastify();
    await withHelmet.register(helmet, {
      contentSecurityPolicy: {
        directives: { defaultSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"] },
      },
    });
    await withHelmet.register(pagesPlugin, { root: dir });
    const res = await withHelmet.inject({ url: '/p/demo-road-1' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    await withHelmet.close();
  });

  it('answers 503 problem+json when the page has not been built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'lz-pages-empty-'));
    const bare = Fastify();
    await bare.register(pagesPlugin, { root: empty });
    const res = await bare.inject({ url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe('PAGE_NOT_BUILT');
    await bare.close();
    rmSync(empty, { recursive: true, force: true });
  });
});
