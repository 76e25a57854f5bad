import { DocumentError, type DocumentFormat } from './parsed-document.js';

const EXTENSIONS: Record<string, DocumentFormat> = {
  pdf: 'pdf',
  docx: 'docx',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  txt: 'text',
  text: 'text',
  md: 'text',
  markdown: 'text',
  csv: 'csv',
  tsv: 'csv',
};

/**
 * The format of a file, from its content where the content says (PDF and ZIP magic bytes) and
 * from its name otherwise. A name that promises one format over content of another is an error,
 * not a guess: "garbage.pdf" fails as "not a PDF".
 */
export function detectFormat(name: string, bytes: Uint8Array): DocumentFormat {
  if (bytes.length === 0) throw new DocumentError('The file is empty (0 bytes)');
  const extension = name.toLowerCase().split('.').pop() ?? '';
  const byName = EXTENSIONS[extension];
  const head = Buffer.from(bytes.subarray(0, 1024)).toString('latin1');
  const isPdf = head.includes('%PDF-');
  const isZip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (byName === 'pdf' && !isPdf)
    throw new DocumentError('The file is named .pdf but is not a PDF (no %PDF- header)');
  if (byName === 'docx' && !isZip)
    throw new DocumentError('The file is named .docx but is not a DOCX (not a ZIP archive)');
  if (isPdf) return 'pdf';
  if (isZip) {
    if (byName === 'docx' || byName === undefined) return 'docx';
    throw new DocumentError(`Unsupported file type: a ZIP archive named .${extension}`);
  }
  if (byName) return byName;
  if (/^\s*(<!doctype html|<html)/i.test(head)) return 'html';
  if (looksLikeText(bytes)) return 'text';
  throw new DocumentError(
    `Unsupported file type${extension ? ` .${extension}` : ''}: expected PDF, DOCX, HTML, TXT, Markdown or CSV`,
  );
}

function looksLikeText(bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, 4096);
  let control = 0;
  for (const byte of sample) if (byte === 0 || (byte < 9 && byte !== 0)) control++;
  return control === 0;
}
