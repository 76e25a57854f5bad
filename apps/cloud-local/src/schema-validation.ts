import { compileJsonSchema, metaSchemaProblems, validateAgainst } from '@docpipe/core';
import { HttpError } from './http-errors.js';

export interface SchemaProblem {
  path: string;
  message: string;
}

/**
 * Checks a data_schema as Extract v2 needs it: a valid JSON Schema (2020-12 meta-schema, refs
 * resolvable) whose root is an object with properties. Returns the problems, empty when valid.
 */
export function checkDataSchema(schema: unknown): SchemaProblem[] {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) {
    return [{ path: '', message: 'data_schema must be a JSON object' }];
  }
  const problems = metaSchemaProblems(schema);
  if (problems.length) return problems;
  try {
    compileJsonSchema(schema);
  } catch (error) {
    return [{ path: '/', message: (error as Error).message }];
  }
  const root = schema as { type?: unknown; properties?: unknown };
  if (root.type !== 'object')
    problems.push({ path: '/type', message: 'the root of data_schema must have type "object"' });
  if (!root.properties || typeof root.properties !== 'object' || Object.keys(root.properties).length === 0) {
    problems.push({ path: '/properties', message: 'data_schema must define at least one property' });
  }
  return problems;
}

/** Validates data against a schema; returns error strings, empty when valid. */
export const validateData = (schema: object, data: unknown): string[] => validateAgainst(schema, data);

/** Checks a data_schema and answers 422 with one `{loc, msg, type}` per problem, under `loc`. */
export function schemaProblemsOr422(schema: unknown, loc: string[]): void {
  const problems = checkDataSchema(schema);
  if (problems.length > 0) {
    throw new HttpError(
      422,
      problems.map((problem) => ({
        loc: [...loc, ...problem.path.split('/').filter(Boolean)],
        msg: problem.message,
        type: 'value_error',
      })),
    );
  }
}
