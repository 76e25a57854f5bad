import { detectFormat } from './detect-format.js';
import { parseDocxDocument } from './docx-document.js';
import { parseHtmlDocument } from './html-document.js';
import type { ParsedDocument } from './parsed-document.js';
import { parsePdfDocument } from './pdf-document.js';
import { parseCsvDocument, parseTextDocument } from './text-document.js';

/** Parses any supported document; throws DocumentError with a reason a person can act on. */
export async function parseDocument(name: string, bytes: Uint8Array): Promise<ParsedDocument> {
  const format = detectFormat(name, bytes);
  switch (format) {
    case 'pdf':
      return parsePdfDocument(bytes);
    case 'docx':
      return parseDocxDocument(bytes);
    case 'html':
      return parseHtmlDocument(bytes);
    case 'csv':
      return parseCsvDocument(bytes, name);
    case 'text':
      return parseTextDocument(bytes);
  }
}
