/**
 * docpipe on a Sentinel-watched master: the master is SIGKILLed mid-batch, the Sentinel promotes
 * its replica, and the workers reconnect to the new master through the Sentinel.
 */
import type { ChildProcess } from 'node:child_process';
import { COOKBOOK_LATENCY, inflightCapFor } from '@docpipe/core';
import { afterEach, describe, expect, it } from 'vitest';
import { mixedDocuments, twoSchemas } from '../support/fixtures.js';
import { expectNothingLost } from '../support/invariants.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';
import { type PrivateSentinel, startSentinel } from '../support/redis-sentinel.js';

const DOCS = 100;
const SCALE = 0.01;

let stack: Stack | undefined;
let sentinel: PrivateSentinel | undefined;
afterEach(async () => {
  await stack?.stop();
  await sentinel?.stop();
  stack = sentinel = undefined;
});

describe('Redis Sentinel', () => {
  it(`processes ${DOCS} documents and follows the master through a failover`, async () => {
    sentinel = await startSentinel();
    const watched = sentinel;
    const s = await startStack({
      // Each job's writes reach the replica before it completes (WAIT): the failover loses none.
      redisEnv: { ...watched.env, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '200' },
      sim: { timeScale: SCALE, latency: COOKBOOK_LATENCY, latencyJitter: 0.5, capacity: 20 },
      env: { TIME_SCALE: String(SCALE), WORKER_LOCK_MS: '1000' },
    });
    stack = s;
    const workers: ChildProcess[] = Array.from({ length: 2 }, () => s.spawnWorker());
    const { batch } = await s.enqueue(mixedDocuments(DOCS), twoSchemas);
    const deadline = Date.now() + 150_000;
    await s.waitForFinished(batch.id, DOCS * 0.3, deadline);

    const before = await s.finished(batch.id);
    const inFlightAtKill = (await inflightCapFor(s.redis, s.config).state()).held;
    const killedAt = Date.now();
    await watched.master.kill();
    while ((await watched.currentMasterPort()) !== watched.replica.port) {
      if (Date.now() > deadline) throw new Error('the Sentinel did not promote the replica');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const promotedMs = Date.now() - killedAt;
    await s.waitForFinished(batch.id, before + 1, deadline);
    const progressMs = Date.now() - killedAt;

    const done = await s.waitForBatch(batch.id, Math.max(1000, deadline - Date.now()));
    expect(done.status).toBe('completed');
    // A failover loses the commands in flight, as a crash does (see the cluster test).
    const { duplicates } = await expectNothingLost(s, batch.id, {
      docs: DOCS,
      schemas: 2,
      maxDuplicates: inFlightAtKill,
    });
    for (const worker of workers) expect(worker.exitCode).toBeNull();
    console.info(
      `sentinel: ${DOCS} documents × 2 schemas, 2 workers; master killed at ${before}/${DOCS}: ` +
        `replica promoted in ${(promotedMs / 1000).toFixed(1)} s, next file finished ` +
        `${(progressMs / 1000).toFixed(1)} s after the kill; duplicate upstream jobs ${duplicates} ` +
        `(of ${inFlightAtKill} in flight at the kill)`,
    );
  }, 240_000);
});
