import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export interface DocsRoutesOptions {
  /** Helmet's document headers: /docs is the one HTML page the API plugins serve. */
  documentHeaders: Record<string, string>;
}

/** The OpenAPI document (`/openapi.json`) and Swagger UI on it (`/docs`). */
export default async function docsRoutes(app: FastifyInstance, opts: DocsRoutesOptions): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiHooks: {
      onRequest: (_request, reply, done) => {
        reply.headers(opts.documentHeaders);
        done();
      },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
