import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { estimateFileCredits, estimatePages } from './credits.js';
import type { BatchSpec } from './records.js';

const pdf = (...parts: (string | Buffer)[]) =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))));

describe('estimatePages', () => {
  it('counts page objects, not the page tree', () => {
    const bytes = pdf(
      '%PDF-1.4\n1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >> endobj\n',
      '2 0 obj << /Type /Page /Parent 1 0 R >> endobj\n3 0 obj << /Type/Page >> endobj\n',
    );
    expect(estimatePages(bytes, 'a.PDF')).toBe(2);
  });

  it('counts page objects inside deflated object streams', () => {
    const objects = deflateSync('<< /Type /Page >> << /Type /Page >> << /Type /Page >> << /Type /Pages >>');
    const bytes = pdf(
      '%PDF-1.7\n5 0 obj << /Type /ObjStm /N 4 /First 20 /Filter /FlateDecode /Length ',
      `${objects.length} >>\nstream\r\n`,
      objects,
      '\nendstream endobj\n',
    );
    expect(estimatePages(bytes, 'compressed.pdf')).toBe(3);
  });

  it('estimates one page for other formats and for PDFs it cannot read', () => {
    expect(estimatePages(new Uint8Array([1, 2, 3]), 'a.docx')).toBe(1);
    expect(estimatePages(pdf('%PDF-1.7 /Type /ObjStm stream\ngarbage endstream'), 'b.pdf')).toBe(1);
  });
});

describe('estimateFileCredits', () => {
  const spec = (tiers: BatchSpec['extract'][number]['tier'][], parse?: BatchSpec['parse']): BatchSpec => ({
    ...(parse ? { parse } : {}),
    extract: tiers.map((tier, i) => ({
      name: `s${i}`,
      data_schema: {},
      tier,
      extraction_target: 'per_doc',
      cite_sources: true,
      confidence_scores: true,
    })),
  });
  const perPage = { cost_effective: 5, agentic: 15, agentic_plus: 50, turbo: 35 };

  it('adds the parse and every extraction, per page', () => {
    expect(estimateFileCredits(spec(['cost_effective']), 3, false, perPage)).toBe(15);
    expect(
      estimateFileCredits(
        spec(['cost_effective', 'agentic'], { tier: 'fast', version: 'latest' }),
        2,
        true,
        perPage,
      ),
    ).toBe(2 * (1 + 5 + 15));
  });
});
