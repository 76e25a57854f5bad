import chardet from 'chardet';
import { parse as parseCsv } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import type { ParsedDocument, ParsedPage } from './parsed-document.js';

/**
 * Decodes text in whatever encoding it came in: a BOM decides when present, then UTF-8 if the
 * bytes are valid UTF-8, then chardet's best guess (Shift-JIS/cp932, Windows-1252 …).
 */
export function decodeText(bytes: Uint8Array): { text: string; encoding: string } {
  const buffer = Buffer.from(bytes);
  if (buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) {
    return { text: buffer.subarray(3).toString('utf8'), encoding: 'UTF-8' };
  }
  if (buffer[0] === 0xff && buffer[1] === 0xfe)
    return { text: iconv.decode(buffer.subarray(2), 'utf16le'), encoding: 'UTF-16LE' };
  if (buffer[0] === 0xfe && buffer[1] === 0xff)
    return { text: iconv.decode(buffer.subarray(2), 'utf16be'), encoding: 'UTF-16BE' };
  if (isValidUtf8(buffer)) return { text: buffer.toString('utf8'), encoding: 'UTF-8' };
  // chardet alone misjudges short texts (a 70-byte cp932 CSV reads as Windows-1252), so every
  // plausible decoding is scored and the most natural text wins; chardet's order breaks ties.
  const guesses = chardet.analyse(buffer).map((match) => normalizeEncoding(match.name));
  const candidates = [...new Set([...guesses, ...FALLBACK_ENCODINGS])].filter((name) =>
    iconv.encodingExists(name),
  );
  let best = {
    text: iconv.decode(buffer, 'windows-1252'),
    encoding: 'windows-1252',
    score: Number.NEGATIVE_INFINITY,
  };
  for (const encoding of candidates) {
    const text = iconv.decode(buffer, encoding);
    const score = naturalness(text);
    if (score > best.score) best = { text, encoding, score };
  }
  return { text: best.text, encoding: best.encoding };
}

const FALLBACK_ENCODINGS = [
  'cp932',
  'gb18030',
  'big5',
  'euc-kr',
  'windows-1252',
  'windows-1250',
  'windows-1251',
];

function normalizeEncoding(name: string): string {
  if (/shift_jis/i.test(name)) return 'cp932'; // Microsoft's superset, what Windows actually writes
  if (/iso-8859-1$/i.test(name)) return 'windows-1252';
  return name;
}

const SCRIPTS: [string, RegExp][] = [
  ['cjk', /[\p{Script=Han}\p{Script=Hiragana}\u30a0-\u30ff]/u],
  ['hangul', /\p{Script=Hangul}/u],
  ['latin', /\p{Script=Latin}/u],
  ['cyrillic', /\p{Script=Cyrillic}/u],
  ['greek', /\p{Script=Greek}/u],
  ['letter', /\p{L}/u],
];

function scriptOf(char: string): string | undefined {
  return SCRIPTS.find(([, pattern]) => pattern.test(char))?.[0];
}

/**
 * How much a decoded text looks like language rather than mojibake: a non-ASCII letter beside a
 * letter of its own script scores, one beside another script's letter costs (Cyrillic inside a
 * Latin word is Windows-1252 read as 1251), and so do isolated symbols and replacement characters.
 */
function naturalness(text: string): number {
  const chars = [...text];
  let score = 0;
  chars.forEach((char, i) => {
    if (char.charCodeAt(0) < 0x80) return;
    if (char === '\ufffd') {
      score -= 5;
      return;
    }
    const script = scriptOf(char);
    if (!script) {
      score -= 1;
      return;
    }
    const neighbours = [chars[i - 1], chars[i + 1]].map((c) => (c ? scriptOf(c) : undefined)).filter(Boolean);
    if (neighbours.includes(script)) score += 1;
    else if (neighbours.length > 0) score -= 1;
    else if (script === 'cjk' || script === 'hangul') score -= 1;
  });
  return score;
}

function isValidUtf8(buffer: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    return true;
  } catch {
    return false;
  }
}

/** Plain text and Markdown: pages split at form feeds, as printers and pdftotext mark them. */
export function parseTextDocument(bytes: Uint8Array): ParsedDocument {
  const { text, encoding } = decodeText(bytes);
  const pages: ParsedPage[] = text
    .replace(/\r\n?/g, '\n')
    .split('\f')
    .map((pageText, index) => ({ pageNumber: index + 1, text: pageText.trim(), markdown: pageText.trim() }));
  return { format: 'text', pages, encoding };
}

/** CSV/TSV: one page holding the table as text (tab-separated) and as a markdown table. */
export function parseCsvDocument(bytes: Uint8Array, name: string): ParsedDocument {
  const { text, encoding } = decodeText(bytes);
  const delimiter =
    name.toLowerCase().endsWith('.tsv') || text.split('\t').length > text.split(',').length ? '\t' : ',';
  const rows = parseCsv(text, {
    delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    bom: true,
  }) as string[][];
  const width = Math.max(0, ...rows.map((row) => row.length));
  const cells = (row: string[]) =>
    Array.from({ length: width }, (_, i) => (row[i] ?? '').replace(/\|/g, '\\|').trim());
  const markdown =
    rows.length === 0
      ? ''
      : [
          `| ${cells(rows[0]!).join(' | ')} |`,
          `| ${Array.from({ length: width }, () => '---').join(' | ')} |`,
          ...rows.slice(1).map((row) => `| ${cells(row).join(' | ')} |`),
        ].join('\n');
  const plain = rows.map((row) => row.join('\t')).join('\n');
  return { format: 'csv', pages: [{ pageNumber: 1, text: plain, markdown }], encoding };
}
