import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateFolder, formatReport } from '../../apps/cli/src/evaluate.js';
import { UsageError } from '../../apps/cli/src/inputs.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/extraction');

/**
 * The accuracy cloud-local's extraction reached on the generated fixtures (six languages, three
 * layouts, receipts, a credit note, a contract, line items): a regression gate, per field.
 */
const REACHED: Record<string, number> = {
  vendor_name: 1,
  invoice_number: 1,
  invoice_date: 1,
  total_amount: 1,
  currency: 1,
  subtotal_amount: 1,
  tax_amount: 1,
  amount_due: 1,
  due_date: 1,
  buyer_name: 1,
  document_type: 1,
  line_items: 1,
};

describe('docpipe eval', () => {
  it('scores the generated fixtures at or above the accuracy reached, and hostile files fail alone', async () => {
    const report = await evaluateFolder(FIXTURES, { tier: 'cost_effective' });
    console.info(formatReport(report));
    const accuracy = Object.fromEntries(report.summary.perField.map((f) => [f.field, f.accuracy]));
    for (const [field, reached] of Object.entries(REACHED))
      expect.soft(accuracy[field], field).toBeGreaterThanOrEqual(reached);
    expect(report.summary.overall.scored).toBeGreaterThan(200);
    expect(report.summary.hostile).toEqual({ total: 2, failedCleanly: 2 });
    const reasons = report.documents.filter((d) => d.expectsError).map((d) => d.error);
    expect(reasons).toEqual([expect.stringMatching(/corrupt or truncated/), expect.stringMatching(/empty/)]);
  }, 60_000);

  it('names what is wrong with a folder it cannot score', async () => {
    await expect(evaluateFolder(join(FIXTURES, 'documents'), { tier: 'cost_effective' })).rejects.toThrow(
      UsageError,
    );
    await expect(evaluateFolder(join(FIXTURES, 'documents'), { tier: 'cost_effective' })).rejects.toThrow(
      /MANIFEST\.json/,
    );
  });
});
