import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type BatchSpec,
  COOKBOOK_LATENCY,
  createLogger,
  InflightRegistry,
  type SimStats,
} from '@docpipe/core';
import { LlamaCloudClient } from '@docpipe/llamacloud';
import {
  CALLBACK_SIGNATURE_HEADER,
  handleLlamaCloudWebhook,
  LLAMACLOUD_SIGNATURE_HEADER,
  signBody,
  type WebhookDeps,
} from '@docpipe/pipeline';
import { makePdf, makeZipBomb } from '@docpipe/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { mixedDocuments, requestsTo, resultsOf, twoSchemas } from '../support/fixtures.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

const HOSTILE = [
  { name: 'empty.pdf', bytes: Buffer.alloc(0), reason: /empty/ },
  { name: 'truncated.pdf', bytes: makePdf([['cut']]).subarray(0, 200), reason: /corrupt or truncated/ },
  { name: 'locked.pdf', bytes: makePdf([['x']], { encrypted: true }), reason: /encrypted/ },
  { name: 'garbage.pdf', bytes: Buffer.from('not a pdf'), reason: /not a PDF/ },
  { name: 'bomb.docx', bytes: makeZipBomb(32), reason: /zip bomb/ },
  {
    name: 'too-many-pages.pdf',
    bytes: makePdf(Array.from({ length: 2001 }, (_, i) => [`page ${i + 1}`])),
    reason: /2001 pages; at most 2000/,
  },
];

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe('the pipeline, end to end', () => {
  it('processes 200 mixed documents with two schemas: parse once, extract twice, each file once', async () => {
    // Seed 000's latencies at 1/1000 time scale, 10 extract jobs RUNNING at most.
    stack = await startStack({
      sim: { timeScale: 0.001, latency: COOKBOOK_LATENCY, capacity: 10 },
      env: { TIME_SCALE: '0.001' },
    });
    await stack.startWorkerInProcess();
    // One page of 20,000 lines (about 1 MB of text) goes through like any other document.
    const hugePage = {
      name: 'huge-page.pdf',
      bytes: makePdf([Array.from({ length: 20_000 }, (_, i) => `Line ${i} Invoice Number: HUGE-1`)]),
    };
    const documents = [...mixedDocuments(193), hugePage, ...HOSTILE];
    const started = performance.now();
    const { batch } = await stack.enqueue(documents, twoSchemas);
    const done = await stack.waitForBatch(batch.id);
    const wallMs = performance.now() - started;

    expect(done.status).toBe('completed_with_errors');
    expect(done.counters.byState).toMatchObject({
      completed: 194,
      failed: 6,
      queued: 0,
      uploading: 0,
      parsing: 0,
      extracting: 0,
    });
    expect(done.sequence).toBe(1);

    const results = await resultsOf(stack, batch.id);
    expect(results).toHaveLength(400); // one per file and schema, failures included
    const schemasByFile = new Map<string, string[]>();
    for (const r of results)
      schemasByFile.set(r.file_name, [...(schemasByFile.get(r.file_name) ?? []), r.schema]);
    expect(schemasByFile.size).toBe(200);
    for (const [name, schemas] of schemasByFile)
      expect(schemas.sort(), name).toEqual(['currency', 'invoice']);
    const invoice = results.find((r) => r.file_name === 'INV-0007.txt' && r.schema === 'invoice')!;
    expect(invoice).toMatchObject({
      status: 'completed',
      data: { invoice_number: 'INV-0007', invoice_date: '2024-03-12', total_amount: 8.5 },
      usage: { pages: 1, credits: 5 },
    });
    expect(invoice.remote.parse_job_id).toMatch(/^pjb-/);
    expect(invoice.remote.extract_job_id).toMatch(/^ext-/);
    expect(invoice.citations?.invoice_number).toEqual([
      { page: 1, matching_text: 'Invoice Number: INV-0007' },
    ]);
    expect(results.find((r) => r.file_name === 'INV-0003.txt' && r.schema === 'currency')?.data).toEqual({
      currency: 'EUR',
    });

    for (const hostile of HOSTILE) {
      const failed = results.filter((r) => r.file_name === hostile.name);
      expect(failed).toHaveLength(2);
      for (const doc of failed) {
        expect(doc.status).toBe('failed');
        expect(doc.error?.stage).toBe('parse');
        expect(doc.error?.message).toMatch(hostile.reason);
      }
    }
    const failedFiles = await stack.state.listFiles(batch.id, { state: 'failed' });
    expect(failedFiles.items.map((f) => f.name).sort()).toEqual(HOSTILE.map((h) => h.name).sort());

    const stats = await stack.sim<SimStats>('stats');
    expect(stats.duplicateJobs).toBe(0);
    expect(stats.jobsCreated.parse).toBe(200);
    expect(stats.jobsCreated.extract).toBe(388);
    expect(stats.peakRunning).toBeLessThanOrEqual(10);
    // Credits: parse 3 per page (cost_effective), extract 5 and 15 per page; PDFs have 2 pages.
    expect(done.creditsUsed).toBe(stats.creditsBilled);

    const polls = requestsTo(stats, 'GET /api/v2/extract') + requestsTo(stats, 'GET /api/v2/parse');
    const reads = requestsTo(stats, 'GET /api/v2/extract/:id') + requestsTo(stats, 'GET /api/v2/parse/:id');
    const perDoc = (n: number) => (n / documents.length).toFixed(2);
    console.info(
      [
        `200 documents, 2 schemas, time scale 1/1000, capacity 10: wall ${(wallMs / 1000).toFixed(1)} s`,
        `upstream requests per document: upload ${perDoc(requestsTo(stats, 'POST /api/v1/beta/files'))}, ` +
          `parse create ${perDoc(requestsTo(stats, 'POST /api/v2/parse'))}, extract create ${perDoc(requestsTo(stats, 'POST /api/v2/extract'))}, ` +
          `status reads ${perDoc(reads)}, poll lists ${perDoc(polls)}`,
        `throttled ${stats.throttledMs} ms in all; peak running ${stats.peakRunning}`,
      ].join('\n'),
    );
  }, 120_000);

  it('fails one extraction without losing the other, and signs the completion callback', async () => {
    const received: { body: string; signature: string | undefined }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push({ body, signature: req.headers[CALLBACK_SIGNATURE_HEADER] as string | undefined });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const secret = 'callback-secret-0123456789';
    try {
      stack = await startStack({ env: { CALLBACK_SIGNING_SECRET: secret, TIME_SCALE: '0.001' } });
      await stack.startWorkerInProcess();
      // `beyond` asks for a page no document has: that extraction fails on every file.
      const spec: BatchSpec = {
        extract: [
          { ...twoSchemas.extract[0]!, name: 'good' },
          { ...twoSchemas.extract[0]!, name: 'beyond', target_pages: '99' },
        ],
      };
      const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;
      const { batch } = await stack.enqueue(mixedDocuments(3), spec, { callbackUrl });
      const done = await stack.waitForBatch(batch.id);
      expect(done.counters.byState.failed).toBe(3);
      const results = await resultsOf(stack, batch.id);
      expect(results.filter((r) => r.schema === 'good').every((r) => r.status === 'completed')).toBe(true);
      const beyond = results.filter((r) => r.schema === 'beyond');
      expect(
        beyond.every(
          (r) => r.status === 'failed' && /selects none of the document/.test(r.error?.message ?? ''),
        ),
      ).toBe(true);
      const file = (await stack.state.listFiles(batch.id)).items[0]!;
      expect(file.error).toMatchObject({ stage: 'extract', code: 'remote_failed' });

      for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(received).toHaveLength(1);
      const callback = JSON.parse(received[0]!.body);
      expect(callback).toMatchObject({ batch_id: batch.id, status: 'completed_with_errors', sequence: 1 });
      expect(callback.counters).toMatchObject({ total: 3, failed: 3 });
      expect(received[0]!.signature).toBe(signBody(secret, received[0]!.body));
    } finally {
      receiver.close();
    }
  });

  it('extracts with a configuration saved upstream (configuration_id) next to an inline schema', async () => {
    stack = await startStack({ env: { TIME_SCALE: '0.001' } });
    await stack.startWorkerInProcess();
    const llama = new LlamaCloudClient({ baseUrl: stack.cloud.url, apiKey: stack.cloud.apiKey });
    const saved = await llama.configurations.create({
      name: 'currency-only',
      parameters: { product_type: 'extract_v2', data_schema: twoSchemas.extract[1]!.data_schema! },
    });
    await llama.close();
    const { data_schema: _, ...base } = twoSchemas.extract[1]!;
    const spec: BatchSpec = {
      extract: [twoSchemas.extract[0]!, { ...base, name: 'saved', configuration_id: saved.id }],
    };
    const { batch } = await stack.enqueue(mixedDocuments(4), spec);
    expect((await stack.waitForBatch(batch.id)).status).toBe('completed');
    const results = await resultsOf(stack, batch.id);
    const fromSaved = results.filter((r) => r.schema === 'saved');
    expect(fromSaved).toHaveLength(4);
    expect(
      fromSaved.every((r) => r.status === 'completed' && (r.data as { currency: string }).currency === 'EUR'),
    ).toBe(true);
  });

  it('loses nothing when a worker process is killed with SIGKILL mid-batch', async () => {
    stack = await startStack({
      sim: { timeScale: 0.001, latency: COOKBOOK_LATENCY },
      env: { TIME_SCALE: '0.001', WORKER_LOCK_MS: '1000' },
    });
    const first = stack.spawnWorker();
    const second = stack.spawnWorker();
    const { batch } = await stack.enqueue(mixedDocuments(60), twoSchemas);
    // Kill one worker once work is under way, then start a replacement.
    for (let i = 0; i < 400; i++) {
      const current = await stack.state.getBatch(batch.id);
      if (current.counters.byState.completed >= 5) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    first.kill('SIGKILL');
    stack.spawnWorker();
    const done = await stack.waitForBatch(batch.id, 20_000);
    const failed = await stack.state.listFiles(batch.id, { state: 'failed' });
    expect(failed.items.map((f) => `${f.name}: ${JSON.stringify(f.error)}`)).toEqual([]);
    expect(done.status).toBe('completed');
    expect(done.counters.byState.completed).toBe(60);
    expect(done.sequence).toBe(1);
    const results = await resultsOf(stack, batch.id);
    expect(results).toHaveLength(120);
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    const stats = await stack.sim<SimStats>('stats');
    // A create step that runs again looks its remote job up first, so a kill between "created"
    // and "saved" leaves no duplicate behind.
    expect(stats.duplicateJobs).toBe(0);
    console.info(
      `SIGKILL test: duplicates ${stats.duplicateJobs}, parse jobs ${stats.jobsCreated.parse}, extract jobs ${stats.jobsCreated.extract}`,
    );
    second.kill('SIGTERM');
  });

  it('wakes parked jobs through signed LlamaCloud webhooks without waiting for the poller', async () => {
    const secret = 'webhook-secret-0123456789';
    let deps: WebhookDeps | undefined;
    const deliveries: number[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const answer = await handleLlamaCloudWebhook(deps!, Buffer.concat(chunks), req.headers);
        deliveries.push(answer.status);
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    try {
      // Polling once an hour: only webhooks can wake the parked jobs in time.
      // Remote jobs take 0.3–1 s (seed 000's latencies at 1/20), as real ones take seconds.
      // Deliveries come late, out of order and half of them twice, as LlamaCloud allows.
      stack = await startStack({
        sim: {
          timeScale: 0.05,
          latency: COOKBOOK_LATENCY,
          faults: { webhookDuplicateRate: 0.5, webhookDelayMs: 2000 },
        },
        env: { PUBLIC_URL: receiverUrl, WEBHOOK_SIGNING_SECRET: secret, POLL_INTERVAL_MS: '3600000' },
      });
      deps = {
        config: stack.config,
        inflight: new InflightRegistry(stack.redis, stack.config.redis.keyPrefix),
        queues: stack.queues,
        log: createLogger({ level: 'error', pretty: false }),
      };
      await stack.startWorkerInProcess();
      const { batch } = await stack.enqueue(mixedDocuments(10), twoSchemas);
      const done = await stack.waitForBatch(batch.id, 25_000);
      expect(done.status).toBe('completed');
      const stats = await stack.sim<SimStats>('stats');
      expect(requestsTo(stats, 'GET /api/v2/extract') + requestsTo(stats, 'GET /api/v2/parse')).toBe(0);
      expect(deliveries.filter((status) => status === 202).length).toBeGreaterThanOrEqual(30);

      // Forged, malformed, duplicate and unknown deliveries change nothing.
      const post = (body: string, signature?: string) =>
        fetch(`${receiverUrl}/v1/webhooks/llamacloud`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(signature ? { [LLAMACLOUD_SIGNATURE_HEADER]: signature } : {}),
          },
          body,
        });
      const event = JSON.stringify({ event: 'extract.success', job_id: 'ext-unknown', status: 'COMPLETED' });
      expect((await post(event)).status).toBe(401);
      expect((await post(event, signBody('wrong-secret-0123456789', event))).status).toBe(401);
      expect((await post('not json', signBody(secret, 'not json'))).status).toBe(400);
      const unknown = await post(event, signBody(secret, event));
      expect(unknown.status).toBe(202);
      expect(await unknown.json()).toEqual({ ignored: 'not in flight' });
      const asString = JSON.stringify(event);
      expect((await post(asString, signBody(secret, asString))).status).toBe(202);
    } finally {
      receiver.close();
    }
  });
});
