/**
 * docpipe on a Sentinel-watched master: the master is SIGKILLed mid-batch, the Sentinel promotes
 * its replica, and the workers reconnect to the new master through the Sentinel.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { describeFailover, failOver, failoverStack } from '../support/failover.js';
import { mixedDocuments, twoSchemas } from '../support/fixtures.js';
import { expectNothingLost } from '../support/invariants.js';
import type { Stack } from '../support/pipeline-stack.js';
import { type PrivateSentinel, startSentinel } from '../support/redis-sentinel.js';

const DOCS = 100;

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
    const s = await failoverStack(watched.env);
    stack = s;
    const workers: ChildProcess[] = Array.from({ length: 2 }, () => s.spawnWorker());
    const { batch } = await s.enqueue(mixedDocuments(DOCS), twoSchemas);
    const deadline = Date.now() + 150_000;
    await s.waitForFinished(batch.id, DOCS * 0.3, deadline);

    const failover = await failOver(s, batch.id, deadline, {
      kill: () => watched.master.kill(),
      async promoted() {
        while ((await watched.currentMasterPort()) !== watched.replica.port) {
          if (Date.now() > deadline) throw new Error('the Sentinel did not promote the replica');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
    });

    const { duplicates } = await expectNothingLost(s, batch.id, {
      docs: DOCS,
      schemas: 2,
      deadline,
      maxDuplicates: failover.inFlightAtKill,
    });
    for (const worker of workers) expect(worker.exitCode).toBeNull();
    console.info(
      `sentinel: ${DOCS} documents × 2 schemas, 2 workers; ${describeFailover(failover, DOCS, duplicates)}`,
    );
  }, 240_000);
});
