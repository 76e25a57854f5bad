import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const ajv = new Ajv2020({ allErrors: true, strict: false });
(addFormats as unknown as (instance: Ajv2020) => void)(ajv);
/** Compiled validators by schema text; batches share a handful of schemas. */
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

/** Checks an extract_result against its schema; returns readable errors, empty when valid. */
export function validateResult(schema: Record<string, unknown>, data: unknown): string[] {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    if (compiled.size >= 256) compiled.clear();
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  if (validate(data)) return [];
  return (validate.errors ?? []).map(
    (error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`,
  );
}

/**
 * Checks that `schema` is a JSON Schema docpipe can extract with: it compiles, and describes an
 * object. Returns readable problems, empty when it is fine.
 */
export function checkDataSchema(schema: Record<string, unknown>): string[] {
  if (schema.type !== 'object')
    return ['the top level must be "type": "object" (extraction fills an object)'];
  try {
    ajv.compile(schema);
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}
