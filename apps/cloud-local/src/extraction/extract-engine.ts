import type { ParsedPage } from '../documents/parsed-document.js';
import { parseAmount, parseBoolean, parseDate } from './typed-values.js';

/**
 * The first extraction engine: fills a JSON Schema from labelled values ("Invoice number: 42",
 * "Total<TAB>12.50") with typed coercion. A field without evidence is null: nothing is invented.
 * Each filled field carries a citation (page and matching text) and a confidence.
 */

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  format?: string;
  title?: string;
  description?: string;
  anyOf?: JsonSchema[];
};

export interface FieldEvidence {
  citation: { page: number; matching_text: string }[];
  confidence: number;
}

export interface ExtractionOutput {
  data: Record<string, unknown>;
  fieldMetadata: Record<string, unknown>;
}

interface Line {
  page: number;
  text: string;
}

export function extractFromPages(pages: readonly ParsedPage[], schema: JsonSchema): ExtractionOutput {
  const lines: Line[] = pages.flatMap((page) =>
    page.text
      .split('\n')
      .map((text) => text.trim())
      .filter(Boolean)
      .map((text) => ({ page: page.pageNumber, text })),
  );
  return fillObject(lines, schema);
}

function fillObject(lines: Line[], schema: JsonSchema): ExtractionOutput {
  const data: Record<string, unknown> = {};
  const fieldMetadata: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    const resolved = nonNullVariant(property);
    const type = primaryType(resolved);
    if (type === 'object') {
      const nested = fillObject(lines, resolved);
      const found = Object.values(nested.data).some(
        (value) => value !== null && !(Array.isArray(value) && !value.length),
      );
      data[key] = found ? nested.data : null;
      if (found) fieldMetadata[key] = nested.fieldMetadata;
      continue;
    }
    if (type === 'array') {
      data[key] = [];
      continue;
    }
    const match = findLabelled(lines, labelsFor(key, resolved));
    const value = match ? coerce(match.value, resolved) : null;
    data[key] = value;
    if (match && value !== null) {
      fieldMetadata[key] = {
        citation: [{ page: match.line.page, matching_text: match.line.text }],
        confidence: match.exact ? 0.9 : 0.7,
      } satisfies FieldEvidence;
    }
  }
  return { data, fieldMetadata };
}

function nonNullVariant(schema: JsonSchema): JsonSchema {
  if (schema.anyOf) return schema.anyOf.find((variant) => variant.type !== 'null') ?? schema;
  return schema;
}

function primaryType(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null');
  return schema.type ?? (schema.properties ? 'object' : undefined);
}

/** Label variants of a field: its key as words, and its title. */
function labelsFor(key: string, schema: JsonSchema): string[] {
  const words = key
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/[_\-.]+/g, ' ')
    .trim()
    .toLowerCase();
  const labels = new Set([words]);
  if (words.endsWith(' number')) {
    const stem = words.slice(0, -' number'.length);
    for (const suffix of ['no', 'nr', '#', 'num']) labels.add(`${stem} ${suffix}`);
  }
  if (schema.title) labels.add(schema.title.toLowerCase());
  return [...labels];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function findLabelled(
  lines: Line[],
  labels: string[],
): { line: Line; value: string; exact: boolean } | undefined {
  for (const label of labels) {
    const pattern = new RegExp(
      `(?:^|\\t|\\s{2,}|\\|)\\s*${label.split(' ').map(escapeRegExp).join('[\\s_.-]*')}\\s*(?:\\.|:|#|-)?\\s*[:\\t]?\\s*(.+)$`,
      'i',
    );
    for (const line of lines) {
      const match = pattern.exec(line.text);
      const value = match?.[1]?.split('\t')[0]?.trim();
      if (value) return { line, value: value.replace(/^[:#]\s*/, ''), exact: /:|\t/.test(line.text) };
    }
  }
  return undefined;
}

function coerce(raw: string, schema: JsonSchema): unknown {
  const type = primaryType(schema);
  if (schema.enum) {
    const hit = schema.enum.find((option) => String(option).toLowerCase() === raw.toLowerCase());
    return hit ?? null;
  }
  switch (type) {
    case 'number':
      return parseAmount(raw);
    case 'integer': {
      const amount = parseAmount(raw);
      return amount !== null && Number.isInteger(amount) ? amount : null;
    }
    case 'boolean':
      return parseBoolean(raw);
    default:
      if (schema.format === 'date') return parseDate(raw);
      return raw;
  }
}
