import { describe, expect, it } from 'vitest';
import { loadSummary, runApiLoad } from './api-load.js';

describe('the API under load (bounded form of npm run load)', () => {
  it('accepts every batch from concurrent producers and keeps /healthz answering while workers are busy', async () => {
    const report = await runApiLoad({ producers: 5, batchesPerProducer: 4, docsPerBatch: 20, workers: 1 });
    console.info(loadSummary(report));
    expect(report.errorStatuses).toEqual({});
    expect(report.documentsAccepted).toBe(5 * 4 * 20);
    expect(report.healthzMs.failed).toBe(0);
    expect(report.healthzMs.probes).toBeGreaterThan(0);
  }, 120_000);
});
