/**
 * Worker processes on three simulated hosts (network namespaces on a private bridge), one of
 * which drops off the network mid-batch while its jobs are active. Its locks expire, the other
 * hosts take the jobs over, and when it comes back nothing it finished late counts twice.
 */
import type { ChildProcess } from 'node:child_process';
import { COOKBOOK_LATENCY } from '@docpipe/core';
import { QueueEvents } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { mixedDocuments, twoSchemas } from '../support/fixtures.js';
import { createHosts, type Hosts } from '../support/hosts.js';
import { expectNothingLost } from '../support/invariants.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

const DOCS = 120;
const SCALE = 0.01;
const LOCK_MS = 1000;

let stack: Stack | undefined;
let network: Hosts | undefined;
const listeners: QueueEvents[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((events) => events.close()));
  await stack?.stop();
  await network?.close();
  stack = network = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('many worker hosts', () => {
  it('recovers the active jobs of a host cut off mid-batch once their locks expire', async () => {
    network = await createHosts(3);
    const net = network;
    const s = await startStack({
      host: net.address,
      sim: { timeScale: SCALE, latency: COOKBOOK_LATENCY, latencyJitter: 0.5, capacity: 20 },
      env: { TIME_SCALE: String(SCALE), WORKER_LOCK_MS: String(LOCK_MS) },
    });
    stack = s;
    // When each job was last stalled (its lock expired) and taken again, from the queues' events.
    const stalledAt = new Map<string, number>();
    const retakenAt = new Map<string, number>();
    const redisUrl = new URL(s.config.redis.url);
    for (const name of ['upload', 'parse', 'extract']) {
      const events = new QueueEvents(name, {
        connection: { host: redisUrl.hostname, port: Number(redisUrl.port) },
        prefix: s.config.redis.keyPrefix,
      });
      events.on('stalled', ({ jobId }) => stalledAt.set(`${name}:${jobId}`, Date.now()));
      events.on('active', ({ jobId }) => {
        if (stalledAt.has(`${name}:${jobId}`)) retakenAt.set(`${name}:${jobId}`, Date.now());
      });
      await events.waitUntilReady();
      listeners.push(events);
    }

    const workers: ChildProcess[] = net.hosts.map((host) => s.spawnWorker({ netns: host.netns }));
    const { batch } = await s.enqueue(mixedDocuments(DOCS), twoSchemas);
    const deadline = Date.now() + 150_000;
    await s.waitForFinished(batch.id, DOCS * 0.3, deadline);

    const [lost] = net.hosts;
    // Cut the host off. Its active jobs stall once their locks expire (within about two lock
    // durations) and another host takes them. A cut that caught it between jobs stalls nothing:
    // heal, and cut again a moment later.
    let cutFinished = 0;
    let cutAt = 0;
    for (let cuts = 1; ; cuts++) {
      stalledAt.clear();
      retakenAt.clear();
      cutFinished = await s.finished(batch.id);
      cutAt = Date.now();
      await lost!.cut();
      while (stalledAt.size === 0 || retakenAt.size < stalledAt.size) {
        if (stalledAt.size === 0 && Date.now() - cutAt > 8 * LOCK_MS) break;
        if (Date.now() > deadline) {
          throw new Error(
            `jobs of the lost host not taken over: ${stalledAt.size} stalled, ${retakenAt.size} retaken`,
          );
        }
        await sleep(50);
      }
      if (stalledAt.size > 0) break;
      if (cuts === 5) throw new Error('the host held no active job at any of 5 cuts');
      await lost!.heal();
      await sleep(500);
    }
    const recoveredMs = Math.max(...retakenAt.values()) - cutAt;
    // Back on the network: whatever it finishes late is refused (its locks are gone).
    await sleep(2 * LOCK_MS);
    await lost!.heal();

    // A job taken over may have created its remote job without saving the id: one more at most.
    const { duplicates } = await expectNothingLost(s, batch.id, {
      docs: DOCS,
      schemas: 2,
      deadline,
      maxDuplicates: stalledAt.size,
    });
    for (const worker of workers) expect(worker.exitCode).toBeNull();
    console.info(
      `hosts: ${DOCS} documents × 2 schemas, 3 hosts; one cut off with ${cutFinished} of ${DOCS} finished: ` +
        `${stalledAt.size} of its jobs stalled and were taken over within ${(recoveredMs / 1000).toFixed(1)} s ` +
        `(lock ${LOCK_MS} ms); duplicate upstream jobs ${duplicates}`,
    );
  }, 240_000);
});
