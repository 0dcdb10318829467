import { describe, expect, it } from 'vitest';
import { textProblem } from './unicode.ts';

describe('textProblem', () => {
  it('passes well-formed text, paired surrogates, RTL marks and (by default) NUL', () => {
    expect(textProblem({ title: '工程 🚧 \u202eabc', refs: ['x'], n: 1, a: null })).toBeUndefined();
    expect(textProblem({ title: 'a\u0000b' })).toBeUndefined();
  });

  it('refuses a lone surrogate anywhere, with its path', () => {
    const p = textProblem({ items: [{ title: 'ok' }, { title: 'x\ud800' }] });
    expect(p?.code).toBe('VALIDATION_FAILED');
    expect(p?.status).toBe(400);
    expect(p?.extensions.errors).toEqual([{ path: 'body/items/1/title', message: expect.any(String) }]);
    expect(textProblem({ '\udc00': 1 })?.code).toBe('VALIDATION_FAILED');
    expect(textProblem('\udfff', 'body')?.code).toBe('VALIDATION_FAILED');
  });

  it('refuses NUL when asked (jsonb cannot hold it)', () => {
    expect(textProblem({ name: 'a\u0000b' }, 'body', { refuseNul: true })?.code).toBe('VALIDATION_FAILED');
  });
});
