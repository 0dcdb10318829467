import { utf8 } from './encoding.ts';
import { ProofError } from './errors.ts';

// RFC 8785 (JCS) for the values records use. ECMAScript's JSON.stringify of a string is exactly
// JCS's string form, and the default string sort compares UTF-16 code units as JCS requires.
// Numbers are limited to safe integers: records carry amounts as decimal strings, so any other
// number is a bug upstream, and refusing it beats producing bytes another implementation might
// spell differently.

// A lone surrogate cannot be encoded as UTF-8; with the `u` flag paired surrogates never match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

// A refusal carries the path to the refused value, filled in on its way up: each enclosing array
// or object prepends its step as the refusal passes through. Canonicalising a valid value thus
// allocates nothing for paths (the first version built a parent link per value, a sixth of its
// time).
class Refusal {
  constructor(
    readonly why: string,
    public path = '',
  ) {}
}

// String.prototype.isWellFormed (ES2024; Node 20, browsers since 2023) is native and several
// times faster than the regular expression, which stays for the older browsers the page serves.
const hasIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';
const wellFormed: (s: string) => boolean = hasIsWellFormed
  ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
  : (s) => !LONE_SURROGATE.test(s);

function serialiseString(s: string): string {
  if (!wellFormed(s)) throw new Refusal('string holds a lone surrogate');
  return JSON.stringify(s);
}

// Object keys repeat from record to record ("id", "kind", …): their JSON form is kept (bounded,
// so keys made from data cannot grow it without limit).
const keyForms = new Map<string, string>();
function serialiseKey(key: string): string {
  let form = keyForms.get(key);
  if (form === undefined) {
    form = serialiseString(key);
    if (keyForms.size < 4096) keyForms.set(key, form);
  }
  return form;
}

/**
 * A value whose canonical JSON the caller has already computed: `canonicalJson` writes `json` as
 * it is, without looking at it. Trusted, and only for the contract's own use (issue #26): the
 * chaincode canonicalises each record once to hash its leaf and writes the same string inside the
 * batch value, rather than serialising every record a second time. Whoever builds one guarantees
 * that `json` is exactly `canonicalJson` of the value it stands for; a fragment built from
 * anything else would put non-canonical bytes on the ledger. Not for input from outside.
 */
export class TrustedCanonicalFragment {
  constructor(readonly json: string) {}
}

/** `ancestors` holds the objects and arrays enclosing `value`, to refuse cycles. */
function serialise(value: unknown, ancestors: object[]): string {
  switch (typeof value) {
    case 'string':
      return serialiseString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new Refusal('only safe integers are allowed as numbers');
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof TrustedCanonicalFragment) return value.json;
      if (ancestors.includes(value)) throw new Refusal('cyclic structure');
      let out: string;
      if (Array.isArray(value)) {
        ancestors.push(value);
        out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          try {
            if (!(i in value)) throw new Refusal('sparse array');
            out += serialise(value[i], ancestors);
          } catch (error) {
            if (error instanceof Refusal) error.path = `[${i}]${error.path}`;
            throw error;
          }
        }
        out += ']';
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) throw new Refusal('only plain objects are allowed');
        if (Object.getOwnPropertySymbols(value).length > 0) throw new Refusal('symbol keys');
        ancestors.push(value);
        const record = value as Record<string, unknown>;
        const keys = Object.keys(record).sort();
        out = '{';
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i]!;
          if (i > 0) out += ',';
          // A key that cannot be spelled is refused at the object's own path, as before.
          out += `${serialiseKey(key)}:`;
          try {
            out += serialise(record[key], ancestors);
          } catch (error) {
            if (error instanceof Refusal) error.path = `.${key}${error.path}`;
            throw error;
          }
        }
        out += '}';
      }
      ancestors.pop();
      return out;
    }
    default:
      throw new Refusal(`a ${typeof value} has no JSON form`);
  }
}

/** RFC 8785 canonical JSON; throws `NOT_CANONICALISABLE` for anything it cannot spell exactly. */
export function canonicalJson(value: unknown): string {
  try {
    return serialise(value, []);
  } catch (error) {
    if (error instanceof Refusal) throw new ProofError('NOT_CANONICALISABLE', `$${error.path}: ${error.why}`);
    throw error;
  }
}

/** UTF-8 bytes of `canonicalJson(value)`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
