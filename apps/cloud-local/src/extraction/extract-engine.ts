import type { ParsedPage } from '../documents/parsed-document.js';
import {
  CONCEPTS,
  type Concept,
  CURRENCY_SYMBOLS,
  DOCUMENT_KINDS,
  ISO_CURRENCIES,
  LEGAL_FORMS,
  type ValueKind,
} from './concepts.js';
import { parseAmount, parseBoolean, parseDate } from './typed-values.js';

/**
 * The extraction engine: fills a JSON Schema from parsed pages without a model. Each field is
 * matched to a concept (invoice number, total, seller …) by its name and title, or else read
 * by its own name as a label. Labels are found anywhere in a line, in six languages; where two
 * labels overlap the longer one wins ("Total before tax" is not "Total"). The value is read
 * after the label on its line, or from the next lines (label and value on separate lines, as
 * in HTML tables), by the field's type: ids, dates (to ISO 8601), amounts of any locale, ISO
 * currency codes, names. A field without evidence is null: nothing is invented. Each value
 * carries a citation (page and line) and a confidence.
 */

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  title?: string;
  description?: string;
  anyOf?: JsonSchema[];
  required?: string[];
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
  /** Lower case, accents removed, same length as `text`. */
  folded: string;
}

interface LabelHit {
  concept: Concept;
  label: string;
  line: number;
  start: number;
  end: number;
}

interface Found {
  value: unknown;
  line: Line;
  confidence: number;
}

/** Letters with a stroke, which Unicode does not decompose into base and accent. */
const UNDECOMPOSED: Record<string, string> = { ł: 'l', Ł: 'L', ø: 'o', Ø: 'O', đ: 'd', Đ: 'D', ı: 'i' };

/** Lower case without accents, index for index (so positions in it are positions in the text). */
export function fold(text: string): string {
  let out = '';
  for (const char of text) {
    const base = (UNDECOMPOSED[char] ?? char).normalize('NFD')[0]!.toLowerCase();
    out += base.length === char.length ? base : char.length === 1 ? base[0]! : char;
  }
  return out;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A label's words, apart by spaces or punctuation but never by a tab (a table's cell border). */
const labelPattern = (label: string) =>
  new RegExp(
    `(?<![\\p{L}\\p{N}])${label.split(/\s+/).map(escapeRegExp).join('(?:[^\\S\\t]|[._/-])*')}(?![\\p{L}])(?![-/][\\p{L}\\p{N}])`,
    'gu',
  );

const CONCEPT_LABELS = CONCEPTS.flatMap((concept) =>
  concept.labels.map((label) => ({ concept, label, pattern: labelPattern(label) })),
);

/** Short words that qualify the label above them ("Gesamtsumme" / "netto" / "403,55"). */
const QUALIFIERS = new Set(['netto', 'brutto', 'net', 'gross', 'ht', 'ttc', 'excl. vat', 'incl. vat']);

export class DocumentText {
  readonly lines: Line[];
  readonly hits: LabelHit[];
  /** Dates read day first (13/11/2017) unless the document looks American. */
  readonly dayFirst: boolean;

  constructor(pages: readonly ParsedPage[]) {
    const lines: Line[] = [];
    for (const page of pages) {
      for (const raw of page.text.split('\n')) {
        const text = raw.trim();
        if (!text) continue;
        const previous = lines[lines.length - 1];
        // A qualifier line belongs to the label above it.
        if (previous && QUALIFIERS.has(text.toLowerCase()) && !/\d/.test(previous.text)) {
          previous.text = `${previous.text} ${text}`;
          previous.folded = fold(previous.text);
          continue;
        }
        lines.push({ page: page.pageNumber, text, folded: fold(text) });
      }
    }
    this.lines = lines;
    this.hits = lines.flatMap((line, index) => labelHits(line, index));
    const all = lines.map((l) => l.text).join('\n');
    this.dayFirst = !(/\$\s?\d|\bUSD\b/.test(all) && !/€|\bEUR\b/.test(all));
  }

  hitsOf(concept: string) {
    return this.hits.filter((hit) => hit.concept.name === concept);
  }

  /** The text after a hit on its line, up to the next label hit on that line. */
  restAfter(hit: LabelHit): string {
    const next = this.hits.find((h) => h.line === hit.line && h.start >= hit.end);
    const text = this.lines[hit.line]!.text;
    return text.slice(hit.end, next ? next.start : text.length);
  }
}

function labelHits(line: Line, index: number): LabelHit[] {
  const all: LabelHit[] = [];
  for (const { concept, label, pattern } of CONCEPT_LABELS) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(line.folded); m; m = pattern.exec(line.folded)) {
      all.push({ concept, label, line: index, start: m.index, end: m.index + m[0].length });
    }
  }
  // Longest first; a hit overlapping a longer one is dropped.
  all.sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: LabelHit[] = [];
  for (const hit of all) {
    if (!kept.some((k) => hit.start < k.end && k.start < hit.end)) kept.push(hit);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** Extracts one object from the pages, as `schema` describes it. */
export function extractFromPages(pages: readonly ParsedPage[], schema: JsonSchema): ExtractionOutput {
  return fillObject(new DocumentText(pages), schema);
}

/**
 * per_table_row: one object per row of the first table whose header names the schema's
 * properties; no such table, no rows.
 */
export function extractTableRows(pages: readonly ParsedPage[], schema: JsonSchema): ExtractionOutput[] {
  return tableRows(new DocumentText(pages), schema).map((row) => ({
    data: row.value,
    fieldMetadata: Object.fromEntries(
      Object.entries(row.value)
        .filter(([, value]) => value !== null)
        .map(([key]) => [
          key,
          {
            citation: [{ page: row.line.page, matching_text: row.line.text }],
            confidence: 0.8,
          } satisfies FieldEvidence,
        ]),
    ),
  }));
}

function fillObject(doc: DocumentText, schema: JsonSchema): ExtractionOutput {
  const data: Record<string, unknown> = {};
  const fieldMetadata: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    const resolved = nonNullVariant(property);
    const type = primaryType(resolved);
    if (type === 'object') {
      const nested = fillObject(doc, resolved);
      const found = Object.values(nested.data).some(
        (value) => value !== null && !(Array.isArray(value) && !value.length),
      );
      if (!found && !nullable(property) && !schema.required?.includes(key)) continue;
      data[key] = found ? nested.data : null;
      if (found) fieldMetadata[key] = nested.fieldMetadata;
      continue;
    }
    if (type === 'array') {
      const rows = resolved.items ? tableRows(doc, nonNullVariant(resolved.items)) : [];
      data[key] = rows.map((row) => row.value);
      if (rows.length)
        fieldMetadata[key] = {
          citation: rows.map((row) => ({ page: row.line.page, matching_text: row.line.text })),
          confidence: 0.6,
        } satisfies FieldEvidence;
      continue;
    }
    const found = findField(doc, key, resolved);
    if (!found && !nullable(property) && !schema.required?.includes(key)) continue; // omitted: still valid
    data[key] = found?.value ?? null;
    if (found) {
      fieldMetadata[key] = {
        citation: [{ page: found.line.page, matching_text: found.line.text }],
        confidence: found.confidence,
      } satisfies FieldEvidence;
    }
  }
  return { data, fieldMetadata };
}

/** Whether a field may be null; a field that may not, and is not required, is left out when empty. */
const nullable = (schema: JsonSchema): boolean =>
  (Array.isArray(schema.type) && schema.type.includes('null')) ||
  schema.type === 'null' ||
  (schema.anyOf ?? []).some((variant) => variant.type === 'null') ||
  (schema.enum ?? []).includes(null);

function nonNullVariant(schema: JsonSchema): JsonSchema {
  if (schema.anyOf) return schema.anyOf.find((variant) => variant.type !== 'null') ?? schema;
  return schema;
}

function primaryType(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null');
  return schema.type ?? (schema.properties ? 'object' : undefined);
}

const keyWords = (key: string) =>
  key
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/[_\-.]+/g, ' ')
    .trim()
    .toLowerCase();

/**
 * The concept a field asks for: by its name or title, else by the first label its description
 * opens with ("Grand total incl. VAT" names a total whatever the field is called).
 */
function conceptOf(key: string, schema: JsonSchema): Concept | undefined {
  const names = [keyWords(key), schema.title ? fold(schema.title) : ''];
  const named = CONCEPTS.find((concept) => names.some((name) => name && concept.keys.test(name)));
  if (named || !schema.description) return named;
  const first = schema.description.split(/[.;(]/)[0]!;
  const hit = labelHits({ page: 0, text: first, folded: fold(first) }, 0)[0];
  return hit && !hit.concept.name.startsWith('other_') ? hit.concept : undefined;
}

function kindOf(schema: JsonSchema, concept: Concept | undefined, key = ''): ValueKind {
  const type = primaryType(schema);
  if (type === 'number' || type === 'integer') return 'amount';
  if (schema.format === 'date' || schema.format === 'date-time') return 'date';
  if (schema.format === 'email' || /(^| )e ?mail( |$)/.test(keyWords(key))) return 'email';
  if (/(^| )iban( |$)/.test(keyWords(key))) return 'iban';
  return concept?.kind ?? 'text';
}

function findField(doc: DocumentText, key: string, schema: JsonSchema): Found | undefined {
  if (schema.enum) return findEnum(doc, key, schema);
  const concept = primaryType(schema) === 'boolean' ? undefined : conceptOf(key, schema);
  const kind = kindOf(schema, concept, key);
  const found = concept ? findByConcept(doc, concept, kind) : findByOwnLabel(doc, key, schema, kind);
  if (!found)
    return kind === 'email' || kind === 'iban' ? selfEvident(doc, kind) : fallback(doc, concept, kind);
  const value = coerce(found.value, schema);
  return value === null ? undefined : { ...found, value };
}

/** The best-supported value among the concept's label hits. */
function findByConcept(doc: DocumentText, concept: Concept, kind: ValueKind): Found | undefined {
  let best: (Found & { score: number }) | undefined;
  for (const hit of doc.hitsOf(concept.name)) {
    const read = readValue(doc, hit.line, doc.restAfter(hit), kind);
    if (!read) continue;
    // Specific labels first; for ids and dates the earliest, for amounts with a currency mark.
    let score = hit.label.length * 4 - (read.sameLine ? 0 : 3);
    if (kind === 'amount' && read.currencyMarked) score += 6;
    // Ids and names come first in a document; of amounts under one label, the sum is at least
    // its parts (per shipment, per tax rate).
    const position = hit.line + hit.start / 1e5;
    if (kind === 'id') score -= position * 2;
    else if (kind === 'amount') score += Math.log10(1 + Math.abs(read.value as number)) * 0.5;
    else score -= position * 0.01;
    if (!best || score > best.score) {
      best = {
        value: read.value,
        line: doc.lines[read.line]!,
        confidence: read.sameLine ? 0.9 : 0.75,
        score,
      };
    }
  }
  return best && { value: best.value, line: best.line, confidence: best.confidence };
}

/** A field no concept knows: its own name and title as labels. */
function findByOwnLabel(
  doc: DocumentText,
  key: string,
  schema: JsonSchema,
  kind: ValueKind,
): Found | undefined {
  const labels = [keyWords(key), ...(schema.title ? [fold(schema.title)] : [])];
  for (const label of labels) {
    const pattern = labelPattern(label);
    for (const [index, line] of doc.lines.entries()) {
      pattern.lastIndex = 0;
      const m = pattern.exec(line.folded);
      if (!m) continue;
      const read = readValue(doc, index, line.text.slice(m.index + m[0].length), kindFor(kind, key));
      if (read)
        return { value: read.value, line: doc.lines[read.line]!, confidence: read.sameLine ? 0.85 : 0.7 };
    }
  }
  return undefined;
}

const kindFor = (kind: ValueKind, key: string): ValueKind =>
  kind !== 'text' ? kind : /(^|_)(number|no|nr|id|code|iban|ref)$/i.test(key) ? 'id' : 'text';

interface Read {
  value: unknown;
  line: number;
  sameLine: boolean;
  currencyMarked?: boolean;
}

/** Reads a value of `kind` from the rest of a label's line, else from the lines below it. */
function readValue(doc: DocumentText, lineIndex: number, rest: string, kind: ValueKind): Read | undefined {
  const same = readKind(doc, rest, kind, true);
  if (same !== undefined) return { ...same, line: lineIndex, sameLine: true };
  // Something else follows the label on its line, or the line is a table header of several
  // labels: the value is not below it.
  if (rest.replace(/^[\s:#.\-–]+/, '').trim() && kind === 'party') return undefined;
  if (doc.hits.filter((hit) => hit.line === lineIndex).length > 1) return undefined;
  for (let i = lineIndex + 1; i < Math.min(doc.lines.length, lineIndex + 7); i++) {
    const text = doc.lines[i]!.text;
    if (doc.hits.some((hit) => hit.line === i && hit.start === 0 && kind !== 'party')) return undefined;
    if (kind === 'party' && isLabelOnly(text)) continue;
    const below = readKind(doc, text, kind, false);
    if (below !== undefined) return { ...below, line: i, sameLine: false };
    if (kind !== 'party' && i >= lineIndex + 3) break;
  }
  return undefined;
}

/** "Name:", "Leitweg-ID:", "Nummer : 12345676": a label line with no name in it. */
const isLabelOnly = (text: string) =>
  /:\s*$/.test(text) || /^[^:]{1,30}:\s*[\d\s\W]*$/u.test(text) || !/\p{L}{2}/u.test(text);

function readKind(
  doc: DocumentText,
  text: string,
  kind: ValueKind,
  afterLabel: boolean,
): { value: unknown; currencyMarked?: boolean } | undefined {
  // Separators, and "No." / "Nr" / "N°" between a label and its value (not the "No" of "Northwind").
  const rest = text.replace(/^(?:[\s:#.–]|-(?!\s?\d))*(?:(?:n[°º]|nr|no)(?=[\s:#.]|$))?[\s:#.]*/i, '');
  switch (kind) {
    case 'amount': {
      const amount = firstAmount(rest);
      return amount ?? undefined;
    }
    case 'date': {
      const date = parseDate(rest, { dayFirst: doc.dayFirst });
      return date ? { value: date } : undefined;
    }
    case 'currency': {
      const code = /\b([A-Z]{3})\b/.exec(rest)?.[1];
      return code && ISO_CURRENCIES.has(code) ? { value: code } : undefined;
    }
    case 'id': {
      // "Invoice No: 7", "Invoice # RE-2020/508 issued at …", "Facture FA-2017-0010": the first
      // token after the label; one without digits only when a separator announces it and it
      // reads as a code (INV-OLD).
      const explicit = afterLabel && /^\s*(?:[:#]|n[°o]\.?\s|nr\.?\s|nº)/i.test(text);
      const tokens = rest.split(/\s+/).map((t) => t.replace(/^[#:(]+|[.,;:)]+$/g, ''));
      const isId = (t: string) =>
        !parseDate(t) &&
        !/%$/.test(t) &&
        ((/\d/.test(t) && (t.length >= 3 || explicit)) || (explicit && /^[A-Z][A-Z0-9_/-]+$/.test(t)));
      if (tokens[0] && isId(tokens[0])) return { value: tokens[0] };
      const later = afterLabel ? tokens.find((t) => /\d/.test(t) && t.length >= 3 && isId(t)) : undefined;
      return later ? { value: later } : undefined;
    }
    case 'party': {
      const name = rest
        .replace(/^(name|nom|naam|nazwa|nombre)\s*:\s*/i, '')
        .split(/\t|\s{2,}| - | ● |\s\|\s/)[0]!
        .split(/\s(?=[A-Z][\p{L}-]*(?: [\p{L}-]+)?:)/u)[0]!
        .trim();
      return name && /\p{L}{2}/u.test(name) && !parseDate(name) && !/^[\d\s.,:/-]+$/.test(name)
        ? { value: name }
        : undefined;
    }
    case 'email': {
      const email = EMAIL.exec(rest)?.[0];
      return email ? { value: email } : undefined;
    }
    case 'iban': {
      const iban = ibansIn(rest)[0];
      return iban ? { value: iban } : undefined;
    }
    default: {
      const value = rest.split(/\t|\s{2,}/)[0]!.trim();
      return value ? { value } : undefined;
    }
  }
}

/** The first amount in a text that is not a percentage or a date, and whether a currency marks it. */
function firstAmount(text: string): { value: number; currencyMarked: boolean } | undefined {
  // Groups of three after a space, dot, comma or apostrophe (1 234,56 · 1.234,56 · 1'234.56).
  const pattern =
    /(?<![\p{L}\d.,/])[-−]?\s?(?:[€$£₹¥]\s?)?(?:\d{1,3}(?:[ \u00a0\u202f'.,]\d{3})+(?!\d)|\d+)(?:[.,]\d+)?/gu;
  for (const m of text.matchAll(pattern)) {
    const token = m[0];
    const after = text.slice(m.index + token.length);
    if (/^\s?%/.test(after) || /^[./]\d/.test(after)) continue;
    if (parseDate(token + after.slice(0, 6))) continue;
    const value = parseAmount(token);
    if (value === null) continue;
    const around = text.slice(Math.max(0, m.index - 4), m.index + token.length + 5);
    return { value, currencyMarked: /[€$£₹¥]|\b[A-Z]{3}\b/.test(around) };
  }
  return undefined;
}

const EMAIL = /[\p{L}\d._%+-]+@[\p{L}\d-]+(?:\.[\p{L}\d-]+)+/u;

/** IBANs in a text (spaces allowed in groups of four), those whose ISO 13616 check digits hold. */
function ibansIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g)) {
    const iban = m[0].replace(/ /g, '');
    const digits = `${iban.slice(4)}${iban.slice(0, 4)}`.replace(/[A-Z]/g, (c) =>
      String(c.charCodeAt(0) - 55),
    );
    let rest = 0;
    for (const digit of digits) rest = (rest * 10 + Number(digit)) % 97;
    if (rest === 1) found.push(iban);
  }
  return found;
}

/**
 * Values that identify themselves when no label names them: the one email address of a
 * document (not when there are several), the first valid IBAN (its check digits prove it).
 */
function selfEvident(doc: DocumentText, kind: 'email' | 'iban'): Found | undefined {
  const hits = doc.lines.flatMap((line) =>
    (kind === 'email'
      ? [...line.text.matchAll(new RegExp(EMAIL, 'gu'))].map((m) => m[0])
      : ibansIn(line.text)
    ).map((value) => ({ value, line })),
  );
  const distinct = new Set(hits.map((hit) => hit.value));
  if (!hits.length || (kind === 'email' && distinct.size > 1)) return undefined;
  return { value: hits[0]!.value, line: hits[0]!.line, confidence: 0.6 };
}

/** Where labels found nothing: the document's own evidence, only in a financial document. */
function fallback(doc: DocumentText, concept: Concept | undefined, kind: ValueKind): Found | undefined {
  if (!concept || !isFinancial(doc)) return undefined;
  if (concept.name === 'currency') return currencyFromAmounts(doc);
  if (concept.name === 'invoice_date') {
    // The first date printed that no other label claims.
    for (const [index, line] of doc.lines.entries()) {
      if (doc.hits.some((hit) => hit.line === index && hit.concept.kind === 'date')) continue;
      const date = parseDate(line.text, { dayFirst: doc.dayFirst });
      if (date) return { value: date, line, confidence: 0.5 };
    }
  }
  if (concept.name === 'vendor_name' && kind === 'party') return vendorFromLetterhead(doc);
  return undefined;
}

/** A document with a total or an invoice number, the evidence that it is about money. */
const isFinancial = (doc: DocumentText) =>
  doc.hits.some((hit) => hit.concept.name === 'total_amount' || hit.concept.name === 'invoice_number') &&
  doc.lines.some((line) => MONEY.test(line.text));

/** A number with a currency symbol or code next to it. */
const CODES = [...ISO_CURRENCIES].join('|');
const MONEY = new RegExp(
  `[€$£₹¥]\\s?\\d|\\d\\s?(?:[€£₹]|zł|kr\\b)|\\b(?:${CODES}|Rs\\.?)\\s?\\d|\\d\\s?(?:${CODES})\\b`,
  'u',
);

function currencyFromAmounts(doc: DocumentText): Found | undefined {
  const counts = new Map<string, { n: number; line: Line }>();
  for (const line of doc.lines) {
    for (const m of line.text.matchAll(/\b[A-Z]{3}\b|[€$£₹¥]|\b(?:Rs\.?|zł)/gu)) {
      const code = ISO_CURRENCIES.has(m[0]) ? m[0] : CURRENCY_SYMBOLS[m[0].toLowerCase()];
      if (!code) continue;
      const entry = counts.get(code) ?? { n: 0, line };
      entry.n += 1;
      counts.set(code, entry);
    }
  }
  const [code, best] = [...counts].sort((a, b) => b[1].n - a[1].n)[0] ?? [];
  return code && best ? { value: code, line: best.line, confidence: 0.6 } : undefined;
}

/** A letterhead: a company name with a legal form, or a capitalised first line, at the top. */
function vendorFromLetterhead(doc: DocumentText): Found | undefined {
  const top = doc.lines.slice(0, 6);
  for (const line of top) {
    const segment = line.text.split(/ - | ● |\t|\s\|\s/).find((part) => LEGAL_FORMS.test(part));
    if (segment && segment.length <= 60 && !/\d{3,}/.test(segment))
      return { value: segment.trim(), line, confidence: 0.55 };
  }
  const first = top.find((line) => /\p{L}/u.test(line.text) && !parseDate(line.text));
  if (first && /^[\p{Lu}&.,' -]{4,40}$/u.test(first.text))
    return { value: first.text, line: first, confidence: 0.5 };
  return undefined;
}

/** An enum field: a labelled option, or for document kinds, the words that name the kind. */
function findEnum(doc: DocumentText, key: string, schema: JsonSchema): Found | undefined {
  const options = (schema.enum ?? []).filter((option): option is string => typeof option === 'string');
  const own = findByOwnLabel(doc, key, { ...schema, enum: undefined }, 'text');
  if (own) {
    const hit = options.find((option) => fold(String(own.value)).includes(fold(option).replace(/_/g, ' ')));
    if (hit) return { ...own, value: hit };
  }
  if (!/type|kind|category/.test(keyWords(key))) return undefined;
  const kinds = DOCUMENT_KINDS.filter((kind) => options.includes(kind.kind));
  // The first line (of the top 20, else any) that names a kind decides; credit notes and
  // receipts before invoices on the same line.
  for (const zone of [doc.lines.slice(0, 20), doc.lines]) {
    for (const line of zone) {
      for (const kind of kinds) {
        if (
          kind.words.some((word) => new RegExp(`(?<![\\p{L}])${escapeRegExp(word)}`, 'u').test(line.folded))
        )
          return { value: kind.kind, line, confidence: 0.7 };
      }
    }
  }
  return undefined;
}

function coerce(raw: unknown, schema: JsonSchema): unknown {
  if (typeof raw !== 'string') return raw;
  const type = primaryType(schema);
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
      if (schema.pattern && !new RegExp(schema.pattern, 'u').test(raw)) return null;
      return raw;
  }
}

/**
 * Rows of the first table whose header names at least two of the item's properties (cells split
 * by tabs), each row filled by column. Rows end where the cell count no longer fits.
 */
function tableRows(doc: DocumentText, item: JsonSchema): { value: Record<string, unknown>; line: Line }[] {
  const properties = Object.entries(item.properties ?? {});
  if (!properties.length) return [];
  for (const [index, line] of doc.lines.entries()) {
    const header = line.text.split('\t').map((cell) => fold(cell.trim()));
    if (header.length < 2) continue;
    const columns = properties.map(([key, schema]) => ({
      key,
      schema: nonNullVariant(schema),
      column: header.findIndex((cell) => cell && columnMatches(cell, key, schema)),
    }));
    if (columns.filter((c) => c.column >= 0).length < 2) continue;
    const rows: { value: Record<string, unknown>; line: Line }[] = [];
    for (const rowLine of doc.lines.slice(index + 1)) {
      const cells = rowLine.text.split('\t').map((cell) => cell.trim());
      // A row of another shape, or one that starts with a label (Subtotal, Total …), ends the table.
      if (cells.length < header.length - 1 || cells.length > header.length + 1) break;
      if (startsWithLabel(doc, rowLine)) break;
      const value: Record<string, unknown> = {};
      for (const { key, schema, column } of columns) {
        const cell = column >= 0 ? cells[column] : undefined;
        value[key] = cell ? coerce(cell, schema) : null;
      }
      if (Object.values(value).every((v) => v === null)) break;
      rows.push({ value, line: rowLine });
    }
    if (rows.length) return rows;
  }
  return [];
}

const startsWithLabel = (doc: DocumentText, line: Line) =>
  doc.hits.some((hit) => hit.start === 0 && doc.lines[hit.line] === line && hit.concept.kind === 'amount');

const COLUMN_SYNONYMS: Record<string, string[]> = {
  description: [
    'description',
    'item',
    'product',
    'article',
    'beschreibung',
    'artikel',
    'bezeichnung',
    'designation',
    'omschrijving',
    'opis',
    'nazwa',
    'descripcion',
    'concepto',
  ],
  quantity: ['quantity', 'qty', 'menge', 'anzahl', 'quantite', 'qte', 'aantal', 'ilosc', 'cantidad'],
  unit_price: [
    'unit price',
    'price',
    'rate',
    'einzelpreis',
    'preis',
    'prix unitaire',
    'prix',
    'prijs',
    'cena',
    'precio',
  ],
  amount: ['amount', 'total', 'line total', 'betrag', 'gesamt', 'montant', 'bedrag', 'wartosc', 'importe'],
};

function columnMatches(cell: string, key: string, schema: JsonSchema): boolean {
  const words = keyWords(key);
  if (cell === words || cell.includes(words) || (schema.title && cell.includes(fold(schema.title))))
    return true;
  const concept = Object.entries(COLUMN_SYNONYMS).find(([name, synonyms]) =>
    [name.replace('_', ' '), ...synonyms].some(
      (s) => words === s || words.endsWith(` ${s}`) || words.startsWith(`${s} `),
    ),
  );
  return !!concept && concept[1].some((synonym) => cell === synonym || cell.startsWith(`${synonym} `));
}
