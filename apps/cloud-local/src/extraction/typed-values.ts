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
  ['january', 'jan', 'januar', 'janvier', 'enero', 'januari', 'stycznia', 'styczeń'],
  ['february', 'feb', 'februar', 'février', 'fevrier', 'febrero', 'februari', 'lutego', 'luty'],
  ['march', 'mar', 'märz', 'maerz', 'mars', 'marzo', 'maart', 'marca', 'marzec'],
  ['april', 'apr', 'avril', 'abril', 'kwietnia', 'kwiecień'],
  ['may', 'mai', 'mayo', 'mei', 'maja', 'maj'],
  ['june', 'jun', 'juni', 'juin', 'junio', 'czerwca', 'czerwiec'],
  ['july', 'jul', 'juli', 'juillet', 'julio', 'lipca', 'lipiec'],
  ['august', 'aug', 'août', 'aout', 'agosto', 'augustus', 'sierpnia', 'sierpień'],
  ['september', 'sep', 'sept', 'septembre', 'septiembre', 'września', 'wrzesień'],
  ['october', 'oct', 'oktober', 'okt', 'octobre', 'octubre', 'października', 'październik'],
  ['november', 'nov', 'novembre', 'noviembre', 'listopada', 'listopad'],
  ['december', 'dec', 'dezember', 'dez', 'décembre', 'decembre', 'diciembre', 'grudnia', 'grudzień'],
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
 * Slash dates are read month first (US) unless `dayFirst` is set, and either way by the number
 * that cannot be a month when one of them cannot.
 */
export function parseDate(text: string, options: { dayFirst?: boolean } = {}): string | null {
  let match = /(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)/.exec(text);
  if (match) return iso(Number(match[1]), Number(match[2]), Number(match[3]));
  match = /(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2}(?![\d,]))/.exec(text);
  if (match) return iso(fullYear(match[3]!), Number(match[2]), Number(match[1]));
  match = /(?<![\d/])(\d{1,2})\/(\d{1,2})\/(\d{4}|\d{2})(?![\d/])/.exec(text);
  if (match) {
    const [first, second] = [Number(match[1]), Number(match[2])];
    const dayFirst = first > 12 || (options.dayFirst === true && second <= 12);
    return dayFirst ? iso(fullYear(match[3]!), second, first) : iso(fullYear(match[3]!), first, second);
  }
  for (const m of text.matchAll(/([\p{L}]+)\.?\s+(\d{1,2}),?\s+(\d{4})/gu)) {
    const month = MONTHS[m[1]!.toLowerCase()];
    if (month) return iso(Number(m[3]), month, Number(m[2]));
  }
  for (const m of text.matchAll(/(\d{1,2})\.?\s+([\p{L}]+)\.?\s+(\d{4})/gu)) {
    const month = MONTHS[m[2]!.toLowerCase()];
    if (month) return iso(Number(m[3]), month, Number(m[1]));
  }
  return null;
}

export function parseBoolean(text: string): boolean | null {
  const value = text.trim().toLowerCase();
  if (['yes', 'true', 'y', 'ja', 'oui', 'sí', 'si', '1', 'x', '✓'].includes(value)) return true;
  if (['no', 'false', 'n', 'nein', 'non', '0'].includes(value)) return false;
  return null;
}
