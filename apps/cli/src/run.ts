import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { start as startApi } from '@docpipe/api';
import { type CloudLocal, start as startCloudLocal } from '@docpipe/cloud-local';
import {
  type BatchRecord,
  type BatchSpec,
  COOKBOOK_LATENCY,
  type Config,
  closeQueues,
  connectRedis,
  createBatch,
  createLogger,
  createQueues,
  dispatcherFor,
  durableWrites,
  type ExtractTier,
  freePort,
  LocalBlobStore,
  LocalResultStore,
  loadConfig,
  type NewFile,
  type ParseSpec,
  type SimStats,
  StateStore,
} from '@docpipe/core';
import { type RunningWorker, start as startWorker } from '@docpipe/worker';
import { collectDocuments, loadSchemas } from './inputs.js';
import { summaryTable, writeOutput } from './output.js';
import { progressView } from './progress.js';
import { resolveRedis } from './redis-source.js';

export interface RunOptions {
  schema: string[];
  tier: ExtractTier;
  parseTier?: ParseSpec['tier'];
  out: string;
  workers: number;
  priority?: number;
  budgetCredits?: number;
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, someFailed: 1, usage: 2, environment: 3, interrupted: 130 } as const;

/** From TypeScript sources (npm start) the worker process runs under tsx; built code runs as is. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_MAIN = new URL(
  FROM_SOURCE ? '../../worker/src/main.ts' : '../../worker/dist/main.js',
  import.meta.url,
).pathname;

/**
 * `docpipe run`: the embedded default. Everything a run needs starts in this process — Redis
 * (found or started), cloud-local (unless LLAMA_CLOUD_BASE_URL names a real upstream), the API
 * and dashboard, and the workers — then the documents are enqueued as one batch whose
 * idempotency key is derived from the documents and options: the same command run again
 * continues the same batch instead of starting over.
 */
export async function runCommand(
  inputs: string[],
  options: RunOptions,
  io: { out: NodeJS.WriteStream; err: NodeJS.WriteStream; env: NodeJS.ProcessEnv },
): Promise<number> {
  const started = performance.now();
  const documents = await collectDocuments(inputs);
  const extract = await loadSchemas(options.schema, options.tier);
  const spec: BatchSpec = {
    ...(options.parseTier ? { parse: { tier: options.parseTier, version: 'latest' } } : {}),
    extract: extract.map((e) => ({
      ...e,
      extraction_target: 'per_doc' as const,
      cite_sources: true,
      confidence_scores: true,
    })),
  };
  const stateDir = resolve(io.env.DOCPIPE_STATE_DIR ?? '.docpipe');
  await mkdir(stateDir, { recursive: true });
  const logFile = join(stateDir, 'docpipe.log');
  const logger = createLogger({
    level: io.env.LOG_LEVEL ?? 'info',
    pretty: false,
    destination: createWriteStream(logFile, { flags: 'a' }),
  });
  const say = (line: string) => io.err.write(`${line}\n`);

  const stack: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stack.reverse()) await stop().catch(() => {});
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(EXIT.interrupted);
    interrupted = true;
    say('\nstopping (Ctrl-C again to exit at once); running the same command again resumes this batch');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const redis = await resolveRedis(io.env, stateDir);
    stack.push(redis.stop);
    say(
      `redis: ${redis.url} (${redis.origin === 'private' ? `started, data in ${stateDir}/redis` : redis.origin})`,
    );

    let cloud: CloudLocal | undefined;
    let upstream: { baseUrl: string; apiKey: string };
    if (io.env.LLAMA_CLOUD_BASE_URL) {
      upstream = { baseUrl: io.env.LLAMA_CLOUD_BASE_URL, apiKey: io.env.LLAMA_CLOUD_API_KEY ?? '' };
      say(`llamacloud: ${upstream.baseUrl}`);
    } else {
      // CLOUD_LOCAL_TIME_SCALE: simulate LlamaCloud's typical latencies at that scale (off: as fast as it parses).
      const scale = io.env.CLOUD_LOCAL_TIME_SCALE ? Number(io.env.CLOUD_LOCAL_TIME_SCALE) : undefined;
      cloud = await startCloudLocal({
        port: 0,
        dataDir: join(stateDir, 'cloud-local'),
        logger,
        ...(scale ? { sim: { timeScale: scale, latency: COOKBOOK_LATENCY } } : {}),
      });
      stack.push(() => cloud!.close());
      upstream = { baseUrl: cloud.url, apiKey: cloud.apiKey };
      say(`llamacloud: cloud-local in this process at ${cloud.url} (data in ${stateDir}/cloud-local)`);
    }

    // The API runs here, so the embedded cloud-local wakes parked jobs by webhook at once; the
    // poller stays the safety net. (The real LlamaCloud cannot reach this machine's loopback: it
    // gets webhooks only from an operator's PUBLIC_URL.)
    const apiPort = io.env.API_PORT ?? String(await freePort());
    const webhooks =
      io.env.PUBLIC_URL || !cloud
        ? {}
        : {
            PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
            WEBHOOK_SIGNING_SECRET: io.env.WEBHOOK_SIGNING_SECRET ?? randomBytes(24).toString('hex'),
          };
    const env = {
      ...io.env,
      ...webhooks,
      // A Redis the CLI found or started; the ones set in the environment stay as they are.
      ...(redis.origin === 'local' || redis.origin === 'private' ? { REDIS_URL: redis.url } : {}),
      LLAMA_CLOUD_BASE_URL: upstream.baseUrl,
      LLAMA_CLOUD_API_KEY: upstream.apiKey,
      BLOB_DIR: io.env.BLOB_DIR ?? join(stateDir, 'blobs'),
      RESULT_DIR: io.env.RESULT_DIR ?? join(stateDir, 'results'),
      API_PORT: apiPort,
      METRICS_PORT: io.env.METRICS_PORT ?? '0',
    };
    const config: Config = loadConfig(env);

    const api = await startApi(config, { logger, upstream });
    stack.push(() => api.close());
    const workers: RunningWorker[] = [];
    const children: ChildProcess[] = [];
    if (options.workers > 0) {
      for (let i = 0; i < options.workers; i++) children.push(spawnWorker(env, logFile));
      stack.push(() => stopChildren(children));
    } else {
      workers.push(await startWorker(config, { logger, upstream }));
      stack.push(() => workers[0]!.close());
    }

    const producer = await connectRedis(config.redis, { role: 'producer' });
    const queues = createQueues(producer, config, logger);
    stack.push(async () => {
      await closeQueues(queues);
      producer.disconnect();
    });
    const state = new StateStore(producer, config.redis.keyPrefix);
    const blobs = new LocalBlobStore(config.storage.blobDir, config.storage.blobMaxBytes);
    const files: NewFile[] = [];
    for (const doc of documents) {
      const stored = await blobs.put(createReadStream(doc.path));
      files.push({ name: doc.name, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
    }
    // The state directory's identity is part of the key: fresh state starts a fresh batch, even
    // on a Redis that still remembers the old one.
    const identity = await stateIdentity(stateDir);
    const key = createHash('sha256')
      .update(
        JSON.stringify({
          files: files.map((f) => [f.name, f.sha256]),
          spec,
          state: identity,
          ...(options.budgetCredits !== undefined ? { budget: options.budgetCredits } : {}),
        }),
      )
      .digest('hex')
      .slice(0, 32);
    const dispatcher = dispatcherFor(producer, queues, config);
    const { batch, created } = await createBatch(
      { state, dispatcher, durable: durableWrites(producer, config, logger) },
      {
        spec,
        files,
        idempotencyKey: `cli-${key}`,
        priority: options.priority ?? 5,
        ...(options.budgetCredits !== undefined ? { budgetCredits: options.budgetCredits } : {}),
      },
    );
    say(
      `${created ? 'batch' : 'resuming batch'} ${batch.id}: ${files.length} documents, ${extract.length} schema${extract.length === 1 ? '' : 's'} (${extract.map((e) => e.name).join(', ')})`,
    );
    say(`dashboard: ${api.url}/batches/${batch.id}   queues: ${api.url}/admin/queues   log: ${logFile}`);

    const view = progressView(io.err, files.length, spec.parse !== undefined || spec.extract.length > 1);
    let current: BatchRecord = batch;
    while (!interrupted) {
      current = await state.getBatch(batch.id);
      view.update(current);
      if (current.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    view.stop();
    if (interrupted) {
      say(
        `interrupted: ${current.counters.byState.completed} of ${files.length} documents done; run the same command to resume batch ${batch.id}`,
      );
      return EXIT.interrupted;
    }

    const upstreamRequests = cloud
      ? requestsFromSim((await (await fetch(`${cloud.url}/_sim/stats`)).json()) as SimStats)
      : workers.length
        ? await requestsFromMetrics(workers[0]!)
        : null;
    const { dir, summary } = await writeOutput(
      resolve(options.out),
      current,
      new LocalResultStore(config.storage.resultDir),
      {
        wallTimeMs: performance.now() - started,
        upstreamRequests,
      },
    );
    io.out.write(`${summaryTable(summary)}\nresults: ${dir}\n`);
    return current.status === 'completed' ? EXIT.ok : EXIT.someFailed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}

function spawnWorker(env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const args = FROM_SOURCE
    ? ['--conditions=@docpipe/source', '--import', import.meta.resolve('tsx'), WORKER_MAIN]
    : [WORKER_MAIN];
  const child = spawn(process.execPath, args, {
    env: { ...env, LOG_PRETTY: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

async function stopChildren(children: ChildProcess[]) {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Requests by route from cloud-local's own count (this run's cloud-local only). */
function requestsFromSim(stats: SimStats): Record<string, number> {
  return Object.fromEntries(
    Object.entries(stats.requests).map(([route, byStatus]) => [
      route,
      Object.values(byStatus).reduce((a, b) => a + b, 0),
    ]),
  );
}

async function requestsFromMetrics(worker: RunningWorker): Promise<Record<string, number>> {
  const metric = await worker.metrics.upstreamRequests.get();
  const byRoute: Record<string, number> = {};
  for (const value of metric.values) {
    const route = String(value.labels.route);
    byRoute[route] = (byRoute[route] ?? 0) + value.value;
  }
  return byRoute;
}

/** A random id written once into the state directory. */
async function stateIdentity(stateDir: string): Promise<string> {
  const path = join(stateDir, 'id');
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  await writeFile(path, `${randomUUID()}\n`, { flag: 'wx' }).catch(() => {});
  return (await readFile(path, 'utf8')).trim();
}
