/**
 * Scenario B, orchestration overhead: one-page documents against cloud-local with zero latency
 * and no limits, so what is measured is docpipe's own work per document. Beside it, in the same
 * run, the raw-BullMQ ceiling of DESIGN: a chain of three queues with no-op processors,
 * concurrency 100, one process, no HTTP.
 *
 * Both start with every document already queued (docpipe's upload queue is paused while the
 * batch is accepted), so documents/s measures the drain, not the producer.
 */
import type { BatchSpec, Env } from '@docpipe/core';
import { freePort, makePdf, startRedis } from '@docpipe/testing';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type Stack, startStack } from '../support/pipeline-stack.js';
import { startRedisCluster } from '../support/redis-cluster.js';
import { commandsByServer, commandsProcessed, cpuMs, scrapeMetric, sleep, usedMemory } from './measure.js';

/** The same Redis for both sides: AOF with fsync every second, as production runs it. */
const REDIS = { appendonly: true, appendfsync: 'everysec' } as const;

/** Nothing upstream limits docpipe here: its own limits and cap are set out of the way. */
const ENV = {
  RATE_UPLOAD_MAX: '1000000',
  RATE_CREATE_MAX: '1000000',
  RATE_READ_MAX: '1000000',
  INFLIGHT_INITIAL: '1000',
  INFLIGHT_MAX: '1000',
  POLL_INTERVAL_MS: '100',
  LOG_LEVEL: 'warn',
};

export interface BResult {
  label: string;
  documents: number;
  completed: number;
  docsPerS: number;
  /** Worker processes' CPU per document, by the stages each served ("all" for full workers). */
  cpuMsPerDoc: Record<string, number>;
  /** The benchmark process (cloud-local's parsing and extraction, the producer) per document. */
  cloudLocalCpuMsPerDoc: number;
  /** Redis commands per document from the start of the drain to the end (INFO stats). */
  redisCommandsPerDoc: number;
  /** The busiest Redis server's share of those commands (1 on one Redis). */
  redisBusiestShare: number;
  /** Redis servers' CPU per document, all of them and the busiest one. */
  redisCpuMsPerDoc: { all: number; busiest: number };
  redisBytesPerQueuedDoc: number;
  redisBytesPerFinishedDoc: number;
  workerLoopLagP99Ms: number | null;
}

export function oneDocuments(count: number): { name: string; bytes: Buffer }[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `b-${i}.pdf`,
    bytes: makePdf([[`Invoice Number: B-${i}`, 'Total Amount: 10.00 EUR']]),
  }));
}

const SPEC: BatchSpec = {
  extract: [
    {
      name: 'invoice',
      data_schema: { type: 'object', properties: { invoice_number: { type: ['string', 'null'] } } },
      tier: 'cost_effective',
      extraction_target: 'per_doc',
      cite_sources: false,
      confidence_scores: false,
    },
  ],
};

/**
 * docpipe with worker processes serving the given stage lists (one process per list); on one
 * Redis, or on a 3-master Redis Cluster (no replicas: the machine's cores go to the masters).
 */
export async function docpipeB(
  label: string,
  docs: { name: string; bytes: Buffer }[],
  processes: readonly (readonly string[] | undefined)[],
  options: { cluster?: boolean; env?: Env } = {},
): Promise<BResult> {
  const cluster = options.cluster
    ? await startRedisCluster({ masters: 3, replicasPerMaster: 0, appendfsync: 'everysec' })
    : undefined;
  const env = { ...ENV, ...options.env };
  const stack: Stack = await startStack({
    sim: {},
    env,
    redis: REDIS,
    ...(cluster ? { redisEnv: cluster.env } : {}),
  });
  try {
    const ports = await Promise.all(processes.map(() => freePort()));
    const children = processes.map((stages, i) =>
      stack.spawnWorker({ stages, env: { METRICS_PORT: String(ports[i]) } }),
    );
    const workersKey = `${stack.config.redis.keyPrefix}:workers`;
    for (let i = 0; (await stack.redis.hlen(workersKey)) < processes.length; i++) {
      if (i > 600) throw new Error(`${processes.length} worker processes did not start within 30 s`);
      await sleep(50);
    }
    await Promise.all(stack.queues.named('upload').map((queue) => queue.pause()));
    const memoryBefore = await usedMemory(stack.redis);
    const { batch } = await stack.enqueue(docs, SPEC);
    const memoryQueued = await usedMemory(stack.redis);

    const cpuBefore = await Promise.all(children.map((c) => cpuMs(c.pid as number)));
    const redisPids = (cluster ? cluster.nodes : [stack.redisServer]).map((server) => server.pid as number);
    const redisCpuBefore = await Promise.all(redisPids.map(cpuMs));
    const ownBefore = process.cpuUsage();
    const commandsBefore = await commandsByServer(stack.redis);
    const started = performance.now();
    await Promise.all(stack.queues.named('upload').map((queue) => queue.resume()));
    const done = await stack.waitForBatch(batch.id, 30 * 60_000);
    const seconds = (performance.now() - started) / 1000;
    const own = process.cpuUsage(ownBefore);
    const cpuAfter = await Promise.all(children.map((c) => cpuMs(c.pid as number)));
    const redisCpu = (await Promise.all(redisPids.map(cpuMs))).map((ms, i) => ms - redisCpuBefore[i]!);
    const byServer = (await commandsByServer(stack.redis)).map((n, i) => n - commandsBefore[i]!);
    const commands = byServer.reduce((total, n) => total + n, 0);

    await sleep(1000); // the last acknowledgements and poll jobs settle
    const memoryFinished = await usedMemory(stack.redis);
    const lag = await scrapeMetric(`http://127.0.0.1:${ports[0]}`, 'nodejs_eventloop_lag_p99_seconds');
    await Promise.all(
      children.map((child) => new Promise((resolve) => child.once('exit', resolve).kill('SIGTERM'))),
    );
    const cpuMsPerDoc: Record<string, number> = {};
    processes.forEach((stages, i) => {
      const key = stages ? stages.join('+') : 'all';
      cpuMsPerDoc[key] = (cpuMsPerDoc[key] ?? 0) + (cpuAfter[i]! - cpuBefore[i]!) / docs.length;
    });
    return {
      label,
      documents: docs.length,
      completed: done.counters.byState.completed,
      docsPerS: docs.length / seconds,
      cpuMsPerDoc,
      cloudLocalCpuMsPerDoc: (own.user + own.system) / 1000 / docs.length,
      redisCommandsPerDoc: commands / docs.length,
      redisBusiestShare: Math.max(...byServer) / commands,
      redisCpuMsPerDoc: {
        all: redisCpu.reduce((total, ms) => total + ms, 0) / docs.length,
        busiest: Math.max(...redisCpu) / docs.length,
      },
      redisBytesPerQueuedDoc: (memoryQueued - memoryBefore) / docs.length,
      redisBytesPerFinishedDoc: (memoryFinished - memoryBefore) / docs.length,
      workerLoopLagP99Ms: lag === null ? null : lag * 1000,
    };
  } finally {
    await stack.stop();
    await cluster?.stop();
  }
}

/** DESIGN's ceiling: three chained queues, no-op processors, concurrency 100, one process. */
export async function rawBullmqCeiling(count: number): Promise<BResult> {
  const server = await startRedis(REDIS);
  const connection = new Redis(server.url, { maxRetriesPerRequest: null });
  const prefix = '{raw}';
  const names = ['raw-upload', 'raw-extract', 'raw-poll'];
  // The same retention as docpipe's stage queues, so memory per finished document compares.
  const defaultJobOptions = { removeOnComplete: { age: 86_400, count: 10_000 } };
  const queues = names.map((name) => new Queue(name, { connection, prefix, defaultJobOptions }));
  const workers: Worker[] = [];
  try {
    const memoryBefore = await usedMemory(connection);
    for (let i = 0; i < count; i += 1000) {
      const chunk = Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({
        name: 'doc',
        data: { batchId: 'b', fileId: `f${i + j}` },
      }));
      await queues[0]!.addBulk(chunk);
    }
    const memoryQueued = await usedMemory(connection);
    let completed = 0;
    let finish = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const cpuBefore = process.cpuUsage();
    const redisCpuBefore = await cpuMs(server.pid as number);
    const commandsBefore = await commandsProcessed(connection);
    const started = performance.now();
    names.forEach((name, stage) => {
      const next = queues[stage + 1];
      workers.push(
        new Worker(
          name,
          async (job) => {
            if (next) await next.add('doc', job.data);
            else if (++completed === count) finish();
          },
          { connection, prefix, concurrency: 100 },
        ),
      );
    });
    await finished;
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const redisCpuMs = (await cpuMs(server.pid as number)) - redisCpuBefore;
    const commands = (await commandsProcessed(connection)) - commandsBefore;
    await sleep(1000);
    const memoryFinished = await usedMemory(connection);
    return {
      label: 'raw BullMQ ceiling (3 no-op queues, 1 process)',
      documents: count,
      completed,
      docsPerS: count / seconds,
      cpuMsPerDoc: { all: (cpu.user + cpu.system) / 1000 / count },
      cloudLocalCpuMsPerDoc: 0,
      redisCommandsPerDoc: commands / count,
      redisBusiestShare: 1,
      redisCpuMsPerDoc: { all: redisCpuMs / count, busiest: redisCpuMs / count },
      redisBytesPerQueuedDoc: (memoryQueued - memoryBefore) / count,
      redisBytesPerFinishedDoc: (memoryFinished - memoryBefore) / count,
      workerLoopLagP99Ms: null,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
    await server.stop();
  }
}

export function bTable(runs: BResult[]): string {
  const ceiling = runs.find((r) => r.label.startsWith('raw BullMQ'));
  const fmt = (n: number, d = 1) => n.toFixed(d);
  return [
    `### B. Orchestration overhead: ${runs[0]?.documents ?? 0} one-page documents, zero latency, no limits`,
    '',
    '| Run | Completed | Documents/s | × raw ceiling | Worker CPU ms/doc | Bench process (cloud-local) CPU ms/doc | Redis commands/doc (incl. inside Lua) | Redis CPU ms/doc | Redis B/queued doc | Redis B/finished doc | Worker loop lag p99 |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map(
      (r) =>
        `| ${r.label} | ${r.completed} | ${fmt(r.docsPerS)} | ${ceiling ? fmt(r.docsPerS / ceiling.docsPerS, 3) : '—'} | ${Object.entries(
          r.cpuMsPerDoc,
        )
          .map(([stages, ms]) => `${stages} ${fmt(ms, 2)}`)
          .join(
            ', ',
          )} | ${fmt(r.cloudLocalCpuMsPerDoc, 2)} | ${fmt(r.redisCommandsPerDoc)} | ${fmt(r.redisCpuMsPerDoc.all, 2)} | ${Math.round(r.redisBytesPerQueuedDoc)} | ${Math.round(r.redisBytesPerFinishedDoc)} | ${r.workerLoopLagP99Ms === null ? '—' : `${fmt(r.workerLoopLagP99Ms)} ms`} |`,
    ),
    '',
  ].join('\n');
}

/** D's table: the same drain on one Redis and on a cluster, compared with the first run. */
export function dTable(runs: BResult[]): string {
  const base = runs[0];
  const fmt = (n: number, d = 1) => n.toFixed(d);
  return [
    `### D. One Redis or a Redis Cluster: ${base?.documents ?? 0} one-page documents, zero latency, no limits, 3 worker processes`,
    '',
    "| Run | Completed | Documents/s | × first run | Redis commands/doc (all servers) | Busiest server's share of commands | Redis CPU ms/doc (all servers) | Busiest server's CPU ms/doc | Redis B/finished doc (all servers) | Worker CPU ms/doc |",
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map(
      (r) =>
        `| ${r.label} | ${r.completed} | ${fmt(r.docsPerS)} | ${base ? fmt(r.docsPerS / base.docsPerS, 2) : '—'} | ${fmt(r.redisCommandsPerDoc)} | ${fmt(r.redisBusiestShare * 100, 0)}% | ${fmt(r.redisCpuMsPerDoc.all, 2)} | ${fmt(r.redisCpuMsPerDoc.busiest, 2)} | ${Math.round(r.redisBytesPerFinishedDoc)} | ${fmt(r.cpuMsPerDoc.all ?? 0, 2)} |`,
    ),
    '',
  ].join('\n');
}
