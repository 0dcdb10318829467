import { createHash } from 'node:crypto';
import { canonicalJson, createSha256, detachReceipt, toHex } from '@lianzheng/proof';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, toAppError, validationProblem } from '../../errors.ts';
import { type AcceptedSubmission, itemProblem } from '../../intake/intake.ts';
import { createSm3 } from '../../intake/sm3.ts';
import { problemResponses } from '../../schemas.ts';
import { textProblem } from '../../unicode.ts';
import { compileCheck, typeboxValidatorCompiler } from '../../validation.ts';
import {
  Accepted,
  type BatchAcceptedItem,
  BatchResult,
  batchBody,
  batchOuter,
  EvidenceSubmission,
  EvidenceUpload,
} from './schemas.ts';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

const IdempotencyHeader = Type.Object(
  {
    'idempotency-key': Type.Optional(
      Type.String({
        description: 'same key and body → same answer; same key, other body → 409',
        maxLength: 200,
      }),
    ),
  },
  { additionalProperties: true },
);

const checkSubmission = compileCheck(EvidenceSubmission);

function requestHash(input: unknown): string {
  let text: string;
  try {
    text = canonicalJson(input);
  } catch {
    // A batch whose invalid items cannot be canonicalised (a huge integer, a lone surrogate):
    // those items are refused one by one, but the retry of the same body must still match.
    text = `raw:${JSON.stringify(input)}`;
  }
  return createHash('sha256').update(text).digest('hex');
}

function idempotencyKey(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new AppError('VALIDATION_FAILED', 'Idempotency-Key must be 1–200 visible ASCII characters', {
      errors: [{ path: 'headers/idempotency-key', message: 'invalid' }],
    });
  }
  return key;
}

/**
 * The `Accepted` answer, its keys in the order the schema's serializer writes them: the required
 * ones in the schema's order, then the optional `receiptSm2`.
 */
export function acceptedBody(a: AcceptedSubmission): Accepted {
  const body: Accepted = {
    id: a.id,
    sha256: a.sha256,
    cid: a.cid,
    status: a.status,
    receipt: a.receipt,
    acceptedAt: a.acceptedAt,
  };
  if (a.receiptSm2 !== undefined) body.receiptSm2 = a.receiptSm2;
  return body;
}

/**
 * An accepted item of a batch answer, its keys in the order the `BatchResult` schema's serializer
 * writes them (the required ones in the schema's order, then the optional `receiptSm2`), so that
 * the 202 answer can be JSON.stringify'd with the same bytes (answer.test.ts).
 */
export function acceptedItem(index: number, a: AcceptedSubmission): BatchAcceptedItem {
  const item: BatchAcceptedItem = {
    index,
    status: a.status,
    id: a.id,
    sha256: a.sha256,
    cid: a.cid,
    receipt: a.receipt,
    acceptedAt: a.acceptedAt,
  };
  // CRYPTO_SUITE dual: the SM2 receipt signs the same group payload and carries the same item, so
  // only its header and signature are answered (`<header>..<signature>`, proof's attachReceipt
  // rebuilds it); stored and in bundles it stays whole.
  if (a.receiptSm2 !== undefined)
    item.receiptSm2 = a.receiptSm2Detached ?? detachReceipt(a.receiptSm2, a.receipt) ?? a.receiptSm2;
  return item;
}

/**
 * The answer as JSON text, so Fastify sends it without its schema serializer: every field is a
 * string, which fast-json-stringify writes as JSON.stringify does, and V8's native JSON.stringify
 * scans the two ~1 KB receipts several times faster than the serializer's JavaScript loop (a few
 * µs of the event loop per POST; docs/benchmarks.md, issue #26). Same bytes
 * (evidence-write.test.ts compares them with the schema's serializer).
 */
function answer(reply: FastifyReply, a: AcceptedSubmission): string {
  reply
    .code(a.replayed ? 200 : 202)
    .header('location', `/v1/evidence/${a.id}`)
    .type('application/json; charset=utf-8');
  if (a.replayed) reply.header('idempotent-replayed', 'true');
  return JSON.stringify(acceptedBody(a));
}

const utf8 = new TextEncoder();

/** Below this many characters an answer goes as the string (a fast length scan, a small copy). */
const BYTES_FROM = 16 * 1024;
/** At most this much memory is kept in spare answer buffers. */
const SPARE_BYTES = 32 * 1024 * 1024;
/**
 * Buffers of large answers, reused once Node has handed the answer to the kernel (the response's
 * 'finish'). A fresh Buffer per 1.7 MB answer is external memory that V8 must account and free:
 * measured, it cost V8's helper threads more (7 -> 11 us/record) than the main thread saved.
 */
const spare: Buffer[] = [];
let spareBytes = 0;

function takeBuffer(bytes: number): Buffer {
  for (let i = 0; i < spare.length; i++) {
    const buf = spare[i]!;
    if (buf.length < bytes) continue;
    spare[i] = spare[spare.length - 1]!;
    spare.pop();
    spareBytes -= buf.length;
    return buf;
  }
  return Buffer.allocUnsafeSlow(bytes);
}

function giveBack(buf: Buffer): void {
  if (spareBytes + buf.length > SPARE_BYTES) return;
  spare.push(buf);
  spareBytes += buf.length;
}

/**
 * A large `text` sent as its UTF-8 bytes when every character is ASCII (the all-accepted batch
 * answer always is, by construction: uuids, hex, base32, base64url receipts, ISO times, integers,
 * fixed words — also when replayed from stored rows), else `text` itself. Fastify then takes
 * Content-Length from the Buffer and writes it as it is: for a 1,000-item answer (~1.7 MB) one
 * encoding pass instead of a UTF-8 length scan (onSendEnd) and a second pass writing the string to
 * the socket (issue #26). The bytes are the same by construction — they are the string's UTF-8 —
 * and the check comes with the encoding: encodeInto reports how much it read and wrote, and only
 * an all-ASCII string is read whole in as many bytes as it has characters (any other character
 * takes two bytes or more). The buffer is a spare one, taken back when `raw` has finished sending.
 */
export function asciiBody(
  text: string,
  raw: { once(event: 'finish', f: () => void): unknown },
): Buffer | string {
  if (text.length < BYTES_FROM) return text;
  const buf = takeBuffer(text.length);
  const { read, written } = utf8.encodeInto(text, buf);
  if (read !== text.length || written !== text.length) {
    giveBack(buf);
    return text;
  }
  // Only once the last byte is with the kernel: an answer cut short never gives its buffer back.
  raw.once('finish', () => giveBack(buf));
  return buf.length === text.length ? buf : buf.subarray(0, text.length);
}

/**
 * The 202 answer of a batch whose every item was accepted, as the route sends it: JSON text in the
 * serializer's key order, as bytes when ASCII (asciiBody; still `charset=utf-8`). answer.test.ts
 * compares what Fastify sends of it with what the `BatchResult` schema's serializer sends.
 */
export function allAcceptedAnswer(reply: FastifyReply, results: readonly unknown[]): Buffer | string {
  return asciiBody(JSON.stringify({ accepted: results.length, rejected: 0, results }), reply.raw);
}

const MULTIPART_FIELDS = new Set([
  'projectId',
  'kind',
  'title',
  'visibility',
  'supersedes',
  'refs',
  'amount',
  'milestone',
  'result',
  'reason',
  'sha256',
  'sm3',
]);

/**
 * Reads a multipart submission: the `file` part is streamed through SHA-256 (and SM3, when
 * `withSm3`) as it arrives and never held in memory; fields may come before or after it (fields
 * after the file are simply read once the file has been hashed). Nothing is stored until the
 * whole request has been read.
 */
async function readMultipart(request: FastifyRequest, withSm3: boolean): Promise<EvidenceSubmission> {
  const fields: Record<string, unknown> = {};
  const refs: string[] = [];
  let digest: string | undefined;
  let sm3: string | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || digest !== undefined) {
          part.file.resume();
          throw new AppError('MISSING_FILE', 'send exactly one file part, named "file"');
        }
        const hasher = createSha256();
        // SM3 has no CPU instructions of its own: ~4× SHA-256's time per byte (UPLOAD_SM3).
        const sm3Hasher = withSm3 ? createSm3() : undefined;
        for await (const chunk of part.file) {
          hasher.update(chunk as Uint8Array);
          sm3Hasher?.update(chunk as Uint8Array);
        }
        if (part.file.truncated) throw new AppError('FILE_TOO_LARGE', 'the file exceeds MAX_FILE_BYTES');
        digest = toHex(hasher.digest());
        sm3 = sm3Hasher?.digest('hex');
        continue;
      }
      if (!MULTIPART_FIELDS.has(part.fieldname)) {
        throw validationProblem([
          {
            instancePath: '',
            keyword: 'additionalProperties',
            params: { additionalProperty: part.fieldname },
            message: 'unknown field',
          },
        ]);
      }
      if (part.valueTruncated) throw new AppError('BODY_TOO_LARGE', `field ${part.fieldname} is too long`);
      const value = String(part.value);
      if (part.fieldname === 'refs') {
        for (const r of value.split(',')) if (r.trim() !== '') refs.push(r.trim());
      } else if (part.fieldname in fields) {
        throw new AppError('VALIDATION_FAILED', `field ${part.fieldname} given twice`, {
          errors: [{ path: `body/${part.fieldname}`, message: 'given twice' }],
        });
      } else fields[part.fieldname] = value;
    }
  } catch (e) {
    if (e instanceof AppError) throw e;
    const mapped = toAppError(e);
    // busboy's "Unexpected end of form", a reset connection: the upload never completed.
    if (mapped.code === 'INTERNAL')
      throw new AppError('UPLOAD_INCOMPLETE', 'the multipart body ended early', {}, { cause: e });
    throw mapped;
  }
  if (digest === undefined) throw new AppError('MISSING_FILE', 'no file part named "file"');
  if (fields.sha256 !== undefined && fields.sha256 !== digest) {
    throw new AppError('BAD_DIGEST', 'the sha256 field does not match the uploaded file', {
      computed: digest,
    });
  }
  if (sm3 !== undefined && fields.sm3 !== undefined && fields.sm3 !== sm3) {
    throw new AppError('BAD_DIGEST', 'the sm3 field does not match the uploaded file', { computed: sm3 });
  }
  const input: Record<string, unknown> = { ...fields, sha256: digest, ...(sm3 ? { sm3 } : {}) };
  if (refs.length > 0) input.refs = refs;
  if (!checkSubmission.check(input)) throw validationProblem(checkSubmission.errors(input));
  const illFormed = textProblem(input);
  if (illFormed) throw illFormed;
  return input as EvidenceSubmission;
}

/** `POST /v1/evidence` (JSON or multipart) and `POST /v1/evidence/batch`. */
export default async function evidenceWriteRoutes(app: FastifyInstance): Promise<void> {
  // Only JSON and multipart are submissions; anything else is a 415 here.
  app.removeContentTypeParser('text/plain');
  const maxItems = app.config.limits.maxBatchItems;
  const writers = app.requireRole('unit', 'partner', 'admin');
  // After authentication, before the body is read: while the sealing is too far behind
  // (MAX_SEAL_BACKLOG), a submission waits here with its body still in the socket.
  const admitted = async () => app.intake.admit();

  app.post(
    '/v1/evidence',
    {
      // Before the body is read: anonymous callers learn nothing and upload nothing.
      onRequest: [writers, admitted],
      validatorCompiler: typeboxValidatorCompiler(),
      schema: {
        tags: ['evidence'],
        summary: 'Notarise one document: its SHA-256 (JSON) or the file itself (multipart, streamed)',
        description:
          'Answers 202 only after the submission is committed in PostgreSQL. The receipt is a JWS ' +
          '(ES256) verifiable with /.well-known/jwks.json. With an Idempotency-Key, a repeat of the ' +
          'same request answers 200 with the first answer; a different request with the key answers 409.',
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        headers: IdempotencyHeader,
        body: {
          content: {
            'application/json': { schema: EvidenceSubmission },
            'multipart/form-data': { schema: EvidenceUpload },
          },
        },
        response: {
          202: Accepted,
          200: Accepted,
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 503),
        },
      },
    },
    async (request, reply) => {
      const key = idempotencyKey(request);
      const input = request.isMultipart()
        ? await readMultipart(request, app.config.uploadSm3)
        : (request.body as EvidenceSubmission);
      const illFormed = textProblem(input);
      if (illFormed) throw illFormed;
      const accepted = await app.intake.submit(request.principal, input, {
        key,
        requestHash: key ? requestHash(input) : undefined,
      });
      return answer(reply, accepted);
    },
  );

  const outer = batchOuter(Number.MAX_SAFE_INTEGER);
  app.post(
    '/v1/evidence/batch',
    {
      // Before the body is read: anonymous callers learn nothing and upload nothing.
      onRequest: [writers, admitted],
      // The documented schema names every item's shape; the route checks only the envelope up
      // front so that one bad item gets its own problem instead of failing the whole batch.
      validatorCompiler: typeboxValidatorCompiler((_schema, part) => (part === 'body' ? outer : undefined)),
      schema: {
        tags: ['evidence'],
        summary: `Notarise up to ${maxItems} digests at once; one result per item, in order`,
        description:
          'Every good item is committed in one group commit. 202 when every item was accepted; 207 ' +
          'when some were not: each such item carries its own problem (status "invalid") and nothing ' +
          'of it was stored. With an Idempotency-Key, a retried batch replays the items it accepted.',
        security: [{ bearer: [] }, { apiKey: [] }, { mutualTLS: [] }],
        headers: IdempotencyHeader,
        body: batchBody(maxItems),
        response: {
          202: BatchResult,
          207: BatchResult,
          ...problemResponses(400, 401, 403, 409, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const key = idempotencyKey(request);
      const items = (request.body as { items: unknown[] }).items;
      if (items.length > maxItems) {
        throw new AppError('BATCH_TOO_LARGE', `a batch holds at most ${maxItems} items, got ${items.length}`);
      }
      const checked = items.map((item, i) => {
        if (checkSubmission.check(item)) {
          const illFormed = textProblem(item, `body/items/${i}`);
          if (!illFormed) return { ok: true as const, input: item as EvidenceSubmission };
          return { ok: false as const, error: illFormed };
        }
        return {
          ok: false as const,
          error: validationProblem(checkSubmission.errors(item), `body/items/${i}`),
        };
      });
      const outcomes = await app.intake.submitBatch(request.principal, checked, {
        key,
        requestHash: key ? requestHash(items) : undefined,
      });
      let accepted = 0;
      const results = outcomes.map((o, index) => {
        if (o.ok) {
          accepted++;
          return acceptedItem(index, o.accepted);
        }
        return { index, status: 'invalid' as const, problem: itemProblem(o.error) };
      });
      if (accepted === items.length) {
        // Every item accepted (the usual answer): JSON text in the serializer's key order, for the
        // reason `answer` gives — here a thousand items, two receipts each (issue #26).
        reply.code(202).type('application/json; charset=utf-8');
        return allAcceptedAnswer(reply, results);
      }
      reply.code(207);
      return { accepted, rejected: items.length - accepted, results };
    },
  );
}
