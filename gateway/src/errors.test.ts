import { describe, expect, it } from 'vitest';
import { AppError, ERROR_TABLE, problemFor, problemType, toAppError, validationProblem } from './errors.ts';

describe('errors', () => {
  it('maps every code to a kebab-case problem type and a 4xx/5xx status', () => {
    expect(problemType('NO_SUCH_PROJECT')).toBe('https://lianzheng.dev/problems/no-such-project');
    for (const [code, entry] of Object.entries(ERROR_TABLE)) {
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(problemFor(code as keyof typeof ERROR_TABLE).type).toMatch(
        /^https:\/\/lianzheng\.dev\/problems\/[a-z-]+$/,
      );
    }
  });

  it('turns Fastify and parser errors into codes', () => {
    const fst = (code: string, statusCode: number) => Object.assign(new Error('x'), { code, statusCode });
    expect(toAppError(fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(toAppError(fst('FST_ERR_CTP_BODY_TOO_LARGE', 413)).code).toBe('BODY_TOO_LARGE');
    expect(toAppError(fst('FST_REQ_FILE_TOO_LARGE', 413)).code).toBe('FILE_TOO_LARGE');
    expect(toAppError(Object.assign(new SyntaxError('bad'), { statusCode: 400 })).code).toBe(
      'MALFORMED_JSON',
    );
    expect(toAppError(fst('SOMETHING', 429)).code).toBe('RATE_LIMITED');
    expect(toAppError(new Error('boom')).code).toBe('INTERNAL');
    const own = new AppError('CONFLICT', 'x');
    expect(toAppError(own)).toBe(own);
  });

  it('gives digest and kind schema errors their own codes, but not missing ones', () => {
    expect(validationProblem([{ instancePath: '/sha256', keyword: 'pattern', message: 'm' }]).code).toBe(
      'BAD_DIGEST',
    );
    expect(validationProblem([{ instancePath: '/items/3/kind', keyword: 'anyOf', message: 'm' }]).code).toBe(
      'UNKNOWN_KIND',
    );
    expect(
      validationProblem([
        { instancePath: '', keyword: 'required', params: { missingProperty: 'sha256' }, message: 'm' },
      ]).code,
    ).toBe('VALIDATION_FAILED');
    const p = validationProblem([
      {
        instancePath: '',
        keyword: 'additionalProperties',
        params: { additionalProperty: 'x' },
        message: 'm',
      },
    ]);
    expect(p.extensions.errors).toEqual([{ path: 'body/x', message: 'm' }]);
  });

  it('never puts 5xx details in the problem', () => {
    const e = new AppError('INTERNAL', 'secret stack detail');
    expect(e.status).toBe(500);
    expect(problemFor('INTERNAL').detail).toBeUndefined();
  });
});
