// Serves the verifier page (verifier-web/dist, built by scripts/build.sh) at `/`, `/p/{projectId}`,
// `/r/{id}` and `/v/{sha256}` (a digest's result, to share) — one HTML file; the page reads its own address — and its hashed assets under
// `/assets/`. The page runs under a strict Content-Security-Policy: scripts, styles and images only
// from this origin, nothing inline, and no other origin to load from (government networks are often
// closed, and a verifier must not load code from anyone else); the one exception is fetch() to the
// reader's own EVM node (connect-src). Hashed assets are cached for a year; the
// HTML is revalidated on every load so a new build is picked up at once.
//
// The plugin is encapsulated (its hooks and @fastify/static's reply decorators stay inside), named
// `pages`, and depends on nothing but Fastify. The app registers it last.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

export interface PagesOptions {
  /** The built page; defaults to `verifier-web/dist` in this repository. */
  root?: string;
}

export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  // The page reads the chain from a JSON-RPC node its reader chooses (verifier-web/src/chain-rpc.ts):
  // any https origin, or a node on the reader's own computer over plain http. Nothing else: no
  // plain http across a network (readable and changeable on the way). SECURITY.md says why.
  "connect-src 'self' https: http://127.0.0.1:* http://localhost:*",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

export const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const PAGE_CACHE_CONTROL = 'no-cache';

export function defaultPagesRoot(): string {
  return fileURLToPath(new URL('../../../../verifier-web/dist/', import.meta.url));
}

async function pages(app: FastifyInstance, opts: PagesOptions): Promise<void> {
  const root = opts.root ?? defaultPagesRoot();
  await app.register(fastifyStatic, { root, serve: false, wildcard: false });

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    return payload;
  });

  // Checked per request rather than at registration, so a page built after the gateway started
  // is served without a restart.
  const sendPage = (reply: FastifyReply) => {
    if (!existsSync(join(root, 'index.html'))) {
      return reply.code(503).header('cache-control', 'no-store').type('application/problem+json').send({
        type: 'https://lianzheng.dev/problems/page-not-built',
        title: 'The verifier page has not been built',
        status: 503,
        code: 'PAGE_NOT_BUILT',
        detail: 'run scripts/build.sh (npx vite build verifier-web)',
      });
    }
    return reply
      .header('cache-control', PAGE_CACHE_CONTROL)
      .type('text/html; charset=utf-8')
      .sendFile('index.html', { cacheControl: false });
  };

  const hidden = { schema: { hide: true } };
  app.get('/', hidden, (_request, reply) => sendPage(reply));
  app.get('/p/:projectId', hidden, (_request, reply) => sendPage(reply));
  app.get('/r/:id', hidden, (_request, reply) => sendPage(reply));
  app.get('/v/:sha256', hidden, (_request, reply) => sendPage(reply));
  // The inspector's workspace: one page that routes inside itself (its sign-in lives in memory).
  app.get('/inspect', hidden, (_request, reply) => sendPage(reply));
  app.get('/inspect/*', hidden, (_request, reply) => sendPage(reply));
  app.get('/favicon.svg', hidden, (_request, reply) =>
    reply.sendFile('favicon.svg', { maxAge: 86_400_000, immutable: false }),
  );
  // Vite names every asset by its content hash, so an asset URL never changes meaning.
  app.get<{ Params: { '*': string } }>(
    '/assets/*',
    { ...hidden, config: { rateLimit: false } },
    (request, reply) => {
      const name = request.params['*'];
      if (!/^[A-Za-z0-9._-]+$/.test(name)) return reply.callNotFound();
      reply.header('cache-control', ASSET_CACHE_CONTROL);
      return reply.sendFile(`assets/${name}`, { cacheControl: false });
    },
  );
}

export default fp(pages, { name: 'pages', fastify: '5.x', encapsulate: true });
