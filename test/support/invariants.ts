import type { FileState, SimStats } from '@docpipe/core';
import { expect } from 'vitest';
import { resultsOf } from './fixtures.js';
import type { Stack } from './pipeline-stack.js';

export interface Expected {
  /** Documents in the batch. */
  docs: number;
  /** Names of the documents upstream refuses for good, and the reason they must fail with. */
  rejected?: { names: string[]; reason: string };
  /** Extractions per document (result files per file). */
  schemas: number;
  /** Most duplicate upstream jobs allowed (one per worker killed mid-create). */
  maxDuplicates: number;
  /** cloud-local stats read before a restart wiped them. */
  statsBefore?: SimStats[];
  /** Wait for the batch to finish first, until this time (epoch ms). */
  deadline?: number;
}

/**
 * The reliability suite's invariants for a finished batch: every accepted document ended exactly
 * once, only the documents upstream refuses failed (with upstream's reason), the batch counters
 * equal the files' states, no file completed twice, every result file is whole, and upstream saw
 * no more duplicate jobs than allowed. Returns the files' states and the duplicates counted.
 */
export async function expectNothingLost(s: Stack, batchId: string, expected: Expected) {
  const { docs, schemas } = expected;
  const rejected = expected.rejected?.names ?? [];
  const done = expected.deadline
    ? await s.waitForBatch(batchId, Math.max(1000, expected.deadline - Date.now()))
    : await s.state.getBatch(batchId);
  const byState: Partial<Record<FileState, number>> = {};
  const files = await s.state.listFiles(batchId, { limit: docs + 10 });
  for (const file of files.items) byState[file.state] = (byState[file.state] ?? 0) + 1;
  const failed = files.items.filter((f) => f.state === 'failed');
  expect(failed.map((f) => f.name).sort()).toEqual([...rejected].sort());
  for (const file of failed) expect(file.error?.message).toContain(expected.rejected?.reason);
  expect(files.items).toHaveLength(docs);
  expect(byState).toEqual(
    rejected.length ? { completed: docs - rejected.length, failed: rejected.length } : { completed: docs },
  );
  expect(done.status).toBe(rejected.length ? 'completed_with_errors' : 'completed');
  expect(done.counters.byState).toMatchObject(byState);
  expect(done.counters.total).toBe(docs);
  // No file completed twice: one transition to completed per file in the event stream.
  const stream = await s.redis.xrange(`${s.config.redis.keyPrefix}:batch:${batchId}:events`, '-', '+');
  const completions = new Map<string, number>();
  for (const [, fields] of stream) {
    const entry = Object.fromEntries(
      fields.flatMap((v, i, all) => (i % 2 === 0 ? [[v, all[i + 1]]] : [])),
    ) as Record<string, string>;
    if (entry.to === 'completed') completions.set(entry.file!, (completions.get(entry.file!) ?? 0) + 1);
  }
  expect(completions.size).toBe(docs - rejected.length);
  expect([...completions.values()].every((n) => n === 1)).toBe(true);
  // Result files are complete JSON (the store parses each), one per file and schema.
  const results = await resultsOf(s, batchId);
  expect(results).toHaveLength(docs * schemas);
  expect(results.filter((r) => r.status === 'completed')).toHaveLength((docs - rejected.length) * schemas);
  const stats = [...(expected.statsBefore ?? []), await s.sim<SimStats>('stats')];
  const duplicates = stats.reduce((sum, st) => sum + st.duplicateJobs, 0);
  expect(duplicates).toBeLessThanOrEqual(expected.maxDuplicates);
  return { byState, failed, duplicates };
}
