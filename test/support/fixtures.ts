import { type BatchSpec, LocalResultStore, type SimStats } from '@docpipe/core';
import type { ResultDocument } from '@docpipe/pipeline';
import { invoiceLines, makeDocx, makeHtml, makePdf } from '@docpipe/testing';
import type { Stack } from './pipeline-stack.js';

export const invoiceSchema = {
  type: 'object',
  properties: {
    invoice_number: { type: ['string', 'null'] },
    invoice_date: { type: ['string', 'null'], format: 'date' },
    total_amount: { type: ['number', 'null'] },
  },
};
export const currencySchema = { type: 'object', properties: { currency: { type: ['string', 'null'] } } };

export const twoSchemas: BatchSpec = {
  extract: [
    {
      name: 'invoice',
      data_schema: invoiceSchema,
      tier: 'cost_effective',
      extraction_target: 'per_doc',
      cite_sources: true,
      confidence_scores: true,
    },
    {
      name: 'currency',
      data_schema: currencySchema,
      tier: 'agentic',
      extraction_target: 'per_doc',
      cite_sources: true,
      confidence_scores: true,
    },
  ],
};

/** Documents in every supported format, each unique (its number is in it). */
export function mixedDocuments(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const number = `INV-${String(i).padStart(4, '0')}`;
    const lines = invoiceLines(number, `${i + 1},50`);
    switch (i % 4) {
      case 0:
        return { name: `${number}.pdf`, bytes: makePdf([lines, [`Page two of ${number}`]]) };
      case 1:
        return { name: `${number}.docx`, bytes: makeDocx(lines) };
      case 2:
        return {
          name: `${number}.html`,
          bytes: makeHtml(
            `Invoice ${number}`,
            lines.slice(1).map((l) => l.split(': ') as [string, string]),
          ),
        };
      default:
        return { name: `${number}.txt`, bytes: Buffer.from(lines.join('\n')) };
    }
  });
}

/** Results as readers see them: the store lists only complete documents (a killed writer may leave a `.tmp`). */
export async function resultsOf(stack: Stack, batchId: string): Promise<ResultDocument[]> {
  const results: ResultDocument[] = [];
  for await (const doc of new LocalResultStore(stack.config.storage.resultDir).list(batchId))
    results.push(doc as ResultDocument);
  return results;
}

export const requestsTo = (stats: SimStats, route: string) =>
  Object.values(stats.requests[route] ?? {}).reduce((a, b) => a + b, 0);
