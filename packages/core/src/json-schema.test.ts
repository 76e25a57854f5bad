import { describe, expect, it } from 'vitest';
import { compileJsonSchema, validateAgainst } from './json-schema.js';

describe('compileJsonSchema', () => {
  it('compiles schemas that share an $id, sent again as new objects or with new content', () => {
    const schema = (type: string) => ({
      $id: 'urn:example:invoice',
      type: 'object',
      properties: { total: { type } },
    });
    expect(validateAgainst(schema('number'), { total: 1 })).toEqual([]);
    expect(validateAgainst(schema('number'), { total: 1 })).toEqual([]);
    expect(validateAgainst(schema('string'), { total: 1 })).toEqual(['/total must be string']);
  });

  it('throws for a schema that does not compile', () => {
    expect(() => compileJsonSchema({ type: 'object', properties: { a: { $ref: '#/nowhere' } } })).toThrow(
      /can't resolve reference/,
    );
  });
});
