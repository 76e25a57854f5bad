import {
  type Config,
  checkRedisServer,
  closeQueues,
  connectRedis,
  createLogger,
  createQueues,
  InflightRegistry,
  LocalBlobStore,
  LocalResultStore,
  type Logger,
  type QueueName,
  StateStore,
  upstreamOf,
} from '@docpipe/core';
import { LlamaCloudClient } from '@docpipe/llamacloud';
import { type PipelineContext, pollTick, STAGES, type WorkStage } from '@docpipe/pipeline';
import { Worker } from 'bullmq';
import { stageProcessor } from './stage-processor.js';

export const ALL_STAGES: readonly QueueName[] = ['upload', 'parse', 'extract', 'poll', 'notify'];

export interface WorkerOptions {
  stages?: readonly QueueName[];
  logger?: Logger;
  /** Overrides the upstream (the CLI passes its in-process cloud-local). */
  upstream?: { baseUrl: string; apiKey: string };
}

export interface RunningWorker {
  close(): Promise<void>;
}

const POLL_SCHEDULER_ID = 'poll-tick';

/** Starts the workers of the given stages in this process, sharing one Redis and one HTTP pool. */
export async function start(config: Config, options: WorkerOptions = {}): Promise<RunningWorker> {
  const log =
    options.logger ?? createLogger({ name: 'worker', level: config.logLevel, pretty: config.logPretty });
  const stages = options.stages ?? ALL_STAGES;
  const redis = await connectRedis(config.redis.url, { role: 'worker', name: 'docpipe-worker' });
  for (const warning of (await checkRedisServer(redis)).warnings) log.warn(warning);
  const upstream = options.upstream ?? upstreamOf(config);
  const llama = new LlamaCloudClient({
    baseUrl: upstream.baseUrl,
    apiKey: upstream.apiKey,
    projectId: config.llamaCloud.projectId,
    connections: config.llamaCloud.connections,
    connectTimeoutMs: config.llamaCloud.connectTimeoutMs,
    headersTimeoutMs: config.llamaCloud.headersTimeoutMs,
    bodyTimeoutMs: config.llamaCloud.bodyTimeoutMs,
  });
  const queues = createQueues(redis, config);
  const ctx: PipelineContext = {
    config,
    log,
    redis,
    state: new StateStore(redis, config.redis.keyPrefix),
    queues,
    blobs: new LocalBlobStore(config.storage.blobDir, config.storage.blobMaxBytes),
    results: new LocalResultStore(config.storage.resultDir),
    llama,
    inflight: new InflightRegistry(redis, config.redis.keyPrefix),
  };

  const common = {
    connection: redis,
    prefix: config.redis.keyPrefix,
    lockDuration: config.stages.workerLockMs,
    stalledInterval: config.stages.workerLockMs,
    // A job interrupted by crashes this often is failed rather than retried forever.
    maxStalledCount: 5,
  };
  const workers: Worker[] = [];
  for (const stage of stages) {
    if (stage === 'poll') {
      await queues.poll.upsertJobScheduler(
        POLL_SCHEDULER_ID,
        { every: config.stages.pollIntervalMs },
        { name: 'poll', data: {} },
      );
      workers.push(new Worker('poll', async () => pollTick(ctx), { ...common, concurrency: 1 }));
      continue;
    }
    const definition = STAGES[stage as WorkStage];
    workers.push(
      new Worker(stage, stageProcessor(stage as WorkStage, definition as never, ctx), {
        ...common,
        concurrency: config.stages.concurrency[stage as WorkStage],
      }),
    );
  }
  for (const worker of workers) {
    worker.on('error', (error) => log.error({ err: error, queue: worker.name }, 'worker error'));
  }
  log.info({ stages, upstream: upstream.baseUrl }, 'worker started');

  return {
    async close() {
      // Stop taking jobs and let running ones finish or park, then close connections.
      await Promise.all(workers.map((worker) => worker.close()));
      await closeQueues(queues);
      await llama.close();
      redis.disconnect();
      log.info('worker stopped');
    },
  };
}
