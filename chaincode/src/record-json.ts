// The canonical JSON of a record and of its details, spelled field by field (issue #26).
// RecordBatch canonicalises every record to hash its leaf and every details object to check its
// digest; canonicalJson's general walk (Object.keys, a sort and a cycle check per object, a
// recursive call per value) was a tenth of the contract's CPU. Records and details have fixed
// field names, so their canonical key order is fixed too. These answer `undefined` for anything
// not of the plain shape (an unknown field, a value of another type, a lone surrogate): the
// caller then uses canonicalJson, which spells or refuses it exactly as before.
// record-json.test.ts checks that whatever these answer equals canonicalJson.

/** A record's fields in canonical order (UTF-16 code units, RFC 8785). */
const RECORD_ORDER = [
  'acceptedAt',
  'cid',
  'detailsDigest',
  'digests',
  'id',
  'kind',
  'projectId',
  'refs',
  'submitter',
  'supersedes',
  'v',
  'visibility',
] as const;
const RECORD_FIELD_SET: ReadonlySet<string> = new Set(RECORD_ORDER);

/** The details' fields in canonical order (all strings). */
const DETAILS_ORDER = ['amount', 'milestone', 'reason', 'result', 'salt', 'title'] as const;
const DIGESTS_ORDER = ['sha256', 'sm3'] as const;
const SUBMITTER_ORDER = ['org'] as const;

/** Keys spelled as JSON once. */
const KEY_JSON = new Map<string, string>(
  [...RECORD_ORDER, ...DETAILS_ORDER, ...DIGESTS_ORDER, ...SUBMITTER_ORDER].map((k) => [k, `"${k}":`]),
);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.getOwnPropertySymbols(value).length === 0;
}

const LONE_SURROGATE = /\p{Surrogate}/u;
/** No lone surrogate (canonicalJson refuses one); Node before 20 has no isWellFormed (Fabric's runtime). */
const wellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);

/** JSON.stringify of a string canonicalJson accepts (well-formed), else undefined. */
function stringJson(value: unknown): string | undefined {
  if (typeof value !== 'string' || !wellFormed(value)) return undefined;
  return JSON.stringify(value);
}

/**
 * `{...}` of an object whose own keys are all in `order` and whose values are all strings, in
 * that order; undefined otherwise.
 */
function flatStringsJson(value: unknown, order: readonly string[]): string | undefined {
  if (!isPlainObject(value)) return undefined;
  let seen = 0;
  let out = '{';
  for (const key of order) {
    if (!Object.hasOwn(value, key)) continue;
    const s = stringJson(value[key]);
    if (s === undefined) return undefined;
    out += `${seen === 0 ? '' : ','}${KEY_JSON.get(key)}${s}`;
    seen++;
  }
  // Any other key (or none of ours where there are keys) is not the plain shape.
  if (Object.keys(value).length !== seen) return undefined;
  return `${out}}`;
}

/** canonicalJson(details) for details of the plain shape (only known fields, all strings). */
export function detailsJsonFast(details: unknown): string | undefined {
  return flatStringsJson(details, DETAILS_ORDER);
}

/** canonicalJson(record) for a record of the plain shape; undefined for anything else. */
export function recordJsonFast(record: unknown): string | undefined {
  if (!isPlainObject(record)) return undefined;
  const keys = Object.keys(record);
  for (const key of keys) if (!RECORD_FIELD_SET.has(key)) return undefined;
  let out = '{';
  let seen = 0;
  for (const key of RECORD_ORDER) {
    if (!Object.hasOwn(record, key)) continue;
    const value = record[key];
    let json: string | undefined;
    if (key === 'digests') json = flatStringsJson(value, DIGESTS_ORDER);
    else if (key === 'submitter') json = flatStringsJson(value, SUBMITTER_ORDER);
    else if (key === 'v')
      json = Number.isSafeInteger(value) && !Object.is(value, -0) ? String(value) : undefined;
    else if (key === 'refs') json = stringsArrayJson(value);
    else json = stringJson(value);
    if (json === undefined) return undefined;
    out += `${seen === 0 ? '' : ','}${KEY_JSON.get(key)}${json}`;
    seen++;
  }
  return seen === keys.length ? `${out}}` : undefined;
}

/** `[...]` of a dense array of strings, else undefined. */
function stringsArrayJson(value: unknown): string | undefined {
  if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype) return undefined;
  let out = '[';
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) return undefined;
    const s = stringJson(value[i]);
    if (s === undefined) return undefined;
    out += i === 0 ? s : `,${s}`;
  }
  return `${out}]`;
}
