import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import Fastify, { type FastifyReply } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AcceptedSubmission } from '../../intake/intake.ts';
import { acceptedBody, acceptedItem, allAcceptedAnswer, asciiBody } from './index.ts';
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
  let next: { accepted: number; rejected: number; results: unknown[] } | undefined;
  beforeAll(async () => {
    app.post('/batch', { schema: { response: { 202: BatchResult } } }, async (_request, reply) => {
      reply.code(202);
      return next;
    });
    // What the route sends instead: allAcceptedAnswer (bytes when ASCII, else the JSON text).
    app.post('/sent', { schema: { response: { 202: BatchResult } } }, async (_request, reply) => {
      reply.code(202).type('application/json; charset=utf-8');
      return allAcceptedAnswer(reply, next!.results);
    });
    await app.ready();
  });
  afterAll(() => app.close());

  async function serialized(body: typeof next): Promise<string> {
    next = body;
    const res = await app.inject({ method: 'POST', url: '/batch' });
    expect(res.statusCode).toBe(202);
    return res.body;
  }

  /** The bytes and headers sent by the schema's serializer and by the route's way, alike. */
  async function sentAlike(body: NonNullable<typeof next>): Promise<void> {
    next = body;
    const [schema, route] = await Promise.all([
      app.inject({ method: 'POST', url: '/batch' }),
      app.inject({ method: 'POST', url: '/sent' }),
    ]);
    expect(route.statusCode).toBe(202);
    expect(route.rawPayload.equals(schema.rawPayload)).toBe(true);
    expect(route.headers['content-length']).toBe(schema.headers['content-length']);
    expect(route.headers['content-length']).toBe(String(schema.rawPayload.length));
    expect(route.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(schema.headers['content-type']).toBe('application/json; charset=utf-8');
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
        await sentAlike(body);
      }),
      { numRuns: 200 },
    );
  });

  it('is sent as the bytes of its JSON text, a Buffer only when that text is ASCII', async () => {
    const a: AcceptedSubmission = {
      id: '0193a0b0-0000-7000-8000-000000000001',
      sha256: 'ab'.repeat(32),
      cid: 'bafkreiexample',
      status: 'accepted',
      receipt: `${'h'.repeat(40)}.${'p'.repeat(400)}.${'s'.repeat(86)}~${'c'.repeat(200)}.7.${'q'.repeat(300)}`,
      receiptSm2: 'h2.payload.s2~item',
      acceptedAt: '2026-12-07T04:00:00.000Z',
      replayed: false,
    };
    const results = Array.from({ length: 1000 }, (_, i) => acceptedItem(i, a));
    const raw = new EventEmitter();
    const ascii = allAcceptedAnswer({ raw } as unknown as FastifyReply, results);
    expect(Buffer.isBuffer(ascii)).toBe(true);
    expect((ascii as Buffer).toString('latin1')).toBe(
      JSON.stringify({ accepted: 1000, rejected: 0, results }),
    );
    raw.emit('finish');
    for (let round = 0; round < 3; round++) await sentAlike({ accepted: 1000, rejected: 0, results });
    await sentAlike({ accepted: 20, rejected: 0, results: results.slice(0, 20) });
    // Not ASCII (none of these reaches the route today): the string, as before.
    for (const odd of ['é', '\u2028', '\ud83d\ude00', '\u0141', '\u00ff']) {
      const body = { accepted: 1, rejected: 0, results: [acceptedItem(0, { ...a, cid: odd })] };
      expect(allAcceptedAnswer({ raw } as unknown as FastifyReply, body.results)).toBe(JSON.stringify(body));
      await sentAlike(body);
      const many = { accepted: 1000, rejected: 0, results: [...results.slice(1), body.results[0]!] };
      expect(allAcceptedAnswer({ raw } as unknown as FastifyReply, many.results)).toBe(JSON.stringify(many));
      await sentAlike(many);
    }
    // Lone surrogates and control characters are escaped by JSON.stringify: ASCII again.
    const escaped = [...results.slice(1), acceptedItem(0, { ...a, cid: '\ud800\u0000"' })];
    expect(Buffer.isBuffer(allAcceptedAnswer({ raw } as unknown as FastifyReply, escaped))).toBe(true);
    await sentAlike({ accepted: 1000, rejected: 0, results: escaped });
  });

  it('asciiBody: the UTF-8 bytes of any string, as a Buffer exactly when it is long and ASCII', () => {
    const raw = new EventEmitter();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 80 }),
          fc.string({ unit: 'binary-ascii', maxLength: 80 }),
          fc.string({ maxLength: 500 }),
          fc.constantFrom('', '\u0080', '\u00ff', '\u0100', '\u0141', '\ud800', '\udc00x', 'a\ud83d\ude00'),
        ),
        fc.integer({ min: 0, max: 40_000 }),
        fc.boolean(),
        (tail, pad, finish) => {
          const text = 'x'.repeat(pad) + tail;
          const out = asciiBody(text, raw);
          const ascii = [...text].every((c) => c.charCodeAt(0) < 0x80);
          expect(Buffer.isBuffer(out)).toBe(ascii && text.length >= 16 * 1024);
          expect(Buffer.from(out as string).equals(Buffer.from(text, 'utf8'))).toBe(true);
          // Sent (its buffer free for the next) or still being sent (its buffer kept apart).
          if (finish) raw.emit('finish');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never hands out a buffer whose answer is still being sent', () => {
    const sending = Array.from({ length: 6 }, (_, i) => {
      const raw = new EventEmitter();
      const text = String.fromCharCode(97 + i).repeat(20_000 + i * 1000);
      return { raw, text, out: asciiBody(text, raw) as Buffer };
    });
    for (const s of sending) expect(s.out.toString('latin1')).toBe(s.text);
    // Given back one after the other, and taken again by longer and shorter answers.
    for (const s of sending.slice(0, 3)) s.raw.emit('finish');
    const again = Array.from({ length: 4 }, (_, i) => {
      const text = String.fromCharCode(65 + i).repeat(21_500 - i * 700);
      return { text, out: asciiBody(text, new EventEmitter()) as Buffer };
    });
    for (const s of [...sending.slice(3), ...again]) expect(s.out.toString('latin1')).toBe(s.text);
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
