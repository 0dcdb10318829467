import { AppError } from './errors.ts';

// JSON may carry strings that are not Unicode text: "\ud800" parses to a lone surrogate. Records
// are hashed as RFC 8785 canonical JSON, which has no encoding for them (canonicalJson refuses
// them), and PostgreSQL's jsonb cannot hold U+0000. Such input is the client's mistake — a 400
// before anything is built or stored, never a 500 half-way through.

const LONE_SURROGATE = /\p{Cs}/u;

/** ES2024's `String#isWellFormed` (Node 20 on): the project's TypeScript lib predates it. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * Whether no string (or key) in `value` holds a lone surrogate (or, with `refuseNul`, U+0000):
 * `walk`'s answer for the usual, clean value without building a path per key or running a
 * regular expression per string (~0.2 µs per batch item, issue #26). Descends exactly as `walk`
 * does (own enumerable keys, at most 64 levels), so `true` here means `walk` finds nothing.
 */
export function wellFormed(value: unknown, refuseNul = false, depth = 0): boolean {
  if (typeof value === 'string') return isWellFormed(value) && !(refuseNul && value.includes('\u0000'));
  if (value === null || typeof value !== 'object' || depth > 64) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!wellFormed(value[i], refuseNul, depth + 1)) return false;
    return true;
  }
  for (const key of Object.keys(value)) {
    if (!wellFormed(key, refuseNul, depth + 1)) return false;
    if (!wellFormed((value as Record<string, unknown>)[key], refuseNul, depth + 1)) return false;
  }
  return true;
}

/** The first string or key `textProblem` refuses, with its path (exported for its tests). */
export function walk(
  value: unknown,
  path: string,
  refuseNul: boolean,
  depth: number,
): { path: string; message: string } | undefined {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) return { path, message: 'is not well-formed Unicode (a lone surrogate)' };
    if (refuseNul && value.includes('\u0000')) return { path, message: 'contains U+0000' };
    return undefined;
  }
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = walk(value[i], `${path}/${i}`, refuseNul, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, inner] of Object.entries(value)) {
    const keyProblem = walk(key, `${path}/${key}`, refuseNul, depth + 1);
    if (keyProblem) return { ...keyProblem, message: `key ${keyProblem.message}` };
    const found = walk(inner, `${path}/${key}`, refuseNul, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * The first string (or key) in `value` that cannot be canonicalised or stored, as a 400
 * VALIDATION_FAILED problem; undefined when every string is fine.
 */
export function textProblem(
  value: unknown,
  context = 'body',
  options: { refuseNul?: boolean } = {},
): AppError | undefined {
  const refuseNul = options.refuseNul ?? false;
  // The clean value (nearly every request) is answered by the cheap pass; `walk` names the problem.
  if (wellFormed(value, refuseNul)) return undefined;
  const found = walk(value, context, refuseNul, 0);
  if (!found) return undefined;
  return new AppError('VALIDATION_FAILED', `${found.path} ${found.message}`, {
    errors: [{ path: found.path, message: found.message }],
  });
}
