import { utf8 } from './encoding.ts';
import { ProofError } from './errors.ts';

// RFC 8785 (JCS) for the values records use. ECMAScript's JSON.stringify of a string is exactly
// JCS's string form, and the default string sort compares UTF-16 code units as JCS requires.
// Numbers are limited to safe integers: records carry amounts as decimal strings, so any other
// number is a bug upstream, and refusing it beats producing bytes another implementation might
// spell differently.

// A lone surrogate cannot be encoded as UTF-8; with the `u` flag paired surrogates never match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function refuse(path: string, why: string): never {
  throw new ProofError('NOT_CANONICALISABLE', `${path || '$'}: ${why}`);
}

function serialiseString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) refuse(path, 'string holds a lone surrogate');
  return JSON.stringify(s);
}

function serialise(value: unknown, path: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return serialiseString(value, path);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) refuse(path, 'only safe integers are allowed as numbers');
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (seen.has(value)) refuse(path, 'cyclic structure');
      seen.add(value);
      let out: string;
      if (Array.isArray(value)) {
        const parts: string[] = [];
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) refuse(`${path}[${i}]`, 'sparse array');
          parts.push(serialise(value[i], `${path}[${i}]`, seen));
        }
        out = `[${parts.join(',')}]`;
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) refuse(path, 'only plain objects are allowed');
        if (Object.getOwnPropertySymbols(value).length > 0) refuse(path, 'symbol keys');
        const record = value as Record<string, unknown>;
        const keys = Object.keys(record).sort();
        const parts: string[] = [];
        for (const key of keys) {
          parts.push(`${serialiseString(key, path)}:${serialise(record[key], `${path}.${key}`, seen)}`);
        }
        out = `{${parts.join(',')}}`;
      }
      seen.delete(value);
      return out;
    }
    default:
      return refuse(path, `a ${typeof value} has no JSON form`);
  }
}

/** RFC 8785 canonical JSON; throws `NOT_CANONICALISABLE` for anything it cannot spell exactly. */
export function canonicalJson(value: unknown): string {
  return serialise(value, '', new Set());
}

/** UTF-8 bytes of `canonicalJson(value)`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
