import type { Redis } from '@docpipe/core';
import {
  type BlobStore,
  type Config,
  type Dispatcher,
  dispatcherFor,
  durableWrites,
  type FileRecord,
  type InflightCap,
  InflightRegistry,
  inflightCapFor,
  LocalBlobStore,
  LocalResultStore,
  type Logger,
  type Metrics,
  type Queues,
  type RemoteKind,
  type ResultStore,
  StateStore,
} from '@docpipe/core';
import type { LlamaCloudClient } from '@docpipe/llamacloud';

/** Everything a stage processor works with; built once per worker process. */
export interface PipelineContext {
  config: Config;
  log: Logger;
  redis: Redis;
  state: StateStore;
  queues: Queues;
  blobs: BlobStore;
  results: ResultStore;
  llama: LlamaCloudClient;
  inflight: InflightRegistry;
  /** The adaptive global cap on remote jobs in flight. */
  cap: InflightCap;
  /** Fair dispatch of queued files between tenants. */
  dispatcher: Dispatcher;
  /**
   * Waits until this process's writes so far reached REDIS_WAIT_REPLICAS replicas (no-op at 0),
   * so that a failover cannot lose what a finished job or an accepted batch wrote.
   */
  durable(): Promise<void>;
  metrics: Metrics;
}

/** The context of one process: the stores and the cap over its Redis connection, from config. */
export function createPipelineContext(
  config: Config,
  parts: Pick<PipelineContext, 'log' | 'redis' | 'queues' | 'llama' | 'metrics'>,
): PipelineContext {
  const prefix = config.redis.keyPrefix;
  const state = new StateStore(parts.redis, prefix);
  const dispatcher = dispatcherFor(parts.redis, parts.queues, config);
  // A file that finished frees a place in the dispatch window: admit the next one now.
  state.onFinal = () => {
    dispatcher
      .soon()
      .catch((error: unknown) => parts.log.warn({ err: error }, 'dispatch failed; the poller retries'));
  };
  return {
    config,
    ...parts,
    state,
    dispatcher,
    durable: durableWrites(parts.redis, config, parts.log),
    blobs: new LocalBlobStore(config.storage.blobDir, config.storage.blobMaxBytes),
    results: new LocalResultStore(config.storage.resultDir),
    inflight: new InflightRegistry(parts.redis, prefix),
    cap: inflightCapFor(parts.redis, config),
  };
}

/** The part of a BullMQ job a processor may use: its data, and saving new data before a wait. */
export interface StageJob<P> {
  id: string;
  data: P;
  /** Attempts that failed so far (parking does not count). */
  attemptsMade: number;
  /**
   * Times a worker has started this job (each wake and each crash recovery counts). Above 1 at a
   * create step, a previous run may have created the remote job before it could save its id.
   */
  attemptsStarted: number;
  /** When the job was added (epoch ms): no remote job of it can be older. */
  enqueuedAt: number;
  /** Persists new job data; called before every wait so a crash resumes the same remote job. */
  update(data: P): Promise<void>;
}

/**
 * What a processor asks the queue to do next: nothing more (`done`), or wake it again at
 * `wakeAt` unless a poller or webhook wakes it sooner (`park`; no worker slot is held).
 */
export type Outcome = { type: 'done' } | { type: 'park'; wakeAt: number };

export const DONE: Outcome = { type: 'done' };
export const parkUntil = (wakeAt: number): Outcome => ({ type: 'park', wakeAt });

/**
 * Registers a remote job as in flight (idempotent: registering again heals an entry a crash
 * lost) with its first check after `firstCheckMs`, and parks the stage job until its deadline;
 * the poller or a webhook wakes it sooner.
 */
export async function parkOnRemote(
  ctx: PipelineContext,
  kind: RemoteKind,
  remote: { id: string; firstCheckMs: number },
  stageJobId: string,
  deadlineAt: number,
): Promise<Outcome> {
  await ctx.inflight.register(kind, remote.id, stageJobId, Date.now() + remote.firstCheckMs);
  return parkUntil(deadlineAt);
}

/** A remote job seen still running when its stage job woke: check it again one interval on. */
export const recheck = (ctx: PipelineContext, id: string) => ({
  id,
  firstCheckMs: ctx.config.stages.pollIntervalMs,
});

/** Charges credits a file's remote job reported to its batch and to the process metrics. */
export async function addCredits(
  ctx: PipelineContext,
  file: FileRecord,
  kind: RemoteKind,
  credits: number,
): Promise<void> {
  await ctx.state.chargeCredits(file, credits);
  ctx.metrics.credits.inc({ kind }, credits);
}
