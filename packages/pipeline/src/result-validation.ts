import { compileJsonSchema, validateAgainst } from '@docpipe/core';

/** Checks an extract_result against its schema; returns readable errors, empty when valid. */
export const validateResult = (schema: Record<string, unknown>, data: unknown): string[] =>
  validateAgainst(schema, data);

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
