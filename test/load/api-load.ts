/**
 * Load on the producer API: concurrent producers each enqueue batches of one-page documents
 * through one API process (JSON bodies, base64 files) while worker processes drain them as
 * fast as they can, and a prober asks /healthz every 20 ms. Measured: enqueue latency
 * percentiles, error rate, documents accepted per second, and /healthz latency under that load.
 * Every loop is bounded in count; nothing here asserts a timing.
 */
import { makePdf } from '@docpipe/testing';
import { type Stack, startStack } from '../support/pipeline-stack.js';

export interface LoadOptions {
  producers: number;
  batchesPerProducer: number;
  docsPerBatch: number;
  workers: number;
}

export interface LoadReport extends LoadOptions {
  requests: number;
  errors: number;
  errorStatuses: Record<string, number>;
  enqueueMs: Percentiles;
  documentsAccepted: number;
  acceptedDocsPerS: number;
  healthzMs: Percentiles & { probes: number; failed: number };
  completedDuringRun: number;
  seconds: number;
}

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const KEY = 'load-api-key-0123456789';

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

function batchBody(producer: number, batch: number, docs: number): string {
  const files = Array.from({ length: docs }, (_, i) => ({
    name: `p${producer}-b${batch}-${i}.pdf`,
    content_base64: makePdf([
      [`Invoice Number: P${producer}-B${batch}-${i}`, 'Total Amount: 10.00 EUR'],
    ]).toString('base64'),
  }));
  return JSON.stringify({
    files,
    extract: [
      {
        name: 'invoice',
        data_schema: { type: 'object', properties: { invoice_number: { type: 'string' } } },
      },
    ],
  });
}

export async function runApiLoad(options: LoadOptions): Promise<LoadReport> {
  const stack: Stack = await startStack({
    env: { LOG_LEVEL: 'warn', RATE_UPLOAD_MAX: '100000', RATE_CREATE_MAX: '100000', RATE_READ_MAX: '100000' },
    redis: { appendonly: true, appendfsync: 'everysec' },
  });
  try {
    const api = await stack.spawnApi({ API_KEYS: KEY, API_MAX_FILES: String(options.docsPerBatch) });
    for (let i = 0; i < options.workers; i++) stack.spawnWorker();

    const enqueueMs: number[] = [];
    const errorStatuses: Record<string, number> = {};
    let accepted = 0;
    let running = true;
    const health: number[] = [];
    let healthFailed = 0;
    const prober = (async () => {
      while (running) {
        const started = performance.now();
        const ok = await fetch(`${api.url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        health.push(performance.now() - started);
        if (!ok) healthFailed++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const batchIds: string[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: options.producers }, async (_, producer) => {
        for (let b = 0; b < options.batchesPerProducer; b++) {
          const body = batchBody(producer, b, options.docsPerBatch);
          const sent = performance.now();
          const response = await fetch(`${api.url}/v1/batches`, {
            method: 'POST',
            headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
            body,
          }).catch((error: unknown) => ({ status: 0, error }) as const);
          enqueueMs.push(performance.now() - sent);
          if ('error' in response) {
            errorStatuses.network = (errorStatuses.network ?? 0) + 1;
            continue;
          }
          const answer = (await response.json()) as { id?: string };
          if (response.status === 201 && answer.id) {
            accepted += options.docsPerBatch;
            batchIds.push(answer.id);
          } else errorStatuses[response.status] = (errorStatuses[response.status] ?? 0) + 1;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    running = false;
    await prober;

    let completed = 0;
    for (const id of batchIds) completed += (await stack.state.getBatch(id)).counters.byState.completed;
    const requests = enqueueMs.length;
    const errors = Object.values(errorStatuses).reduce((a, b) => a + b, 0);
    return {
      ...options,
      requests,
      errors,
      errorStatuses,
      enqueueMs: percentiles(enqueueMs),
      documentsAccepted: accepted,
      acceptedDocsPerS: accepted / seconds,
      healthzMs: { ...percentiles(health), probes: health.length, failed: healthFailed },
      completedDuringRun: completed,
      seconds,
    };
  } finally {
    await stack.stop();
  }
}

export function loadSummary(r: LoadReport): string {
  const ms = (p: Percentiles) =>
    `p50 ${p.p50.toFixed(1)} ms, p95 ${p.p95.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms, max ${p.max.toFixed(1)} ms`;
  return [
    `API load: ${r.producers} producers × ${r.batchesPerProducer} batches × ${r.docsPerBatch} documents, ${r.workers} worker processes, ${r.seconds.toFixed(1)} s`,
    `  enqueue: ${r.requests} requests, ${r.errors} errors (${((100 * r.errors) / Math.max(1, r.requests)).toFixed(2)}%${r.errors ? ` ${JSON.stringify(r.errorStatuses)}` : ''}); ${ms(r.enqueueMs)}`,
    `  accepted ${r.documentsAccepted} documents (${r.acceptedDocsPerS.toFixed(0)}/s); workers completed ${r.completedDuringRun} meanwhile`,
    `  /healthz while loaded: ${r.healthzMs.probes} probes, ${r.healthzMs.failed} failed; ${ms(r.healthzMs)}`,
  ].join('\n');
}
