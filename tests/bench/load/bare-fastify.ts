// The HTTP ceiling: a bare Fastify server with the same routes' shapes and nothing behind them
// (no auth, no validation, no signature, no database). Run as its own process by the gateway
// benchmark: `node --import tsx tests/bench/load/bare-fastify.ts <port>`; prints "ready" once
// listening.
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? 0);
const app = Fastify({ logger: false });
// An answer of about the size of a real 202 (id, digest, CID, status, a JWS receipt).
const accepted = {
  id: '01900000-0000-7000-8000-000000000000',
  sha256: '0'.repeat(64),
  cid: `bafkrei${'a'.repeat(52)}`,
  status: 'accepted',
  receipt: 'x'.repeat(560),
  acceptedAt: '2026-01-01T00:00:00.000Z',
};
app.post('/v1/evidence', async (_request, reply) => {
  reply.code(202);
  return accepted;
});
app.get('/v1/verify/:sha256', async (request) => ({
  sha256: (request.params as { sha256: string }).sha256,
  records: [],
}));
await app.listen({ port, host: '127.0.0.1' });
process.stdout.write('ready\n');
