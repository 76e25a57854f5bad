import {
  type BatchRecord,
  type ExtractionSpec,
  type FileError,
  type FileRecord,
  type Payload,
  PermanentError,
} from '@docpipe/core';
import {
  type ExtractConfiguration,
  type ExtractJob,
  isTerminalStatus,
  UpstreamNotFoundError,
} from '@docpipe/llamacloud';
import { createOrAdopt } from './create-or-adopt.js';
import { finishFileTask, resultDocument, writeFailedResult } from './file-outcomes.js';
import { isTaskFinished } from './file-tasks.js';
import { restartIfInputGone } from './input-gone.js';
import {
  addCredits,
  DONE,
  type Outcome,
  type PipelineContext,
  parkOnRemote,
  recheck,
  type StageJob,
} from './pipeline-context.js';
import { firstCheckDelay } from './poll-schedule.js';
import { giveSlot, takeSlot } from './remote-slots.js';
import { validateResult } from './result-validation.js';
import { needsParse } from './upload-stage.js';
import { webhookConfigurations } from './webhook-config.js';

/** What docpipe asks LlamaCloud for one extraction spec. */
export function extractConfiguration(spec: ExtractionSpec): ExtractConfiguration {
  return {
    data_schema: spec.data_schema ?? {},
    tier: spec.tier,
    extraction_target: spec.extraction_target,
    cite_sources: spec.cite_sources,
    confidence_scores: spec.confidence_scores,
    ...(spec.target_pages ? { target_pages: spec.target_pages } : {}),
  };
}

function specOf(batch: BatchRecord, task: string): ExtractionSpec {
  const spec = batch.spec.extract.find((candidate) => candidate.name === task);
  if (!spec)
    throw new PermanentError(`batch ${batch.id} has no extraction named ${task}`, { code: 'unknown_task' });
  return spec;
}

/**
 * extract: `create` starts an Extract v2 job from the file or parse job, saves its id and parks;
 * `wait` reads it when woken and, on completion, checks the result against the schema and writes
 * the result document. Each extraction of a file succeeds or fails on its own.
 */
export async function extractStage(
  ctx: PipelineContext,
  job: StageJob<Payload<'extract'>>,
): Promise<Outcome> {
  const data = job.data;
  const file = await ctx.state.getFile(data.fileId);
  if (file.state !== 'extracting' || file.round !== data.round) return DONE; // stale delivery
  const batch = await ctx.state.getBatch(file.batchId);
  const spec = specOf(batch, data.task);
  switch (data.step) {
    case 'create': {
      // Never run a finished extraction twice (a job re-added after a crash or a retry).
      if (await isTaskFinished(ctx.redis, ctx.config.redis.keyPrefix, file.id, data.task)) {
        // An earlier run finished it and may have died before settling the file: settle it now
        // (idempotent; a failed task stays failed, the file's outcome comes from the task sets).
        await finishFileTask(ctx, file, batch, data.task, { ok: true });
        return DONE;
      }
      const deadlineAt = data.deadlineAt ?? Date.now() + ctx.config.stages.deadlineMs.extract;
      const noSlot = await takeSlot(ctx, 'extract', job.id, deadlineAt, batch.priority);
      if (noSlot) return noSlot;
      // A rerun of a create that may have reached LlamaCloud looks the job up first.
      if (!data.createAttempted) await job.update({ ...data, createAttempted: true });
      let extractJobId: string;
      try {
        extractJobId =
          (data.createAttempted ? await findExtract(ctx, data.fileInput, spec, job.enqueuedAt) : undefined) ??
          (await createExtract(ctx, data.fileInput, spec));
      } catch (error) {
        const input = { kind: needsParse(batch) ? 'parse' : 'file', id: data.fileInput } as const;
        return restartIfInputGone(ctx, error, file, batch, input, job.id);
      }
      await job.update({ ...data, step: 'wait', extractJobId, deadlineAt });
      const firstCheckMs = firstCheckDelay(ctx.config, spec.tier);
      return parkOnRemote(ctx, 'extract', { id: extractJobId, firstCheckMs }, job.id, deadlineAt);
    }
    case 'wait': {
      const extractJobId = data.extractJobId!;
      let remote: ExtractJob;
      try {
        remote = await ctx.llama.extract.get(
          extractJobId,
          { expand: ['extract_metadata', 'usage'] },
          { retries: false },
        );
      } catch (error) {
        if (!(error instanceof UpstreamNotFoundError)) throw error;
        ctx.log.warn({ fileId: file.id, extractJobId }, 'extract job unknown upstream; creating it again');
        await ctx.inflight.remove('extract', extractJobId);
        const restart = { ...data, step: 'create' as const, extractJobId: undefined };
        await job.update(restart);
        return extractStage(ctx, { ...job, data: restart });
      }
      if (!isTerminalStatus(remote.status)) {
        if (remote.status === 'THROTTLED') await ctx.cap.throttled();
        if (Date.now() < (data.deadlineAt ?? 0)) {
          return parkOnRemote(ctx, 'extract', recheck(ctx, extractJobId), job.id, data.deadlineAt!);
        }
        await ctx.inflight.remove('extract', extractJobId);
        await giveSlot(ctx, job.id, 'none');
        await failTask(
          ctx,
          file,
          batch,
          data.task,
          job.attemptsMade + 1,
          {
            stage: 'extract',
            code: 'timeout',
            message: `extract job ${extractJobId} was still ${remote.status} at the stage deadline`,
          },
          extractJobId,
        );
        return DONE;
      }
      await ctx.inflight.remove('extract', extractJobId);
      await giveSlot(ctx, job.id, remote.status === 'COMPLETED' ? 'up' : 'none');
      if (remote.status !== 'COMPLETED') {
        throw new PermanentError(
          `extract job ${extractJobId} ${remote.status}: ${remote.error_message ?? 'no reason given'}`,
          {
            code: remote.status === 'CANCELLED' ? 'remote_cancelled' : 'remote_failed',
          },
        );
      }
      await completeTask(ctx, file, batch, spec, remote, job.attemptsMade + 1);
      return DONE;
    }
  }
}

type ConfigurationLike = {
  data_schema?: unknown;
  tier?: unknown;
  extraction_target?: unknown;
  target_pages?: unknown;
};
const sameConfiguration = (a: ConfigurationLike | null | undefined, b: ExtractConfiguration) =>
  JSON.stringify([a?.data_schema, a?.tier, a?.extraction_target, a?.target_pages ?? null]) ===
  JSON.stringify([b.data_schema, b.tier, b.extraction_target, b.target_pages ?? null]);

/** The newest extract job on this input with this configuration created since `since`, if any. */
async function findExtract(ctx: PipelineContext, fileInput: string, spec: ExtractionSpec, since: number) {
  const configuration = extractConfiguration(spec);
  const recent = await ctx.llama.extract.list({
    fileInput,
    createdAtOnOrAfter: new Date(since - 1000).toISOString(),
    expand: ['configuration'],
    pageSize: 100,
  });
  const found = recent.items.find(
    (item) => item.status !== 'CANCELLED' && sameConfiguration(item.configuration, configuration),
  );
  if (found)
    ctx.log.info({ fileInput, extractJobId: found.id }, 'resumed an extract job created before a crash');
  return found?.id;
}

async function createExtract(ctx: PipelineContext, fileInput: string, spec: ExtractionSpec): Promise<string> {
  const configuration = extractConfiguration(spec);
  return createOrAdopt(
    ctx.log,
    `extract ${spec.name} of ${fileInput}`,
    async () =>
      (
        await ctx.llama.extract.create(
          {
            fileInput,
            ...(spec.configuration_id ? { configurationId: spec.configuration_id } : { configuration }),
            ...webhookConfigurations(ctx.config),
          },
          { retries: false },
        )
      ).id,
    (since) => findExtract(ctx, fileInput, spec, since),
  );
}

function fieldMetadata(remote: ExtractJob) {
  const document = remote.extract_metadata?.field_metadata?.document_metadata ?? null;
  if (!document) return { citations: null, confidence: null };
  const citations: Record<string, unknown> = {};
  const confidence: Record<string, unknown> = {};
  for (const [field, meta] of Object.entries(document)) {
    const entry = meta as { citation?: unknown; confidence?: unknown } | null;
    if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
      citations[field] = entry.citation ?? null;
      confidence[field] = entry.confidence ?? null;
    } else {
      citations[field] = meta;
    }
  }
  return { citations, confidence };
}

async function completeTask(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  spec: ExtractionSpec,
  remote: ExtractJob,
  attempts: number,
) {
  const credits = remote.usage?.credits ?? null;
  const errors = spec.data_schema
    ? validateResult(spec.data_schema, remote.extract_result ?? null, spec.extraction_target)
    : [];
  await ctx.results.put(
    file.batchId,
    file.id,
    spec.name,
    resultDocument(file, spec.name, {
      status: 'completed',
      data: remote.extract_result ?? null,
      ...fieldMetadata(remote),
      usage: {
        pages:
          remote.metadata?.usage?.num_pages_billed ?? remote.metadata?.usage?.num_pages_extracted ?? null,
        credits,
      },
      extractJobId: remote.id,
      attempts,
      ...(errors.length ? { validation: { valid: false as const, errors } } : {}),
    }),
  );
  if (credits) await addCredits(ctx, file, 'extract', credits);
  ctx.log.info(
    { batchId: file.batchId, fileId: file.id, task: spec.name, extractJobId: remote.id, credits },
    'extracted',
  );
  await finishFileTask(ctx, file, batch, spec.name, { ok: true });
}

/** Records a failed extraction: its result document carries the reason; other tasks go on. */
export async function failTask(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  task: string,
  attempts: number,
  reason: FileError,
  extractJobId?: string,
) {
  const error: FileError = {
    ...reason,
    attempt: attempts,
    ...(extractJobId ? { remote_id: extractJobId } : {}),
  };
  await writeFailedResult(ctx, file, task, attempts, error, extractJobId);
  ctx.log.warn({ batchId: file.batchId, fileId: file.id, task, error }, 'extraction failed');
  await finishFileTask(ctx, file, batch, task, { ok: false, error });
}
