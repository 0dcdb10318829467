import fc from 'fast-check';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AcceptedSubmission } from '../../intake/intake.ts';
import { acceptedBody, acceptedItem } from './index.ts';
import { Accepted, BatchResult } from './schemas.ts';

// POST /v1/evidence answers JSON text it made itself instead of letting Fastify serialize the
// object with the response schema (issue #26): the bytes must be the schema serializer's.
describe('the single POST answer', () => {
  const app = Fastify();
  let next: AcceptedSubmission | undefined;
  beforeAll(async () => {
    app.post('/answer', { schema: { response: { 202: Accepted } } }, async (_request, reply) => {
      reply.code(202);
      return acceptedBody(next!);
    });
    await app.ready();
  });
  afterAll(() => app.close());

  async function serialized(a: AcceptedSubmission): Promise<string> {
    next = a;
    const res = await app.inject({ method: 'POST', url: '/answer' });
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    return res.body;
  }

  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ maxLength: 2000 }),
    // The shapes the route really answers: base64url JWSs, ids, hex, ISO times.
    fc.stringMatching(/^[A-Za-z0-9_-]{10,900}\.[A-Za-z0-9_-]{0,900}~?[A-Za-z0-9_.-]{0,300}$/),
    fc.constantFrom('"', '\\', '\u2028', '\ud800', 'a\u0000b', '\ud83d\ude00'),
  );
  const submission = fc.record({
    id: anyText,
    sha256: anyText,
    cid: anyText,
    status: fc.constantFrom('accepted', 'recorded', 'anchored', 'rejected') as fc.Arbitrary<
      AcceptedSubmission['status']
    >,
    receipt: anyText,
    receiptSm2: fc.option(anyText, { nil: undefined }),
    acceptedAt: anyText,
    replayed: fc.boolean(),
  });

  it('is byte for byte what the schema serializer writes', async () => {
    await fc.assert(
      fc.asyncProperty(submission, async (a) => {
        expect(JSON.stringify(acceptedBody(a))).toBe(await serialized(a));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves receiptSm2 out when there is none, and writes it last (as the serializer does)', async () => {
    const a: AcceptedSubmission = {
      id: '0193a0b0-0000-7000-8000-000000000001',
      sha256: 'ab'.repeat(32),
      cid: 'bafkreiexample',
      status: 'accepted',
      receipt: 'h.p.s',
      acceptedAt: '2026-12-07T04:00:00.000Z',
      replayed: false,
    };
    const text = JSON.stringify(acceptedBody(a));
    expect(text).toBe(await serialized(a));
    expect(Object.keys(JSON.parse(text))).toEqual(['id', 'sha256', 'cid', 'status', 'receipt', 'acceptedAt']);
    const dual = JSON.stringify(acceptedBody({ ...a, receiptSm2: 'h2.p.s2~item' }));
    expect(dual).toBe(await serialized({ ...a, receiptSm2: 'h2.p.s2~item' }));
    expect(Object.keys(JSON.parse(dual))).toEqual([
      'id',
      'sha256',
      'cid',
      'status',
      'receipt',
      'acceptedAt',
      'receiptSm2',
    ]);
  });
});

// POST /v1/evidence/batch answers a batch whose every item was accepted with JSON text too
// (issue #26): the bytes must be what the BatchResult schema's serializer writes of the same items.
describe('the batch answer when every item is accepted', () => {
  const app = Fastify();
  let next: unknown;
  beforeAll(async () => {
    app.post('/batch', { schema: { response: { 202: BatchResult } } }, async (_request, reply) => {
      reply.code(202);
      return next;
    });
    await app.ready();
  });
  afterAll(() => app.close());

  async function serialized(body: unknown): Promise<string> {
    next = body;
    const res = await app.inject({ method: 'POST', url: '/batch' });
    expect(res.statusCode).toBe(202);
    return res.body;
  }

  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.stringMatching(/^[A-Za-z0-9_-]{10,400}\.[A-Za-z0-9_-]{0,400}~?[A-Za-z0-9_.-]{0,200}$/),
    fc.constantFrom('"', '\\', '\u2028', '\ud800', 'a\u0000b', '\ud83d\ude00'),
  );
  const submission = fc.record({
    id: text,
    sha256: text,
    cid: text,
    status: fc.constantFrom('accepted', 'recorded', 'anchored', 'rejected') as fc.Arbitrary<
      AcceptedSubmission['status']
    >,
    receipt: text,
    receiptSm2: fc.option(text, { nil: undefined }),
    receiptSm2Detached: fc.option(text, { nil: undefined }),
    acceptedAt: text,
    replayed: fc.boolean(),
  });

  it('is byte for byte what the schema serializer writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(submission, { minLength: 1, maxLength: 8 }), async (subs) => {
        const body = { accepted: subs.length, rejected: 0, results: subs.map((a, i) => acceptedItem(i, a)) };
        expect(JSON.stringify(body)).toBe(await serialized(body));
      }),
      { numRuns: 200 },
    );
  });

  it("answers the SM2 receipt detached when it shares the ES256 receipt's payload and item", () => {
    const base: AcceptedSubmission = {
      id: '0193a0b0-0000-7000-8000-000000000001',
      sha256: 'ab'.repeat(32),
      cid: 'bafkreiexample',
      status: 'accepted',
      receipt: 'h1.payload.s1~item',
      acceptedAt: '2026-12-07T04:00:00.000Z',
      replayed: false,
    };
    expect(acceptedItem(3, base)).toEqual({ index: 3, ...acceptedBody(base) });
    expect(Object.keys(acceptedItem(3, base))).not.toContain('receiptSm2');
    expect(acceptedItem(0, { ...base, receiptSm2: 'h2.payload.s2~item' }).receiptSm2).toBe('h2..s2');
    // Made once for a group commit: used as it is.
    expect(
      acceptedItem(0, { ...base, receiptSm2: 'h2.payload.s2~item', receiptSm2Detached: 'hx..sx' }).receiptSm2,
    ).toBe('hx..sx');
    // Not the same payload: answered whole.
    expect(acceptedItem(0, { ...base, receiptSm2: 'h2.other.s2~item' }).receiptSm2).toBe('h2.other.s2~item');
  });
});
