import mammoth from 'mammoth';
import yauzl from 'yauzl';
import { parseHtmlDocument } from './html-document.js';
import { DocumentError, type ParsedDocument } from './parsed-document.js';

/** Largest total uncompressed size of a DOCX; more is treated as a zip bomb. */
export const MAX_DOCX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024;
/** Largest compression ratio of one entry; real documents stay far below it. */
const MAX_COMPRESSION_RATIO = 200;

/**
 * DOCX → text through mammoth (document order, tables kept as rows). The archive's directory is
 * checked first, so a zip bomb named .docx fails before anything is inflated. DOCX has no fixed
 * pages; explicit page breaks split pages.
 */
export async function parseDocxDocument(bytes: Uint8Array): Promise<ParsedDocument> {
  await checkArchive(Buffer.from(bytes));
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes) })).value;
  } catch (error) {
    throw new DocumentError(`The DOCX is corrupt: ${(error as Error).message}`);
  }
  const parsed = parseHtmlDocument(Buffer.from(`<html><body>${html}</body></html>`));
  return { format: 'docx', pages: parsed.pages };
}

function checkArchive(buffer: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buffer, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) {
        reject(
          new DocumentError(
            `The DOCX is corrupt (not a readable ZIP archive): ${error?.message ?? 'unknown'}`,
          ),
        );
        return;
      }
      let total = 0;
      let hasDocument = false;
      zip.on('entry', (entry: yauzl.Entry) => {
        total += entry.uncompressedSize;
        if (entry.fileName === 'word/document.xml') hasDocument = true;
        const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1);
        if (
          total > MAX_DOCX_UNCOMPRESSED_BYTES ||
          (entry.uncompressedSize > 1024 * 1024 && ratio > MAX_COMPRESSION_RATIO)
        ) {
          zip.close();
          reject(
            new DocumentError(
              `The DOCX expands to more than ${MAX_DOCX_UNCOMPRESSED_BYTES} bytes or compresses suspiciously well (zip bomb?)`,
            ),
          );
          return;
        }
        zip.readEntry();
      });
      zip.on('end', () => {
        if (!hasDocument)
          reject(new DocumentError('The file is a ZIP archive but not a DOCX (no word/document.xml)'));
        else resolve();
      });
      zip.on('error', (zipError: Error) =>
        reject(new DocumentError(`The DOCX is corrupt: ${zipError.message}`)),
      );
      zip.readEntry();
    });
  });
}
