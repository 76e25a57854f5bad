import { describe, expect, it } from 'vitest';
import { scoreDocument, summarize, valueMatches } from './scoring.js';

describe('scoring against a MANIFEST.json', () => {
  it('compares amounts as numbers, dates as ISO days, strings trimmed and case-folded', () => {
    expect(valueMatches(671.15, 671.151)).toBe(true);
    expect(valueMatches(671.15, 671.2)).toBe(false);
    expect(valueMatches(671.15, '671.15')).toBe(false);
    expect(valueMatches('2017-11-13', '2017-11-13')).toBe(true);
    expect(valueMatches('2017-11-13', '13.11.2017')).toBe(false);
    expect(valueMatches('Au bon moulin', '  au BON  moulin ')).toBe(true);
    expect(valueMatches(null, null)).toBe(true);
    expect(valueMatches(null, 'x')).toBe(false);
    expect(valueMatches('EUR', null)).toBe(false);
  });

  it('accepts alternatives, leaves unlisted fields unscored, and wants hostile files to fail', () => {
    const entry = {
      file: 'a.pdf',
      expected: { vendor_name: 'Au bon moulin', total_amount: 10 },
      accept_alternatives: { vendor_name: ['Au bon moulin SARL'] },
    };
    const score = scoreDocument(entry, {
      data: { vendor_name: 'AU BON MOULIN SARL', total_amount: 11, extra: 1 },
    });
    expect(score.fields.map((f) => [f.field, f.ok])).toEqual([
      ['vendor_name', true],
      ['total_amount', false],
    ]);
    const hostile = { file: 'h.pdf', expected: { error: true } };
    expect(scoreDocument(hostile, { error: 'FAILED: the file is empty' }).ok).toBe(true);
    expect(scoreDocument(hostile, { data: { vendor_name: null } }).ok).toBe(false);
    const failed = scoreDocument(entry, { error: 'FAILED: corrupt' });
    expect(failed.ok).toBe(false);
    expect(failed.fields.every((f) => !f.ok)).toBe(true);

    const summary = summarize([score, scoreDocument(hostile, { error: 'x' })]);
    expect(summary.overall).toEqual({ scored: 2, correct: 1, accuracy: 0.5 });
    expect(summary.hostile).toEqual({ total: 1, failedCleanly: 1 });
  });
});
