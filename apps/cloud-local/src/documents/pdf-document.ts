import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { TextItem } from 'pdfjs-dist/types/src/display/api.js';
import { DocumentError, type ParsedDocument, type ParsedPage } from './parsed-document.js';

/** Most pages one document may have; past it the job fails instead of tying up a worker. */
export const MAX_PDF_PAGES = 2000;

/**
 * The text layer of a PDF, page by page. Text items are grouped into lines by their baseline,
 * and a wide horizontal gap inside a line becomes a tab, so table columns and "label   value"
 * layouts survive. Scanned pages without a text layer come back empty (no OCR here).
 */
export async function parsePdfDocument(bytes: Uint8Array): Promise<ParsedDocument> {
  let pdf: Awaited<ReturnType<typeof getDocument>['promise']>;
  try {
    pdf = await getDocument({
      data: new Uint8Array(bytes),
      isEvalSupported: false,
      disableFontFace: true,
      useSystemFonts: false,
      verbosity: 0,
      stopAtErrors: false,
    }).promise;
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'PasswordException') throw new DocumentError('The PDF is encrypted (password protected)');
    const message = (error as Error).message ?? String(error);
    throw new DocumentError(`The PDF is corrupt or truncated: ${message}`);
  }
  try {
    if (pdf.numPages > MAX_PDF_PAGES) {
      throw new DocumentError(`The PDF has ${pdf.numPages} pages; at most ${MAX_PDF_PAGES} are supported`);
    }
    const pages: ParsedPage[] = [];
    for (let pageNumber = 1; pageNumber <= pdf.numPages; pageNumber++) {
      const page = await pdf.getPage(pageNumber);
      const content = await page.getTextContent();
      const text = linesOf(content.items.filter((item): item is TextItem => 'str' in item)).join('\n');
      pages.push({ pageNumber, text, markdown: text });
      page.cleanup();
    }
    return { format: 'pdf', pages };
  } catch (error) {
    if (error instanceof DocumentError) throw error;
    throw new DocumentError(`The PDF could not be read: ${(error as Error).message}`);
  } finally {
    await pdf.destroy();
  }
}

function linesOf(items: TextItem[]): string[] {
  const rows: { y: number; items: TextItem[] }[] = [];
  for (const item of items) {
    if (!item.str.trim()) continue;
    const y = item.transform[5] as number;
    const tolerance = Math.max(2, (item.height || 10) * 0.4);
    let row = rows.find((r) => Math.abs(r.y - y) <= tolerance);
    if (!row) {
      row = { y, items: [] };
      rows.push(row);
    }
    row.items.push(item);
  }
  rows.sort((a, b) => b.y - a.y);
  return rows.map((row) => {
    row.items.sort((a, b) => (a.transform[4] as number) - (b.transform[4] as number));
    let line = '';
    let end = Number.NEGATIVE_INFINITY;
    for (const item of row.items) {
      const x = item.transform[4] as number;
      const fontSize = Math.abs(item.transform[0] as number) || item.height || 10;
      if (line) line += x - end > fontSize * 1.5 ? '\t' : x - end > fontSize * 0.15 ? ' ' : '';
      line += item.str;
      end = x + item.width;
    }
    return line.replace(/ {2,}/g, ' ').trim();
  });
}
