import { createLogger, Liveness, type SimStats } from '@docpipe/core';
import { retryFailed } from '@docpipe/pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { invoiceSchema, mixedDocuments, requestsTo, resultsOf, twoSchemas } from '../support/fixtures.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const retryDeps = (s: Stack) => ({
  config: s.config,
  log: createLogger({ level: 'error', pretty: false }),
  redis: s.redis,
  state: s.state,
  queues: s.queues,
});

const named = (prefix: string, docs: { name: string; bytes: Buffer }[]) =>
  docs.map((doc) => ({ ...doc, name: `${prefix}${doc.name}` }));

describe('retry of failed work', () => {
  it('re-runs a failed extraction as a new round, reopens the batch and completes it', async () => {
    stack = await startStack({
      sim: {
        fileRules: [{ pattern: '^poison', status: 'FAILED', message: 'simulated outage of this file' }],
      },
      env: { TIME_SCALE: '0.001' },
    });
    await stack.startWorkerInProcess();
    const spec = { extract: [twoSchemas.extract[0]!] }; // one schema: extract straight from the file
    // Five different documents: a poison one with the bytes of a good one would reuse its upload
    // (files are uploaded once per sha256), and cloud-local's rule matches the uploaded name.
    const all = mixedDocuments(5);
    const documents = [...all.slice(0, 3), ...named('poison-', all.slice(3))];
    const { batch } = await stack.enqueue(documents, spec);
    const first = await stack.waitForBatch(batch.id);
    expect(first).toMatchObject({ status: 'completed_with_errors', sequence: 1 });
    expect(first.counters.byState).toMatchObject({ completed: 3, failed: 2 });
    const failed = (await stack.state.listFiles(batch.id, { state: 'failed' })).items;
    for (const file of failed) {
      expect(file.error).toMatchObject({ stage: 'extract', code: 'remote_failed', attempt: 1 });
      expect(file.error?.remote_id).toMatch(/^ext-/);
      expect(file.error?.message).toMatch(/simulated outage of this file/);
    }

    await stack.sim('config', { fileRules: [] });
    const report = await retryFailed(retryDeps(stack), batch.id);
    expect(report.retried).toEqual({ upload: 0, parse: 0, extract: 2 });
    const second = await stack.waitForBatch(batch.id);
    expect(second).toMatchObject({ status: 'completed', sequence: 2 });
    expect(second.counters.byState).toMatchObject({ completed: 5, failed: 0, extracting: 0 });
    const retried = await stack.state.getFile(failed[0]!.id);
    expect(retried).toMatchObject({ state: 'completed', round: 2 });
    expect(retried.error).toBeUndefined();
    const results = await resultsOf(stack, batch.id);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('completed'));

    const stats = await stack.sim<SimStats>('stats');
    expect(requestsTo(stats, 'POST /api/v1/beta/files')).toBe(5); // nothing uploaded again
    expect(stats.jobsCreated.extract).toBe(7); // 5, then the 2 failed ones again
    expect(
      await stack.queues.of(failed[0]!.id).extract.getJob(`${batch.id}.${failed[0]!.id}.extract.invoice.r2`),
    ).toBeTruthy();
  });

  it('restarts each file where it failed and keeps finished extractions', async () => {
    stack = await startStack({
      sim: { fileRules: [{ pattern: '^poison', status: 'FAILED', message: 'simulated parse failure' }] },
      env: { TIME_SCALE: '0.001' },
    });
    await stack.startWorkerInProcess();
    // `beyond` always fails (it asks for a page no document has); `good` always works.
    const spec = {
      extract: [
        { ...twoSchemas.extract[0]!, name: 'good' },
        { ...twoSchemas.extract[0]!, name: 'beyond', target_pages: '99' },
      ],
    };
    const [plain, poison] = [mixedDocuments(1)[0]!, named('poison-', mixedDocuments(2))[1]!];
    const { batch, files } = await stack.enqueue([plain, poison], spec);
    await stack.waitForBatch(batch.id);
    const [plainFile, poisonFile] = [
      await stack.state.getFile(files[0]!.id),
      await stack.state.getFile(files[1]!.id),
    ];
    expect(plainFile.error).toMatchObject({ stage: 'extract' });
    expect(poisonFile.error).toMatchObject({ stage: 'parse', code: 'remote_failed' });
    expect(poisonFile.error?.remote_id).toMatch(/^pjb-/);

    await stack.sim('config', { fileRules: [] });
    expect((await retryFailed(retryDeps(stack), batch.id)).retried).toEqual({
      upload: 0,
      parse: 1,
      extract: 1,
    });
    const done = await stack.waitForBatch(batch.id);
    expect(done).toMatchObject({ status: 'completed_with_errors', sequence: 2 });
    expect(done.counters.byState.failed).toBe(2); // `beyond` fails again, as it must

    const stats = await stack.sim<SimStats>('stats');
    // Parse: plain once, poison twice. Extract: round 1 plain good + beyond; round 2 plain
    // beyond only (its `good` result is kept), poison good + beyond.
    expect(stats.jobsCreated.parse).toBe(3);
    expect(stats.jobsCreated.extract).toBe(5);
    const results = await resultsOf(stack, batch.id);
    const good = results.filter((r) => r.schema === 'good');
    expect(good.map((r) => r.status)).toEqual(['completed', 'completed']);
    expect((await stack.state.getFile(poisonFile.id)).error).toMatchObject({ stage: 'extract' });
  });

  it('refuses a second retry of the same batch while one runs', async () => {
    stack = await startStack();
    const { batch } = await stack.enqueue(mixedDocuments(1), { extract: [twoSchemas.extract[0]!] });
    await stack.redis.set(`${stack.config.redis.keyPrefix}:batch:${batch.id}:retrying`, '1');
    await expect(retryFailed(retryDeps(stack), batch.id)).rejects.toMatchObject({
      code: 'retry_in_progress',
    });
  });
});

describe('observability of a worker process', () => {
  it('serves Prometheus metrics and health, and records that it consumes', async () => {
    stack = await startStack({ env: { TIME_SCALE: '0.001', HEARTBEAT_INTERVAL_MS: '200' } });
    const worker = await stack.startWorkerInProcess();
    const { batch } = await stack.enqueue(mixedDocuments(4), {
      extract: [{ ...twoSchemas.extract[0]!, data_schema: invoiceSchema }],
    });
    await stack.waitForBatch(batch.id);

    const health = await fetch(`${worker.metricsUrl}/healthz`);
    expect(health.status).toBe(200);
    const text = await (await fetch(`${worker.metricsUrl}/metrics`)).text();
    const value = (pattern: RegExp) => Number(text.match(pattern)?.[1] ?? Number.NaN);
    expect(
      value(/docpipe_upstream_requests_total\{route="POST \/api\/v1\/beta\/files",status="200"\} (\d+)/),
    ).toBe(4);
    expect(
      value(/docpipe_upstream_requests_total\{route="POST \/api\/v2\/extract",status="200"\} (\d+)/),
    ).toBe(4);
    expect(value(/docpipe_stage_duration_seconds_count\{stage="extract",outcome="park"\} (\d+)/)).toBe(4);
    expect(value(/docpipe_stage_duration_seconds_count\{stage="extract",outcome="done"\} (\d+)/)).toBe(4);
    expect(value(/docpipe_files_finished_total\{state="completed"\} (\d+)/)).toBe(4);
    expect(value(/docpipe_credits_total\{kind="extract"\} ([\d.]+)/)).toBeGreaterThan(0);
    expect(value(/docpipe_queue_jobs\{queue="extract",state="completed"\} (\d+)/)).toBeGreaterThanOrEqual(4);
    expect(value(/docpipe_inflight_remote_jobs\{kind="extract"\} (\d+)/)).toBe(0);
    expect(text).toMatch(/process_cpu_user_seconds_total/);

    const liveness = new Liveness(stack.redis, stack.config.redis.keyPrefix);
    const [presence] = await liveness.workers();
    expect(presence).toMatchObject({ workerId: worker.workerId, pid: process.pid });
    expect((await liveness.readiness(2_000)).ready).toBe(true);
    // Idle: only heartbeat jobs are consumed now, and they keep the record fresh.
    const before = presence!.lastConsumedAt;
    for (let i = 0; i < 60; i++) {
      const [now] = await liveness.workers();
      if (now!.lastConsumedAt > before + 1000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await liveness.workers())[0]!.lastConsumedAt).toBeGreaterThan(before + 1000);
    expect((await liveness.readiness(1)).ready).toBe(false);

    await worker.close();
    expect(await liveness.workers()).toEqual([]);
    expect((await liveness.readiness(60_000)).reason).toMatch(/no worker process/);
  });
});
