/**
 * Scoring of extractions against a labelled folder's MANIFEST.json (rules as in the corpus
 * README): a key in `expected` is scored, an absent one is not; `null` must come back null;
 * amounts compare as numbers (±0.01), dates as ISO YYYY-MM-DD, currencies as ISO 4217 codes,
 * strings trimmed and case-folded; `accept_alternatives` lists other right answers;
 * `expected: {error: true}` means the document must fail alone, with a reason.
 */

export interface ManifestEntry {
  file: string;
  expected: Record<string, unknown>;
  accept_alternatives?: Record<string, unknown[]>;
}

export interface FieldScore {
  field: string;
  ok: boolean;
  expected: unknown;
  actual: unknown;
}

export type DocumentOutcome = { data: Record<string, unknown> } | { error: string };

export interface DocumentScore {
  file: string;
  /** The document was expected to fail (hostile input). */
  expectsError: boolean;
  /** For hostile input: it failed, with this reason. For the rest: it failed unexpectedly. */
  error?: string;
  /** For hostile input: right when it failed; for the rest, every field scored right. */
  ok: boolean;
  fields: FieldScore[];
}

const normalText = (value: string) => value.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();

/** Whether one extracted value matches one expected value. */
export function valueMatches(expected: unknown, actual: unknown): boolean {
  if (expected === null) return actual === null || actual === undefined;
  if (actual === null || actual === undefined) return false;
  if (typeof expected === 'number') {
    const number = typeof actual === 'number' ? actual : Number.NaN;
    return Math.abs(number - expected) <= 0.01 + 1e-9;
  }
  if (typeof expected === 'string') {
    if (typeof actual !== 'string') return false;
    if (/^\d{4}-\d{2}-\d{2}$/.test(expected)) return actual.trim().slice(0, 10) === expected;
    return normalText(actual) === normalText(expected);
  }
  if (typeof expected === 'boolean') return actual === expected;
  return JSON.stringify(expected) === JSON.stringify(actual);
}

export function scoreDocument(entry: ManifestEntry, outcome: DocumentOutcome): DocumentScore {
  const expectsError = entry.expected.error === true;
  if (expectsError) {
    return {
      file: entry.file,
      expectsError,
      ok: 'error' in outcome && outcome.error.trim().length > 0,
      ...('error' in outcome ? { error: outcome.error } : {}),
      fields: [],
    };
  }
  const data = 'data' in outcome ? outcome.data : {};
  const fields = Object.entries(entry.expected).map(([field, expected]) => {
    const actual = data[field] ?? null;
    const candidates = [expected, ...(entry.accept_alternatives?.[field] ?? [])];
    return { field, expected, actual, ok: candidates.some((c) => valueMatches(c, actual)) };
  });
  return {
    file: entry.file,
    expectsError,
    ok: !('error' in outcome) && fields.every((f) => f.ok),
    ...('error' in outcome ? { error: outcome.error } : {}),
    fields,
  };
}

export interface EvalSummary {
  perField: { field: string; scored: number; correct: number; accuracy: number }[];
  /** Every scored field of every document that should succeed. */
  overall: { scored: number; correct: number; accuracy: number };
  hostile: { total: number; failedCleanly: number };
}

const ratio = (correct: number, scored: number) => (scored === 0 ? 1 : correct / scored);

export function summarize(scores: readonly DocumentScore[]): EvalSummary {
  const byField = new Map<string, { scored: number; correct: number }>();
  for (const score of scores) {
    for (const field of score.fields) {
      const tally = byField.get(field.field) ?? { scored: 0, correct: 0 };
      tally.scored += 1;
      if (field.ok) tally.correct += 1;
      byField.set(field.field, tally);
    }
  }
  const perField = [...byField].map(([field, t]) => ({ field, ...t, accuracy: ratio(t.correct, t.scored) }));
  const scored = perField.reduce((sum, f) => sum + f.scored, 0);
  const correct = perField.reduce((sum, f) => sum + f.correct, 0);
  const hostile = scores.filter((s) => s.expectsError);
  return {
    perField,
    overall: { scored, correct, accuracy: ratio(correct, scored) },
    hostile: { total: hostile.length, failedCleanly: hostile.filter((s) => s.ok).length },
  };
}
