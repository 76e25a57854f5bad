import { describe, expect, it } from 'vitest';
import { extractFromPages } from './extract-engine.js';

const schema = {
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    invoice_date: { type: 'string', format: 'date' },
    total_amount: { type: 'number' },
    paid: { type: 'boolean' },
    po_number: { type: ['string', 'null'] },
    vendor: { type: 'object', properties: { vendor_name: { type: 'string' } } },
  },
};

describe('extractFromPages', () => {
  it('fills labelled values with typed coercion and cites page and line', () => {
    const output = extractFromPages(
      [
        { pageNumber: 1, text: 'Vendor Name: ACME\nInvoice No: INV-7', markdown: '' },
        {
          pageNumber: 2,
          text: 'Invoice Date: 12.03.2024\nTotal Amount\t1.234,50 EUR\nPaid: yes',
          markdown: '',
        },
      ],
      schema,
    );
    expect(output.data).toEqual({
      invoice_number: 'INV-7',
      invoice_date: '2024-03-12',
      total_amount: 1234.5,
      paid: true,
      po_number: null,
      vendor: { vendor_name: 'ACME' },
    });
    expect(output.fieldMetadata.total_amount).toEqual({
      citation: [{ page: 2, matching_text: 'Total Amount\t1.234,50 EUR' }],
      confidence: 0.9,
    });
    expect(output.fieldMetadata.po_number).toBeUndefined();
  });

  it('invents nothing when the document has no evidence', () => {
    const output = extractFromPages(
      [{ pageNumber: 1, text: 'Meeting notes\nNothing to see', markdown: '' }],
      schema,
    );
    expect(output.data).toEqual({
      invoice_number: null,
      invoice_date: null,
      total_amount: null,
      paid: null,
      po_number: null,
      vendor: null,
    });
  });
});
