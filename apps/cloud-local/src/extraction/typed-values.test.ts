import { describe, expect, it } from 'vitest';
import { parseAmount, parseBoolean, parseDate } from './typed-values.js';

describe('parseAmount', () => {
  it.each([
    ['1.234,56 €', 1234.56],
    ['$1,234.56', 1234.56],
    ['12,50', 12.5],
    ['EUR 1 234,00', 1234],
    ["CHF 1'000.00", 1000],
    ['1,234', 1234],
    ['0,125', 0.125],
    ['-3.5', -3.5],
    ['1.234.567', 1234567],
  ])('%s → %d', (text, value) => {
    expect(parseAmount(text)).toBe(value);
  });

  it('is null without digits', () => {
    expect(parseAmount('n/a')).toBeNull();
  });
});

describe('parseDate', () => {
  it.each([
    ['2024-03-12', '2024-03-12'],
    ['12.03.2024', '2024-03-12'],
    ['03/12/2024', '2024-03-12'],
    ['25/12/2024', '2024-12-25'],
    ['March 12, 2024', '2024-03-12'],
    ['12. März 2024', '2024-03-12'],
    ['7 février 2016', '2016-02-07'],
    ['3 maart 2025', '2025-03-03'],
    ['19 listopada 2024', '2024-11-19'],
  ])('%s → %s', (text, iso) => {
    expect(parseDate(text)).toBe(iso);
  });

  it('reads slash dates day first in European documents', () => {
    expect(parseDate('03/12/2024', { dayFirst: true })).toBe('2024-12-03');
    expect(parseDate('11/23/2024', { dayFirst: true })).toBe('2024-11-23');
  });

  it('rejects impossible dates', () => {
    expect(parseDate('31.02.2024')).toBeNull();
    expect(parseDate('no date here')).toBeNull();
  });
});

describe('parseBoolean', () => {
  it('reads yes/no in several languages', () => {
    expect(parseBoolean('Ja')).toBe(true);
    expect(parseBoolean('non')).toBe(false);
    expect(parseBoolean('maybe')).toBeNull();
  });
});
