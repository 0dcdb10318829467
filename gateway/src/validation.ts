import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import type { FastifySchemaCompiler } from 'fastify';

/** An Ajv-shaped error, so errors.ts turns TypeBox and Ajv failures into the same problem. */
export interface SchemaError {
  instancePath: string;
  keyword: string;
  message: string;
}

export interface CompiledCheck<T = unknown> {
  check(value: unknown): value is T;
  /** At most `max` errors, Ajv-shaped, paths relative to the value. */
  errors(value: unknown, max?: number): SchemaError[];
}

// The formats our TypeBox-checked schemas use, as Ajv's ajv-formats checks them on the other routes.
if (!FormatRegistry.Has('uuid'))
  FormatRegistry.Set('uuid', (v) => /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(v));

function keyword(type: ValueErrorType): string {
  switch (type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'additionalProperties';
    case ValueErrorType.StringPattern:
      return 'pattern';
    default:
      return ValueErrorType[type] ?? 'invalid';
  }
}

/**
 * TypeBox's words, except for a choice among fixed values (a document kind, a visibility), where
 * "Expected union value" would leave a partner guessing: name the values instead.
 */
function describe(type: ValueErrorType, schema: TSchema, message: string): string {
  // An empty change ("at least 1 properties"): name the fields that may be given.
  if (type === ValueErrorType.ObjectMinProperties && schema.minProperties === 1 && schema.properties)
    return `Expected at least one of: ${Object.keys(schema.properties).join(', ')}`;
  if (type !== ValueErrorType.Union) return message;
  const options = (schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (!options?.length || !options.every((o) => typeof o.const === 'string')) return message;
  return `Expected one of: ${options.map((o) => o.const as string).join(', ')}`;
}

/**
 * TypeBox's compiled checker, for the intake routes: it never coerces or strips (Fastify's Ajv is
 * set to coerce query strings), so `"amount": 5` or an unknown field is an error, not a guess.
 */
export function compileCheck<T extends TSchema>(schema: T): CompiledCheck {
  const compiled = TypeCompiler.Compile(schema);
  return {
    check: (value: unknown): value is unknown => compiled.Check(value),
    errors(value, max = 10) {
      const out: SchemaError[] = [];
      const required = new Set<string>();
      for (const e of compiled.Errors(value)) {
        // A missing field also fails its own type ("Expected union value"): say it once.
        if (e.type === ValueErrorType.ObjectRequiredProperty) required.add(e.path);
        else if (e.value === undefined && required.has(e.path)) continue;
        out.push({
          instancePath: e.path,
          keyword: keyword(e.type),
          message: describe(e.type, e.schema, e.message),
        });
        if (out.length >= max) break;
      }
      return out;
    },
  };
}

/** A Fastify validatorCompiler built on `compileCheck`; `override` picks another schema to check. */
export function typeboxValidatorCompiler(
  override?: (schema: TSchema, httpPart?: string) => TSchema | 'skip' | undefined,
): FastifySchemaCompiler<unknown> {
  return ({ schema: given, httpPart }) => {
    const schema = given as TSchema;
    const chosen = override?.(schema, httpPart) ?? schema;
    if (chosen === 'skip' || (schema as Record<string, unknown>)['x-multipart']) return () => true;
    const c = compileCheck(chosen);
    const validate = (data: unknown) => {
      if (c.check(data)) return true;
      (validate as unknown as { errors: SchemaError[] }).errors = c.errors(data);
      return false;
    };
    return validate;
  };
}
