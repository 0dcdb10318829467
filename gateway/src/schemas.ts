import { type TSchema, Type } from '@sinclair/typebox';
import { ERROR_TABLE, type ErrorCode } from './errors.ts';

/** RFC 9457 problem details as every error response of the gateway has them. */
export const Problem = Type.Object(
  {
    type: Type.String({ format: 'uri', description: 'stable: https://lianzheng.dev/problems/<code>' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.Union(
      (Object.keys(ERROR_TABLE) as ErrorCode[]).map((c) => Type.Literal(c)),
      { description: 'the stable error code' },
    ),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true, description: 'application/problem+json (RFC 9457)' },
);

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'No or invalid credentials',
  403: 'Credentials lack the right',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported content type',
  422: 'Unprocessable',
  429: 'Rate limited',
  500: 'Internal error',
  503: 'Unavailable',
};

/** Response schemas for the given error statuses, for the OpenAPI document. */
export function problemResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Ref('Problem', { description: STATUS_TEXT[s] ?? 'Error' });
  return out;
}
