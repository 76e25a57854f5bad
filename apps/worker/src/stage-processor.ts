import { errorMessage, isTransient, type Payload, parsePayload } from '@docpipe/core';
import type { PipelineContext, StageDefinition, StageJob, WorkStage } from '@docpipe/pipeline';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';

/**
 * The one adapter between a stage definition and BullMQ. A parked outcome moves the job to the
 * delayed set until its wake time (`moveToDelayed` + DelayedError: no slot held, no attempt
 * spent); a permanent error becomes UnrecoverableError; the last failure of a job, permanent or
 * transient, is recorded on the file first.
 */
export function stageProcessor<Q extends WorkStage>(
  stage: Q,
  definition: StageDefinition<Q>,
  ctx: PipelineContext,
) {
  return async (job: Job, token?: string): Promise<void> => {
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
    let outcome: Awaited<ReturnType<typeof definition.process>>;
    try {
      outcome = await definition.process(ctx, stageJob);
    } catch (error) {
      const permanent = !isTransient(error);
      const last = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.warn({ err: error, attempt: job.attemptsMade + 1, permanent, last }, 'stage job failed');
      if (last) await definition.onFailed(ctx, stageJob.data, error, job.attemptsMade + 1);
      if (permanent) throw new UnrecoverableError(errorMessage(error));
      throw error;
    }
    if (outcome.type === 'park') {
      await job.moveToDelayed(outcome.wakeAt, token);
      throw new DelayedError();
    }
  };
}
