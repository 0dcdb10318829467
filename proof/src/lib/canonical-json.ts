import { utf8 } from './encoding.ts';
import { ProofError } from './errors.ts';

// RFC 8785 (JCS) for the values records use. ECMAScript's JSON.stringify of a string is exactly
// JCS's string form, and the default string sort compares UTF-16 code units as JCS requires.
// Numbers are limited to safe integers: records carry amounts as decimal strings, so any other
// number is a bug upstream, and refusing it beats producing bytes another implementation might
// spell differently.

// A lone surrogate cannot be encoded as UTF-8; with the `u` flag paired surrogates never match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

// Where a value sits, for the error message only: a chain of parent links, turned into text when
// something is refused, so canonicalising a valid value builds no path strings at all.
interface Where {
  parent: Where | undefined;
  step: string | number;
}

function pathOf(where: Where | undefined): string {
  let out = '';
  for (let w = where; w !== undefined; w = w.parent) {
    out = typeof w.step === 'number' ? `[${w.step}]${out}` : `.${w.step}${out}`;
  }
  return `$${out}`;
}

function refuse(where: Where | undefined, why: string): never {
  throw new ProofError('NOT_CANONICALISABLE', `${pathOf(where)}: ${why}`);
}

// String.prototype.isWellFormed (ES2024; Node 20, browsers since 2023) is native and several
// times faster than the regular expression, which stays for the older browsers the page serves.
const hasIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';
const wellFormed: (s: string) => boolean = hasIsWellFormed
  ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
  : (s) => !LONE_SURROGATE.test(s);

function serialiseString(s: string, where: Where | undefined): string {
  if (!wellFormed(s)) refuse(where, 'string holds a lone surrogate');
  return JSON.stringify(s);
}

function serialise(value: unknown, where: Where | undefined, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return serialiseString(value, where);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) refuse(where, 'only safe integers are allowed as numbers');
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (seen.has(value)) refuse(where, 'cyclic structure');
      seen.add(value);
      let out: string;
      if (Array.isArray(value)) {
        out = '[';
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) refuse({ parent: where, step: i }, 'sparse array');
          if (i > 0) out += ',';
          out += serialise(value[i], { parent: where, step: i }, seen);
        }
        out += ']';
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) refuse(where, 'only plain objects are allowed');
        if (Object.getOwnPropertySymbols(value).length > 0) refuse(where, 'symbol keys');
        const record = value as Record<string, unknown>;
        const keys = Object.keys(record).sort();
        out = '{';
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i]!;
          if (i > 0) out += ',';
          out += `${serialiseString(key, where)}:${serialise(record[key], { parent: where, step: key }, seen)}`;
        }
        out += '}';
      }
      seen.delete(value);
      return out;
    }
    default:
      return refuse(where, `a ${typeof value} has no JSON form`);
  }
}

/** RFC 8785 canonical JSON; throws `NOT_CANONICALISABLE` for anything it cannot spell exactly. */
export function canonicalJson(value: unknown): string {
  return serialise(value, undefined, new Set());
}

/** UTF-8 bytes of `canonicalJson(value)`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
