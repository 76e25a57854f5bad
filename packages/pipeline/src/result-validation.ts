import { compileJsonSchema, validateAgainst } from '@docpipe/core';

/**
 * Checks an extract_result against its schema; returns readable errors, empty when valid.
 * per_page and per_table_row results are lists: each item is checked (`/2/total …`).
 */
export function validateResult(
  schema: Record<string, unknown>,
  data: unknown,
  target: 'per_doc' | 'per_page' | 'per_table_row' = 'per_doc',
): string[] {
  if (target === 'per_doc') return validateAgainst(schema, data);
  if (!Array.isArray(data)) return [`/ must be a list of results (${target})`];
  return data.flatMap((item, i) => validateAgainst(schema, item).map((error) => `/${i}${error}`));
}

/**
 * Checks that `schema` is a JSON Schema docpipe can extract with: it compiles, and describes an
 * object. Returns readable problems, empty when it is fine.
 */
export function checkDataSchema(schema: Record<string, unknown>): string[] {
  if (schema.type !== 'object')
    return ['the top level must be "type": "object" (extraction fills an object)'];
  try {
    compileJsonSchema(schema);
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}
