import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type Config,
  ConfigError,
  checkQueueFamilies,
  checkRedisServer,
  closeQueues,
  connectRedis,
  createLogger,
  createQueues,
  errorMessage,
  Liveness,
  type Logger,
  Metrics,
  type QueueName,
  RequestLimiter,
  upstreamOf,
} from '@docpipe/core';
import { clientFromConfig } from '@docpipe/llamacloud';
import { createPipelineContext, pollTick, STAGES, type WorkStage } from '@docpipe/pipeline';
import { Worker } from 'bullmq';
import { startMetricsServer } from './metrics-server.js';
import { HEARTBEAT_JOB, stageProcessor } from './stage-processor.js';

export const ALL_STAGES: readonly QueueName[] = ['upload', 'parse', 'extract', 'poll', 'notify'];

export interface WorkerOptions {
  stages?: readonly QueueName[];
  logger?: Logger;
  /** Overrides the upstream (the CLI passes its in-process cloud-local). */
  upstream?: { baseUrl: string; apiKey: string };
}

export interface RunningWorker {
  /** This process's worker id (in the liveness record and logs). */
  workerId: string;
  /** Where this process serves /metrics and /healthz. */
  metricsUrl: string;
  /** This process's metrics (the CLI sums upstream requests from them). */
  metrics: Metrics;
  close(): Promise<void>;
}

const POLL_SCHEDULER_ID = 'poll-tick';
const HEARTBEAT_SCHEDULER_ID = 'heartbeat';

/** Starts the workers of the given stages in this process, sharing one Redis and one HTTP pool. */
export async function start(config: Config, options: WorkerOptions = {}): Promise<RunningWorker> {
  const log =
    options.logger ?? createLogger({ name: 'worker', level: config.logLevel, pretty: config.logPretty });
  const stages = options.stages ?? ALL_STAGES;
  const redis = await connectRedis(config.redis, { role: 'worker', name: 'docpipe-worker' });
  for (const warning of (await checkRedisServer(redis)).warnings) log.warn(warning);
  await checkQueueFamilies(redis, config);
  const upstream = options.upstream ?? upstreamOf(config);
  const workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const metrics = new Metrics();
  const liveness = new Liveness(redis, config.redis.keyPrefix, { workerId, stages });
  const llama = clientFromConfig(config, upstream, {
    onRequest: (event) => metrics.recordRequest(event),
    limiter: new RequestLimiter(redis, config.redis.keyPrefix, config.limits),
  });
  const queues = createQueues(redis, config, log);
  const ctx = createPipelineContext(config, { log, redis, queues, llama, metrics });
  metrics.observeQueues(queues, ctx.inflight, ctx.cap);

  const common = {
    connection: redis,
    prefix: config.redis.keyPrefix,
    lockDuration: config.stages.workerLockMs,
    stalledInterval: config.stages.workerLockMs,
    // A job interrupted by crashes this often is failed rather than retried forever.
    maxStalledCount: 5,
    // Request rates are kept by the shared RequestLimiter; BullMQ's limiter is set only so that
    // a 429 can pause a queue (`queue.rateLimit` applies to workers that have one).
    limiter: { max: 1_000_000, duration: 1000 },
  };
  let closing = false;
  const metricsServer = await startMetricsServer(
    metrics,
    () => {
      if (closing) return { ok: false, detail: 'shutting down' };
      if (redis.status !== 'ready') return { ok: false, detail: `redis connection is ${redis.status}` };
      return { ok: true, detail: `serving ${stages.join(', ')}` };
    },
    config.metrics,
  ).catch(async (error: unknown) => {
    await closeQueues(queues);
    await llama.close();
    redis.disconnect();
    throw new ConfigError([
      {
        variable: 'METRICS_PORT',
        message: `cannot serve /metrics on ${config.metrics.host}:${config.metrics.port} (${errorMessage(error)}); set METRICS_PORT=0 for any free port`,
      },
    ]);
  });
  const workers: Worker[] = [];
  for (const stage of stages) {
    // Every served queue gets a heartbeat (one scheduler per queue, shared by all processes), so
    // an idle fleet still proves it consumes. The poll queue's own tick serves as its heartbeat.
    if (stage !== 'poll') {
      for (const queue of queues.named(stage)) {
        await queue.upsertJobScheduler(
          HEARTBEAT_SCHEDULER_ID,
          { every: config.stages.heartbeatIntervalMs },
          { name: HEARTBEAT_JOB, data: {}, opts: { removeOnComplete: true, removeOnFail: { count: 10 } } },
        );
      }
    }
    if (stage === 'poll') {
      await queues.poll.upsertJobScheduler(
        POLL_SCHEDULER_ID,
        { every: config.stages.pollIntervalMs },
        { name: 'poll', data: {} },
      );
      const tick = async () => {
        await liveness.consumed();
        await pollTick(ctx);
      };
      workers.push(new Worker('poll', tick, { ...common, concurrency: 1 }));
      continue;
    }
    const definition = STAGES[stage as WorkStage];
    const processor = stageProcessor(stage as WorkStage, definition as never, ctx, liveness);
    // The stage's concurrency is this process's; files spread evenly, so each family gets its share.
    const family = queues.named(stage);
    const concurrency = Math.ceil(config.stages.concurrency[stage as WorkStage] / family.length);
    for (const queue of family) {
      workers.push(new Worker(stage, processor, { ...common, prefix: queue.opts.prefix, concurrency }));
    }
  }
  for (const worker of workers) {
    worker.on('error', (error) =>
      log.error({ err: error, queue: worker.name, prefix: worker.opts.prefix }, 'worker error'),
    );
  }
  log.info({ workerId, stages, upstream: upstream.baseUrl, metrics: metricsServer.url }, 'worker started');

  let closed: Promise<void> | undefined;
  return {
    workerId,
    metricsUrl: metricsServer.url,
    metrics,
    close() {
      closed ??= stop();
      return closed;
    },
  };

  async function stop() {
    closing = true;
    // Stop taking jobs and let running ones finish or park, then close connections.
    await Promise.all(workers.map((worker) => worker.close()));
    await liveness.leave();
    await metricsServer.close();
    await closeQueues(queues);
    await llama.close();
    redis.disconnect();
    log.info({ workerId }, 'worker stopped');
  }
}
