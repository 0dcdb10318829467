import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, toAppError } from './errors.ts';

// A database that is down or full must reach clients as a 503 problem, whichever route asked it.
describe('database unavailability', () => {
  const unavailable: [string, unknown][] = [
    [
      'connection refused',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['admin shutdown (57P01)', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    [
      'cannot connect now (57P03)',
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
    ],
    ['disk full (53100)', Object.assign(new Error('could not extend file'), { code: '53100' })],
    ['I/O error (58030)', Object.assign(new Error('could not write'), { code: '58030' })],
    ['connection failure (08006)', Object.assign(new Error('x'), { code: '08006' })],
    ['terminated without a code', new Error('Connection terminated unexpectedly')],
    ['pool connect timeout', new Error('timeout exceeded when trying to connect')],
    [
      'the server stopped, its unix socket gone',
      Object.assign(new Error('connect ENOENT /data/pg/socket/.s.PGSQL.5432'), {
        code: 'ENOENT',
        syscall: 'connect',
      }),
    ],
    [
      'every address refused',
      Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {}),
    ],
  ];
  for (const [name, error] of unavailable) {
    it(`${name} → 503 SERVICE_UNAVAILABLE`, () => {
      expect(isDatabaseUnavailable(error)).toBe(true);
      const mapped = toAppError(error);
      expect(mapped.code).toBe('SERVICE_UNAVAILABLE');
      expect(mapped.status).toBe(503);
    });
  }

  const other: [string, unknown][] = [
    ['a unique violation (23505)', Object.assign(new Error('duplicate key'), { code: '23505' })],
    ['a syntax error (42601)', Object.assign(new Error('syntax'), { code: '42601' })],
    ['a plain bug', new TypeError('x is undefined')],
    [
      'a missing file that is not a socket',
      Object.assign(new Error("ENOENT: no such file, open 'x'"), { code: 'ENOENT', syscall: 'open' }),
    ],
    ['not an object', 'boom'],
  ];
  for (const [name, error] of other) {
    it(`${name} is not unavailability`, () => {
      expect(isDatabaseUnavailable(error)).toBe(false);
      expect(toAppError(error).code).toBe('INTERNAL');
    });
  }
});

describe('wrapped unavailability', () => {
  it('an error caused by the database being down is unavailability too', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const wrapped = Object.assign(
      new Error('LEDGER_UNAVAILABLE: the ledger database is unreachable', { cause }),
      {
        code: 'LEDGER_UNAVAILABLE',
      },
    );
    expect(toAppError(wrapped).code).toBe('SERVICE_UNAVAILABLE');
    expect(toAppError(new Error('other', { cause: new Error('still other') })).code).toBe('INTERNAL');
  });
});
