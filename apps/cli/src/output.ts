import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchRecord, ResultStore } from '@docpipe/core';
import Table from 'cli-table3';

export interface RunSummary {
  batch_id: string;
  status: BatchRecord['status'];
  counters: BatchRecord['counters'];
  credits_used: number;
  wall_time_ms: number;
  /** `"POST /api/v2/extract": 24`, or null when this run could not count them. */
  upstream_requests: Record<string, number> | null;
  failures: { file: string; schema: string; stage: string; message: string }[];
}

interface ResultLine {
  file_name: string;
  schema: string;
  status: string;
  error?: { stage: string; message: string };
}

async function writeAtomic(path: string, text: string) {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

/**
 * Writes `<out>/<batch>/`: one JSON per document and schema (`<document>.<schema>.json`, folders
 * in the name become `__`), every result as a line of `results.ndjson`, and `summary.json`.
 */
export async function writeOutput(
  outDir: string,
  batch: BatchRecord,
  results: ResultStore,
  extra: { wallTimeMs: number; upstreamRequests: Record<string, number> | null },
): Promise<{ dir: string; summary: RunSummary }> {
  const dir = join(outDir, batch.id);
  await mkdir(dir, { recursive: true });
  const lines: string[] = [];
  const failures: RunSummary['failures'] = [];
  for await (const doc of results.list(batch.id)) {
    const result = doc as ResultLine;
    lines.push(JSON.stringify(result));
    const file = `${result.file_name.replaceAll('/', '__')}.${result.schema}.json`;
    await writeAtomic(join(dir, file), `${JSON.stringify(result, null, 2)}\n`);
    if ((result.status === 'failed' || result.status === 'skipped') && result.error)
      failures.push({
        file: result.file_name,
        schema: result.schema,
        stage: result.error.stage,
        message: result.error.message,
      });
  }
  lines.sort();
  await writeAtomic(join(dir, 'results.ndjson'), lines.map((line) => `${line}\n`).join(''));
  const summary: RunSummary = {
    batch_id: batch.id,
    status: batch.status,
    counters: batch.counters,
    credits_used: batch.creditsUsed,
    wall_time_ms: Math.round(extra.wallTimeMs),
    upstream_requests: extra.upstreamRequests,
    failures,
  };
  await writeAtomic(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return { dir, summary };
}

/** The table printed at the end of a run. */
export function summaryTable(summary: RunSummary): string {
  const n = summary.counters.byState;
  const table = new Table({ style: { head: [], border: [] } });
  const requests = summary.upstream_requests;
  table.push(
    { Batch: summary.batch_id },
    { Status: summary.status.replaceAll('_', ' ') },
    { Documents: String(summary.counters.total) },
    { Completed: String(n.completed) },
    { Failed: String(n.failed) },
    ...(n.skipped ? [{ Skipped: String(n.skipped) }] : []),
    ...(n.cancelled ? [{ Cancelled: String(n.cancelled) }] : []),
    { Credits: String(summary.credits_used) },
    { 'Wall time': `${(summary.wall_time_ms / 1000).toFixed(1)} s` },
    {
      'Upstream requests': requests
        ? Object.entries(requests)
            .sort()
            .map(([route, count]) => `${route}: ${count}`)
            .join('\n')
        : 'not counted (workers in other processes)',
    },
  );
  let text = table.toString();
  if (summary.failures.length) {
    const failures = new Table({
      head: ['Failed or skipped document', 'Schema', 'Stage', 'Reason'],
      colWidths: [30, 12, 9, 60],
      wordWrap: true,
      style: { head: [], border: [] },
    });
    for (const f of summary.failures) failures.push([f.file, f.schema, f.stage, f.message]);
    text += `\n${failures.toString()}`;
  }
  return text;
}
