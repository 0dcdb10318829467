import { AppError } from './errors.ts';

// JSON may carry strings that are not Unicode text: "\ud800" parses to a lone surrogate. Records
// are hashed as RFC 8785 canonical JSON, which has no encoding for them (canonicalJson refuses
// them), and PostgreSQL's jsonb cannot hold U+0000. Such input is the client's mistake — a 400
// before anything is built or stored, never a 500 half-way through.

const LONE_SURROGATE = /\p{Cs}/u;

function walk(
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
  const found = walk(value, context, options.refuseNul ?? false, 0);
  if (!found) return undefined;
  return new AppError('VALIDATION_FAILED', `${found.path} ${found.message}`, {
    errors: [{ path: found.path, message: found.message }],
  });
}
