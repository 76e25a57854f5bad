import { validateAgainst } from '@docpipe/core';
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
    // Nullable fields come back null; the others are left out, so the result still validates.
    expect(output.data).toEqual({ po_number: null });
    expect(validateAgainst(schema, output.data)).toEqual([]);
    const required = { ...schema, required: ['invoice_number'] };
    expect(extractFromPages([{ pageNumber: 1, text: 'Nothing', markdown: '' }], required).data).toEqual({
      invoice_number: null, // required and not nullable: null, and docpipe reports the violation
      po_number: null,
    });
  });

  it('reads what a field is from its description when its name says nothing', () => {
    const described = {
      type: 'object',
      properties: {
        amt: { type: ['number', 'null'], description: 'Grand total including VAT, as a number.' },
        ref: { type: ['string', 'null'], description: 'Rechnungsnummer (the invoice number).' },
      },
    };
    const { data } = extractFromPages(
      [
        {
          pageNumber: 1,
          text: 'Rechnungsnummer: R-9\nZwischensumme: 10,00 €\nGesamtbetrag: 11,90 €',
          markdown: '',
        },
      ],
      described,
    );
    expect(data).toEqual({ amt: 11.9, ref: 'R-9' });
  });

  it('finds emails and IBANs by their label, or by themselves when they are unambiguous', () => {
    const typed = {
      type: 'object',
      properties: {
        contact_email: { type: ['string', 'null'], format: 'email' },
        iban: { type: ['string', 'null'] },
      },
    };
    const one = extractFromPages(
      [
        {
          pageNumber: 1,
          text: 'Write to billing@acme.example\nIBAN DE89 3704 0044 0532 0130 00',
          markdown: '',
        },
      ],
      typed,
    );
    expect(one.data).toEqual({ contact_email: 'billing@acme.example', iban: 'DE89370400440532013000' });
    const two = extractFromPages(
      [{ pageNumber: 1, text: 'a@x.example b@y.example\nAccount DE00 3704 0044 0532 0130 00', markdown: '' }],
      typed,
    );
    // Two addresses and no label: which one is meant is unknown; a wrong check digit is no IBAN.
    expect(two.data).toEqual({ contact_email: null, iban: null });
  });

  const header = {
    type: 'object',
    properties: {
      invoice_number: { type: ['string', 'null'] },
      invoice_date: { type: ['string', 'null'], format: 'date' },
      subtotal_amount: { type: ['number', 'null'] },
      tax_amount: { type: ['number', 'null'] },
      total_amount: { type: ['number', 'null'] },
      currency: { type: ['string', 'null'] },
      vendor_name: { type: ['string', 'null'] },
      line_items: {
        type: 'array',
        items: {
          type: 'object',
          properties: { description: { type: 'string' }, amount: { type: 'number' } },
        },
      },
    },
  };
  const page = (text: string) => [{ pageNumber: 1, text, markdown: '' }];

  it('lets the longer of two overlapping labels win, and skips percentages', () => {
    const { data } = extractFromPages(
      page(
        'Order #A-1001 placed March 3, 2024\nTotal before tax: $10.00\nSales Tax (8.5%): $0.85\nGrand Total: $10.85',
      ),
      header,
    );
    expect(data).toMatchObject({
      invoice_number: 'A-1001',
      subtotal_amount: 10,
      tax_amount: 0.85,
      total_amount: 10.85,
      currency: 'USD',
    });
  });

  it('reads values on the line below their label, in other languages and number formats', () => {
    const { data } = extractFromPages(
      page(
        'Rechnungsnummer:\nKR-77\nRechnungsdatum:\n05.11.2024\nVerkäufer:\nNummer : 123\nMuster GmbH\nGesamtsumme\nnetto\n1 403,55\nGesamtsumme\nbrutto\n1 670,22 €',
      ),
      header,
    );
    expect(data).toMatchObject({
      invoice_number: 'KR-77',
      invoice_date: '2024-11-05',
      vendor_name: 'Muster GmbH',
      subtotal_amount: 1403.55,
      total_amount: 1670.22,
      currency: 'EUR',
    });
  });

  it('reads line items from a table and stops where the totals begin', () => {
    const { data } = extractFromPages(
      page('Description\tQty\tAmount\nDesk lamp\t2\t49,00\nChair\t1\t189,00\nTotal\t238,00'),
      header,
    );
    expect(data.line_items).toEqual([
      { description: 'Desk lamp', amount: 49 },
      { description: 'Chair', amount: 189 },
    ]);
  });

  it('invents no currency or seller for a text that is not about money', () => {
    const { data } = extractFromPages(
      page('ACME RESEARCH\nA paper about 3 agents and $ signs.\nDate: 2024-01-02'),
      header,
    );
    expect(data).toMatchObject({ currency: null, vendor_name: null, total_amount: null });
  });
});
