import { describe, expect, it } from 'vitest';
import { EvidenceSubmission } from './routes/evidence-write/schemas.ts';
import { compileCheck } from './validation.ts';

// What a partner reads when a submission does not match: one error per problem, in words that
// say what would have matched.
describe('intake schema errors', () => {
  const check = compileCheck(EvidenceSubmission);
  const sha256 = 'a'.repeat(64);

  it('names the document kinds when the kind is unknown', () => {
    const errors = check.errors({ sha256, projectId: 'p-1', kind: 'invoice', visibility: 'public' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ instancePath: '/kind', keyword: 'Union' });
    expect(errors[0]!.message).toMatch(/^Expected one of: approval, tender, award, contract, /);
    expect(errors[0]!.message).toContain('payment_approval');
  });

  it('reports a missing field once, not again as a failed choice', () => {
    const errors = check.errors({ sha256, projectId: 'p-1', kind: 'notice' });
    expect(errors).toEqual([
      { instancePath: '/visibility', keyword: 'required', message: expect.any(String) },
    ]);
  });

  it('keeps every distinct problem', () => {
    const errors = check.errors({ sha256: 'abc', projectId: 'p-1', kind: 'notice', visibility: 'secret' });
    expect(errors.map((e) => e.instancePath).sort()).toEqual(['/sha256', '/visibility']);
    expect(errors.find((e) => e.instancePath === '/visibility')!.message).toBe(
      'Expected one of: public, restricted',
    );
  });
});
