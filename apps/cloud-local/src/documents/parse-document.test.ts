import { encodeText, invoiceLines, makeDocx, makeHtml, makePdf, makeZipBomb } from '@docpipe/testing';
import { describe, expect, it } from 'vitest';
import { parseDocument } from './parse-document.js';
import { DocumentError } from './parsed-document.js';

describe('parseDocument', () => {
  it('reads the text layer of a PDF page by page', async () => {
    const doc = await parseDocument(
      'a.pdf',
      makePdf([invoiceLines('INV-1', '10.00'), ['Page two', 'Total Amount: 99,50']]),
    );
    expect(doc.format).toBe('pdf');
    expect(doc.pages.map((p) => p.pageNumber)).toEqual([1, 2]);
    expect(doc.pages[0]?.text).toContain('Invoice Number: INV-1');
    expect(doc.pages[1]?.text.split('\n')).toEqual(['Page two', 'Total Amount: 99,50']);
  });

  it('reads DOCX paragraphs in order', async () => {
    const doc = await parseDocument('a.docx', makeDocx(invoiceLines('INV-2', '20.00')));
    expect(doc.format).toBe('docx');
    expect(doc.pages[0]?.text.split('\n')).toEqual(invoiceLines('INV-2', '20.00'));
  });

  it('turns HTML tables into label/value lines and drops scripts and styles', async () => {
    const doc = await parseDocument(
      'a.html',
      makeHtml('Invoice', [
        ['Invoice Number', 'INV-3'],
        ['Total', '30.00'],
      ]),
    );
    expect(doc.pages[0]?.text.split('\n')).toEqual([
      'Invoice',
      'Generated for tests.',
      'Invoice Number\tINV-3',
      'Total\t30.00',
    ]);
    expect(doc.pages[0]?.markdown).toContain('# Invoice');
    expect(doc.pages[0]?.markdown).toContain('| Invoice Number | INV-3 |');
    expect(doc.pages[0]?.text).not.toContain('999');
  });

  it('splits text at form feeds and decodes legacy encodings', async () => {
    const doc = await parseDocument(
      'a.txt',
      encodeText('Größe: 3\fRechnungsnummer: 7 für Bär', 'windows-1252'),
    );
    expect(doc.encoding).toBe('windows-1252');
    expect(doc.pages.map((p) => p.text)).toEqual(['Größe: 3', 'Rechnungsnummer: 7 für Bär']);
  });

  it('decodes a cp932 (Shift-JIS) CSV into a markdown table', async () => {
    const csv = encodeText('名前,年齢,住所\r\n佐藤太郎,30,東京\r\n髙橋淳,35,名古屋\r\n', 'cp932');
    const doc = await parseDocument('people.csv', csv);
    expect(doc.encoding).toBe('cp932');
    expect(doc.pages[0]?.markdown.split('\n')).toEqual([
      '| 名前 | 年齢 | 住所 |',
      '| --- | --- | --- |',
      '| 佐藤太郎 | 30 | 東京 |',
      '| 髙橋淳 | 35 | 名古屋 |',
    ]);
  });

  it.each([
    ['empty.pdf', Buffer.alloc(0), /empty/],
    ['truncated.pdf', makePdf([invoiceLines('X', '1')]).subarray(0, 300), /PDF is corrupt or truncated/],
    ['locked.pdf', makePdf([['secret']], { encrypted: true }), /encrypted/],
    ['garbage.pdf', Buffer.from('this is not a pdf at all'), /named \.pdf but is not a PDF/],
    ['bomb.docx', makeZipBomb(64), /zip bomb/],
    ['notes.docx', Buffer.from('plain text'), /named \.docx but is not a DOCX/],
    ['image.bin', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1, 2, 3]), /Unsupported file type/],
  ])('fails %s with a clear reason', async (name, bytes, reason) => {
    const attempt = parseDocument(name, bytes);
    await expect(attempt).rejects.toThrow(DocumentError);
    await expect(parseDocument(name, bytes)).rejects.toThrow(reason);
  });
});
