import { type Payload, type QueueName, TERMINAL_FILE_STATES } from '@docpipe/core';
import { extractStage, failTask } from './extract-stage.js';
import { failFile, fileErrorOf } from './file-outcomes.js';
import { notifyStage } from './notify-stage.js';
import { parseStage } from './parse-stage.js';
import type { Outcome, PipelineContext, StageJob } from './pipeline-context.js';
import { giveSlot } from './remote-slots.js';
import { uploadStage } from './upload-stage.js';

export type WorkStage = Exclude<QueueName, 'poll'>;

export interface StageDefinition<Q extends WorkStage> {
  process(ctx: PipelineContext, job: StageJob<Payload<Q>>): Promise<Outcome>;
  /** Called once when the job fails for good (permanent error, or attempts used up). */
  onFailed(
    ctx: PipelineContext,
    payload: Payload<Q>,
    error: unknown,
    attempts: number,
    jobId: string,
  ): Promise<void>;
}

async function failWholeFile(
  ctx: PipelineContext,
  stage: string,
  payload: { fileId: string; round: number },
  error: unknown,
  attempts: number,
  remoteId?: string,
) {
  const file = await ctx.state.getFile(payload.fileId);
  if (TERMINAL_FILE_STATES.includes(file.state) || file.round !== payload.round) return;
  const batch = await ctx.state.getBatch(file.batchId);
  await failFile(ctx, file, batch, fileErrorOf(stage, error, remoteId), attempts);
}

/** The stage catalog: each work queue's processor and what happens when its job fails for good. */
export const STAGES: { [Q in WorkStage]: StageDefinition<Q> } = {
  upload: {
    process: uploadStage,
    onFailed: (ctx, payload, error, attempts) => failWholeFile(ctx, 'upload', payload, error, attempts),
  },
  parse: {
    process: parseStage,
    onFailed: async (ctx, payload, error, attempts, jobId) => {
      if (payload.parseJobId) await ctx.inflight.remove('parse', payload.parseJobId);
      await giveSlot(ctx, jobId, 'none');
      await failWholeFile(ctx, 'parse', payload, error, attempts, payload.parseJobId);
    },
  },
  extract: {
    process: extractStage,
    onFailed: async (ctx, payload, error, attempts, jobId) => {
      if (payload.extractJobId) await ctx.inflight.remove('extract', payload.extractJobId);
      await giveSlot(ctx, jobId, 'none');
      const file = await ctx.state.getFile(payload.fileId);
      if (file.state !== 'extracting' || file.round !== payload.round) return;
      const batch = await ctx.state.getBatch(file.batchId);
      await failTask(
        ctx,
        file,
        batch,
        payload.task,
        attempts,
        fileErrorOf('extract', error),
        payload.extractJobId,
      );
    },
  },
  notify: {
    process: notifyStage,
    onFailed: async (ctx, payload, error) => {
      ctx.log.error({ batchId: payload.batchId, err: error }, 'batch callback could not be delivered');
    },
  },
};
