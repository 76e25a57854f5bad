/**
 * Typed readings of text values: amounts in any common notation, dates into ISO 8601, booleans.
 * Each returns null when the text does not hold such a value.
 */

/**
 * "1.234,56 €", "$1,234.56", "12,50", "CHF 1'000.00", "-3.5" → number. The last of `.`/`,`
 * followed by one or two digits is the decimal separator; other separators group thousands.
 */
export function parseAmount(text: string): number | null {
  const match = /[-−]?\s*\d[\d.,'\s\u00a0\u202f]*/.exec(text);
  if (!match) return null;
  let token = match[0].replace(/[\s\u00a0\u202f']/g, '').replace('−', '-');
  token = token.replace(/[.,]+$/, '');
  const lastDot = token.lastIndexOf('.');
  const lastComma = token.lastIndexOf(',');
  const last = Math.max(lastDot, lastComma);
  if (last >= 0) {
    const decimals = token.length - last - 1;
    const separator = token[last];
    const bothUsed = lastDot >= 0 && lastComma >= 0;
    // "1,234" groups thousands; "12,50", "0,125" and "1.234,56" have decimals.
    const isDecimal =
      bothUsed || decimals !== 3 || (token.split(separator!).length === 2 && /^-?0[.,]/.test(token));
    if (isDecimal) {
      const integer = token.slice(0, last).replace(/[.,]/g, '');
      token = `${integer}.${token.slice(last + 1)}`;
    } else {
      token = token.replace(/[.,]/g, '');
    }
  }
  const value = Number(token);
  return Number.isFinite(value) ? value : null;
}

const MONTHS: Record<string, number> = {};
const MONTH_NAMES = [
  ['january', 'jan', 'januar', 'janvier', 'enero'],
  ['february', 'feb', 'februar', 'février', 'fevrier', 'febrero'],
  ['march', 'mar', 'märz', 'maerz', 'mars', 'marzo'],
  ['april', 'apr', 'avril', 'abril'],
  ['may', 'mai', 'mayo'],
  ['june', 'jun', 'juni', 'juin', 'junio'],
  ['july', 'jul', 'juli', 'juillet', 'julio'],
  ['august', 'aug', 'août', 'aout', 'agosto'],
  ['september', 'sep', 'sept', 'septembre', 'septiembre'],
  ['october', 'oct', 'oktober', 'okt', 'octobre', 'octubre'],
  ['november', 'nov', 'novembre', 'noviembre'],
  ['december', 'dec', 'dezember', 'dez', 'décembre', 'decembre', 'diciembre'],
];
MONTH_NAMES.forEach((names, index) => {
  for (const name of names) MONTHS[name] = index + 1;
});

const iso = (year: number, month: number, day: number): string | null => {
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1) return null;
  return date.toISOString().slice(0, 10);
};

const fullYear = (year: string) => (year.length === 2 ? 2000 + Number(year) : Number(year));

/**
 * "2024-03-12", "12.03.2024", "03/12/2024", "March 12, 2024", "12. März 2024" → "2024-03-12".
 * Slash dates are read month first (US) unless the first number cannot be a month.
 */
export function parseDate(text: string): string | null {
  let match = /(\d{4})-(\d{1,2})-(\d{1,2})/.exec(text);
  if (match) return iso(Number(match[1]), Number(match[2]), Number(match[3]));
  match = /(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{2,4})/.exec(text);
  if (match) return iso(fullYear(match[3]!), Number(match[2]), Number(match[1]));
  match = /(\d{1,2})\/(\d{1,2})\/(\d{2,4})/.exec(text);
  if (match) {
    const [first, second] = [Number(match[1]), Number(match[2])];
    return first > 12 ? iso(fullYear(match[3]!), second, first) : iso(fullYear(match[3]!), first, second);
  }
  match = /([A-Za-zÀ-ÿ]+)\.?\s+(\d{1,2}),?\s+(\d{4})/.exec(text);
  if (match && MONTHS[match[1]!.toLowerCase()])
    return iso(Number(match[3]), MONTHS[match[1]!.toLowerCase()]!, Number(match[2]));
  match = /(\d{1,2})\.?\s+([A-Za-zÀ-ÿ]+)\.?\s+(\d{4})/.exec(text);
  if (match && MONTHS[match[2]!.toLowerCase()])
    return iso(Number(match[3]), MONTHS[match[2]!.toLowerCase()]!, Number(match[1]));
  return null;
}

export function parseBoolean(text: string): boolean | null {
  const value = text.trim().toLowerCase();
  if (['yes', 'true', 'y', 'ja', 'oui', 'sí', 'si', '1', 'x', '✓'].includes(value)) return true;
  if (['no', 'false', 'n', 'nein', 'non', '0'].includes(value)) return false;
  return null;
}
