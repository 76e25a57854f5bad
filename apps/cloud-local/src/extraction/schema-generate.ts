import type { ParsedPage } from '../documents/parsed-document.js';
import { CONCEPTS, type Concept } from './concepts.js';
import { DocumentText, fold } from './extract-engine.js';
import { parseAmount, parseDate } from './typed-values.js';

type Schema = Record<string, unknown>;

const DESCRIPTIONS: Record<string, string> = {
  invoice_number: 'Identifier the issuer gave the document, as printed, without its label.',
  invoice_date: 'Issue date of the document, ISO 8601 (YYYY-MM-DD).',
  due_date: 'Payment due date, ISO 8601 (YYYY-MM-DD).',
  subtotal_amount: 'Total before tax, as a number.',
  tax_amount: 'Total tax, as a number.',
  total_amount: 'Grand total including tax, as a number.',
  amount_due: 'Amount still to pay, as a number.',
  currency: 'ISO 4217 code of the document currency.',
  vendor_name: 'Name of the party that issued the document.',
  buyer_name: 'Name of the customer the document is addressed to.',
};

function propertyFor(concept: Concept): Schema {
  const description = DESCRIPTIONS[concept.name] ?? `${concept.labels[0]} as printed on the document.`;
  switch (concept.kind) {
    case 'amount':
      return { type: ['number', 'null'], description };
    case 'date':
      return { type: ['string', 'null'], format: 'date', description };
    case 'currency':
      return { type: ['string', 'null'], pattern: '^[A-Z]{3}$', description };
    default:
      return { type: ['string', 'null'], description };
  }
}

/** Concepts that docpipe would ask for, without the ones that only keep labels apart. */
const FIELD_CONCEPTS = CONCEPTS.filter((concept) => !concept.name.startsWith('other_'));

const snake = (label: string) =>
  fold(label)
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

/**
 * A sensible Extract v2 schema from what is given: the fields a prompt names, the labelled fields
 * a document shows, and a schema to extend. Every field is nullable (nothing is invented when a
 * document lacks it) and described. Returns undefined when nothing suggests a field.
 */
export function generateSchema(input: {
  prompt?: string;
  pages?: readonly ParsedPage[];
  dataSchema?: Schema;
}) {
  const properties: Record<string, Schema> = {
    ...((input.dataSchema?.properties as Record<string, Schema> | undefined) ?? {}),
  };
  const add = (name: string, property: Schema) => {
    if (name && !(name in properties) && Object.keys(properties).length < 50) properties[name] = property;
  };
  if (input.pages?.length) {
    const doc = new DocumentText(input.pages);
    for (const concept of FIELD_CONCEPTS) {
      if (doc.hits.some((hit) => hit.concept === concept)) add(concept.name, propertyFor(concept));
    }
    // Other "Label: value" lines become fields typed by their value.
    for (const line of doc.lines) {
      const m = /^([\p{L}][\p{L} .'/-]{1,40}):\s*(\S.*)$/u.exec(line.text);
      if (!m || doc.hits.some((hit) => doc.lines[hit.line] === line)) continue;
      const value = m[2]!;
      const type = parseDate(value)
        ? { type: ['string', 'null'], format: 'date' }
        : /^[-\d\s.,'€$£]+(\s?[A-Z]{3})?$/.test(value) && parseAmount(value) !== null
          ? { type: ['number', 'null'] }
          : { type: ['string', 'null'] };
      add(snake(m[1]!), { ...type, description: `${m[1]!.trim()} as printed on the document.` });
    }
  }
  if (input.prompt) {
    // The prompt read like a document line: the longer of overlapping labels wins ("due date").
    const prompt = new DocumentText([
      { pageNumber: 1, text: input.prompt.replace(/\n/g, ' '), markdown: '' },
    ]);
    for (const concept of FIELD_CONCEPTS) {
      const named = new RegExp(`(?<![\\p{L}])${concept.name.replace(/_/g, '[ _]')}(?![\\p{L}])`, 'u');
      if (prompt.hits.some((hit) => hit.concept === concept) || named.test(fold(input.prompt)))
        add(concept.name, propertyFor(concept));
    }
  }
  if (Object.keys(properties).length === 0) return undefined;
  return { type: 'object', properties };
}
