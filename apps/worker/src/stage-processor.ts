import {
  errorMessage,
  isTransient,
  type Liveness,
  type Payload,
  parsePayload,
  RateLimitedError,
} from '@docpipe/core';
import { UpstreamNetworkError, UpstreamUnavailableError } from '@docpipe/llamacloud';
import type { PipelineContext, StageDefinition, StageJob, WorkStage } from '@docpipe/pipeline';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';

/** The job name of the heartbeat scheduled on every queue (see Liveness). */
export const HEARTBEAT_JOB = 'heartbeat';

/**
 * The one adapter between a stage definition and BullMQ. A parked outcome moves the job to the
 * delayed set until its wake time (`moveToDelayed` + DelayedError: no slot held, no attempt
 * spent); a permanent error becomes UnrecoverableError; the last failure of a job, permanent or
 * transient, is recorded on the file first. Every job taken proves this process consumes;
 * heartbeat jobs do nothing else.
 */
export function stageProcessor<Q extends WorkStage>(
  stage: Q,
  definition: StageDefinition<Q>,
  ctx: PipelineContext,
  liveness: Liveness,
) {
  return async (job: Job, token?: string): Promise<void> => {
    await liveness.consumed();
    if (job.name === HEARTBEAT_JOB) return;
    const stageJob: StageJob<Payload<Q>> = {
      id: job.id!,
      data: parsePayload(stage, job.data),
      attemptsMade: job.attemptsMade,
      attemptsStarted: job.attemptsStarted,
      enqueuedAt: job.timestamp,
      async update(data) {
        await job.updateData(data);
        stageJob.data = data;
      },
    };
    const log = ctx.log.child({ stage, jobId: job.id, batchId: stageJob.data.batchId });
    const timer = ctx.metrics.stageDuration.startTimer({ stage });
    let outcome: Awaited<ReturnType<typeof definition.process>>;
    try {
      outcome = await definition.process(ctx, stageJob);
    } catch (error) {
      // A 429: the whole queue waits out Retry-After (every process; no attempt spent), until
      // the stage deadline — then it counts as an ordinary transient failure.
      const deadline =
        job.timestamp +
        (ctx.config.stages.deadlineMs[stage as keyof typeof ctx.config.stages.deadlineMs] ?? 0);
      if (error instanceof RateLimitedError && Date.now() + error.retryAfterMs < deadline) {
        // Only creates bear on the jobs in flight; a 429 on uploads or reads does not.
        if (stage === 'parse' || stage === 'extract') await ctx.cap.rateLimited();
        log.info({ retryAfterMs: error.retryAfterMs }, 'rate limited by LlamaCloud; pausing the queue');
        timer({ outcome: 'rate_limited' });
        // The upstream quota is global: every family's queue of this stage waits it out.
        await Promise.all(ctx.queues.named(stage).map((queue) => queue.rateLimit(error.retryAfterMs)));
        throw Worker.RateLimitError();
      }
      const permanent = !isTransient(error);
      const last = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      // An upstream outage (5xx, no answer) is waited out until the stage deadline: its last
      // attempt parks at the longest backoff instead of failing the file, as often as needed.
      const longestBackoff =
        ctx.config.stages.retryBackoffMs * 2 ** Math.max(0, (job.opts.attempts ?? 1) - 1);
      if (last && isOutage(error) && Date.now() + longestBackoff < deadline) {
        log.warn({ err: error, retryInMs: longestBackoff }, 'LlamaCloud unavailable; waiting it out');
        timer({ outcome: 'outage' });
        await job.moveToDelayed(Date.now() + longestBackoff, token);
        throw new DelayedError();
      }
      log.warn({ err: error, attempt: job.attemptsMade + 1, permanent, last }, 'stage job failed');
      if (last) {
        await definition.onFailed(ctx, stageJob.data, error, job.attemptsMade + 1, job.id!);
        await ctx.durable(); // the failure is recorded before the job is failed for good
      }
      timer({ outcome: last ? 'failed' : 'retry' });
      if (permanent) throw new UnrecoverableError(errorMessage(error));
      throw error;
    }
    // What the job wrote is on the replicas before BullMQ moves it on: a failover after this
    // point cannot leave a finished job whose effects are gone.
    await ctx.durable();
    timer({ outcome: outcome.type });
    if (outcome.type === 'park') {
      await job.moveToDelayed(outcome.wakeAt, token);
      throw new DelayedError();
    }
  };
}

const isOutage = (error: unknown) =>
  error instanceof UpstreamUnavailableError || error instanceof UpstreamNetworkError;
