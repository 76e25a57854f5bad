/**
 * docpipe on a real Redis Cluster: 3 masters with a replica each, the queues in 3 families (one
 * per master), 3 worker processes, and the master of the state slot SIGKILLed mid-batch so its
 * replica takes over. The reliability suite's invariants must hold afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRedisServer, connectRedis, familyOf, familyPrefixes } from '@docpipe/core';
import { afterEach, describe, expect, it } from 'vitest';
import { docpipe, RUN } from '../support/cli.js';
import { describeFailover, failOver, failoverStack } from '../support/failover.js';
import { mixedDocuments, twoSchemas } from '../support/fixtures.js';
import { expectNothingLost } from '../support/invariants.js';
import type { Stack } from '../support/pipeline-stack.js';
import { type PrivateCluster, startRedisCluster } from '../support/redis-cluster.js';

const DOCS = 200;
const WORKERS = 3;

let stack: Stack | undefined;
let cluster: PrivateCluster | undefined;
afterEach(async () => {
  await stack?.stop();
  await cluster?.stop();
  stack = cluster = undefined;
});

describe('Redis Cluster', () => {
  it(`processes ${DOCS} documents over 3 queue families and survives the loss of the state slot's master`, async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    const c = cluster;
    const s = await failoverStack(c.env);
    stack = s;
    const prefix = s.config.redis.keyPrefix;
    // Each family's tag lands on its own master.
    const families = familyPrefixes(prefix, 3);
    const owners = await Promise.all(families.map((family) => c.masterOf(`${family}:upload`)));
    expect(new Set(owners.map((node) => node.port)).size).toBe(3);

    // The startup check reads every node, replicas too: one without AOF is named.
    const replica = c.nodes[c.nodes.length - 1]!;
    const direct = await connectRedis(replica.url, { role: 'producer' });
    await direct.config('SET', 'appendonly', 'no');
    const report = await checkRedisServer(s.redis);
    await direct.config('SET', 'appendonly', 'yes');
    direct.disconnect();
    expect(report.warnings).toEqual([
      expect.stringMatching(new RegExp(`^127.0.0.1:${replica.port}: Redis AOF`)),
    ]);

    const workers: ChildProcess[] = Array.from({ length: WORKERS }, () => s.spawnWorker());
    const documents = mixedDocuments(DOCS);
    const { batch } = await s.enqueue(documents, twoSchemas);
    // The files spread over the families.
    const files = await s.state.listFiles(batch.id, { limit: DOCS });
    const perFamily = [0, 0, 0];
    for (const file of files.items) perFamily[familyOf(file.id, 3)]!++;
    expect(Math.min(...perFamily)).toBeGreaterThan(DOCS / 6);

    const deadline = Date.now() + 150_000;
    await s.waitForFinished(batch.id, DOCS * 0.3, deadline);

    // Every master served a share of the commands so far.
    const perMaster = await Promise.all(
      owners.map(async (node) => {
        const client = await connectRedis(node.url, { role: 'producer' });
        try {
          const info = await client.info('stats');
          return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
        } finally {
          client.disconnect();
        }
      }),
    );
    // The master of the state, dispatch and limits slot dies; its replica takes over.
    const victim = await c.masterOf(prefix);
    const failover = await failOver(s, batch.id, deadline, {
      kill: () => c.kill(victim),
      async promoted() {
        await c.waitHealthy(30_000);
        expect((await c.masterOf(prefix)).port).not.toBe(victim.port);
      },
    });
    // A worker starting now still passes its startup check with a node down.
    expect((await checkRedisServer(s.redis)).maxmemoryPolicy).toBe('noeviction');
    // The old master comes back as a replica of its successor.
    await c.restart(victim);
    await c.waitHealthy(30_000);

    const { duplicates } = await expectNothingLost(s, batch.id, {
      docs: DOCS,
      schemas: 2,
      deadline,
      maxDuplicates: failover.inFlightAtKill,
    });

    for (const commands of perMaster) expect(commands).toBeGreaterThan(0);
    for (const worker of workers) expect(worker.exitCode).toBeNull();
    console.info(
      `cluster: ${DOCS} documents × 2 schemas on 3 masters + 3 replicas, ${WORKERS} workers; ` +
        `state slot's ${describeFailover(failover, DOCS, duplicates)}; ` +
        `commands per master before the kill ${perMaster.join(', ')}`,
    );
  }, 240_000);

  it("runs the README's main job with `docpipe run` on the cluster, 2 worker processes, 3 families", async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
    const dir = await mkdtemp(join(tmpdir(), 'docpipe-cluster-cli-'));
    try {
      const run = docpipe([...RUN, '--workers', '2'], dir, cluster.env);
      expect(await run.exit, run.stderr()).toBe(0);
      expect(run.stderr()).toMatch(/redis: redis:\/\/127\.0\.0\.1:\d+, .* \(REDIS_CLUSTER_NODES\)/);
      expect(run.stderr()).toMatch(/upload 22\/22, parse 22\/22, extract 22\/22; failed 0/);
      // The stage queues' keys sit on all three masters.
      const owners = await Promise.all(
        familyPrefixes('{docpipe}', 3).map((family) => cluster!.masterOf(`${family}:extract`)),
      );
      for (const owner of owners) {
        const client = await connectRedis(owner.url, { role: 'producer' });
        expect(await client.dbsize()).toBeGreaterThan(0);
        client.disconnect();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
