import {
  type BatchRecord,
  DocpipeError,
  type FileError,
  type FileRecord,
  type FileState,
  IllegalTransitionError,
  jobId,
  type TransitionFields,
  type TransitionResult,
} from '@docpipe/core';
import { finishTask } from './file-tasks.js';
import type { PipelineContext } from './pipeline-context.js';

/** The result document of one (file, extraction): DESIGN "Contracts between parts", Results. */
export interface ResultDocument {
  batch_id: string;
  file_id: string;
  file_name: string;
  schema: string;
  status: 'completed' | 'failed' | 'skipped';
  data: unknown;
  citations: Record<string, unknown> | null;
  confidence: Record<string, unknown> | null;
  usage: { pages: number | null; credits: number | null };
  remote: { file_id: string | null; parse_job_id: string | null; extract_job_id: string | null };
  attempts: number;
  timings: { queued_at: string; started_at: string | null; finished_at: string };
  /** Present when extract_result does not validate against the schema (kept, not discarded). */
  validation?: { valid: false; errors: string[] };
  error?: FileError;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function resultDocument(
  file: FileRecord,
  task: string,
  fields: Pick<ResultDocument, 'status' | 'data' | 'citations' | 'confidence' | 'usage'> &
    Partial<Pick<ResultDocument, 'validation' | 'error'>> & {
      extractJobId?: string | null;
      attempts: number;
    },
): ResultDocument {
  return {
    batch_id: file.batchId,
    file_id: file.id,
    file_name: file.name,
    schema: task,
    status: fields.status,
    data: fields.data,
    citations: fields.citations,
    confidence: fields.confidence,
    usage: fields.usage,
    remote: {
      file_id: file.remoteFileId ?? null,
      parse_job_id: file.parseJobId ?? null,
      extract_job_id: fields.extractJobId ?? null,
    },
    attempts: fields.attempts,
    timings: {
      queued_at: iso(file.createdAt)!,
      started_at: iso(file.startedAt),
      finished_at: new Date().toISOString(),
    },
    ...(fields.validation ? { validation: fields.validation } : {}),
    ...(fields.error ? { error: fields.error } : {}),
  };
}

export function fileErrorOf(stage: string, error: unknown, remoteId?: string): FileError {
  const code = error instanceof DocpipeError ? error.code : 'error';
  const message = error instanceof Error ? error.message : String(error);
  return { stage, code, message, ...(remoteId ? { remote_id: remoteId } : {}) };
}

/**
 * After a file transition: when the batch is finished, make sure its completion callback is
 * queued. The notify job id is deterministic per completion (`sequence`), so a re-run after a
 * crash re-adds it harmlessly instead of losing it.
 */
async function afterTransition(
  ctx: PipelineContext,
  batchId: string,
  state: FileState,
  result: TransitionResult,
): Promise<void> {
  if (result.outcome === 'ok') ctx.metrics.filesFinished.inc({ state });
  if (result.batchStatus === 'running') return;
  const batch = await ctx.state.getBatch(batchId);
  if (result.batchDone) {
    ctx.log.info(
      { batchId, status: batch.status, counters: batch.counters.byState, credits: batch.creditsUsed },
      'batch finished',
    );
  }
  if (!batch.callbackUrl || batch.sequence < 1) return;
  await ctx.queues.notify.add(
    'notify',
    { batchId, sequence: batch.sequence },
    { jobId: `${batchId}.notify.s${batch.sequence}` },
  );
}

/**
 * Records one extraction task as finished. When it was the file's last task, the file becomes
 * `completed` (or `failed` when any task failed: the other tasks' results are kept).
 */
export async function finishFileTask(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  task: string,
  outcome: { ok: true } | { ok: false; error: FileError },
): Promise<void> {
  const progress = await finishTask(
    ctx.redis,
    ctx.config.redis.keyPrefix,
    file.id,
    task,
    outcome.ok,
    batch.spec.extract.length,
  );
  if (!progress.fileFinished) return;
  const state = progress.failed > 0 ? 'failed' : 'completed';
  const result = await settle(
    ctx,
    file,
    state,
    state === 'failed' ? { error: outcome.ok ? await firstTaskError(ctx, file) : outcome.error } : {},
  );
  if (result) await afterTransition(ctx, file.batchId, state, result);
}

async function firstTaskError(ctx: PipelineContext, file: FileRecord): Promise<FileError> {
  const failed = await ctx.redis.smembers(`${ctx.config.redis.keyPrefix}:file:${file.id}:tasks-failed`);
  for (const task of failed) {
    const doc = (await ctx.results.get(file.batchId, file.id, task)) as ResultDocument | undefined;
    if (doc?.error) return doc.error;
  }
  return { stage: 'extract', code: 'task_failed', message: `extraction ${failed.join(', ')} failed` };
}

/**
 * Fails a whole file (upload or parse could not be done): every task gets a failed result
 * document with the reason, and the file record carries it.
 */
export async function failFile(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  reason: FileError,
  attempts: number,
) {
  await endFile(ctx, file, batch, 'failed', reason, attempts);
}

/**
 * Skips a whole file that the batch's budget cannot pay for: its tasks get `skipped` result
 * documents carrying the reason, and the file record its skip reason (`budget`).
 */
export async function skipFile(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  reason: FileError,
) {
  await endFile(ctx, file, batch, 'skipped', reason, 0);
}

async function endFile(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  state: 'failed' | 'skipped',
  reason: FileError,
  attempts: number,
) {
  const error: FileError = state === 'failed' ? { ...reason, attempt: attempts } : reason;
  for (const spec of batch.spec.extract) {
    const existing = (await ctx.results.get(file.batchId, file.id, spec.name)) as ResultDocument | undefined;
    if (existing?.status !== 'completed')
      await writeFailedResult(ctx, file, spec.name, attempts, error, undefined, state);
  }
  const result = await settle(ctx, file, state, {
    error,
    ...(state === 'skipped' ? { skipReason: reason.code } : {}),
  });
  if (!result) return;
  ctx.log.warn(
    { batchId: file.batchId, fileId: file.id, error },
    state === 'failed' ? 'file failed' : 'file skipped',
  );
  await afterTransition(ctx, file.batchId, state, result);
}

/**
 * Moves a file to its final state, unless its batch was cancelled meanwhile: then the result
 * document stays written but the file stays `cancelled` (undefined is returned).
 */
async function settle(ctx: PipelineContext, file: FileRecord, to: FileState, fields: TransitionFields) {
  try {
    return await ctx.state.transition(file.id, to, fields);
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) throw error;
    if ((await ctx.state.getFile(file.id)).state !== 'cancelled') throw error;
    ctx.log.info(
      { batchId: file.batchId, fileId: file.id, to },
      'file was cancelled; its late result is kept',
    );
    return undefined;
  }
}

/** The result document of an extraction that could not be done (or was skipped), with the reason. */
export async function writeFailedResult(
  ctx: PipelineContext,
  file: FileRecord,
  task: string,
  attempts: number,
  error: FileError,
  extractJobId?: string,
  status: 'failed' | 'skipped' = 'failed',
): Promise<void> {
  await ctx.results.put(
    file.batchId,
    file.id,
    task,
    resultDocument(file, task, {
      status,
      data: null,
      citations: null,
      confidence: null,
      usage: { pages: null, credits: null },
      extractJobId: extractJobId ?? null,
      attempts,
      error,
    }),
  );
}

export const extractJobId = (file: FileRecord, task: string) =>
  jobId({ batchId: file.batchId, fileId: file.id, stage: 'extract', task, round: file.round });
