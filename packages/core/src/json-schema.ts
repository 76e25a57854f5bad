import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: true });
(addFormats as unknown as (instance: Ajv2020) => void)(ajv);

/** Compiled validators by schema text: batches and requests share a handful of schemas. */
const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 256;

/**
 * Compiles a JSON Schema (2020-12) once per distinct text. The compiled function stands alone,
 * so the schema is removed from Ajv's registry at once: two schemas with one `$id` (or one
 * schema sent again as a new object) never clash, and the registry does not grow per request.
 * Throws when the schema does not compile.
 */
export function compileJsonSchema(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    try {
      validate = ajv.compile(schema);
    } finally {
      ajv.removeSchema(schema);
    }
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, validate);
  }
  return validate;
}

/** Problems of a schema against the 2020-12 meta-schema (`path: message`), empty when valid. */
export function metaSchemaProblems(schema: object): { path: string; message: string }[] {
  if (ajv.validateSchema(schema)) return [];
  return (ajv.errors ?? []).map((error) => ({
    path: error.instancePath || '/',
    message: error.message ?? 'invalid',
  }));
}

/** Validates data against a schema: readable errors (`/path message`), empty when valid. */
export function validateAgainst(schema: object, data: unknown): string[] {
  const validate = compileJsonSchema(schema);
  if (validate(data)) return [];
  return (validate.errors ?? []).map(
    (error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`,
  );
}
