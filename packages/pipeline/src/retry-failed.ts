import { ConflictError, type FileRecord, jobId } from '@docpipe/core';
import { extractJobId } from './file-outcomes.js';
import { reopenFailedTasks, resetTasks } from './file-tasks.js';
import type { PipelineContext } from './pipeline-context.js';
import { needsParse } from './upload-stage.js';

export type RetryDeps = Pick<PipelineContext, 'config' | 'log' | 'redis' | 'state' | 'queues'>;

export interface RetryReport {
  /** Files reopened, by the stage they restart at. */
  retried: { upload: number; parse: number; extract: number };
}

/**
 * Retries the failed files of a batch (or the given ones), each from the stage where it failed:
 * an extraction failure re-runs only the failed extractions on the existing parse (completed
 * ones keep their results), a parse failure parses the uploaded file again, anything else starts
 * over with the upload. Each retry is a new round: new job ids (`….r2`), and the state store
 * moves the file out of `failed`, so counters stay exact and a finished batch reopens (its
 * callback is sent again with the next sequence).
 */
export async function retryFailed(
  deps: RetryDeps,
  batchId: string,
  options: { fileIds?: readonly string[] } = {},
): Promise<RetryReport> {
  const batch = await deps.state.getBatch(batchId);
  const lock = `${deps.config.redis.keyPrefix}:batch:${batchId}:retrying`;
  if ((await deps.redis.set(lock, '1', 'PX', 60_000, 'NX')) !== 'OK')
    throw new ConflictError(`a retry of batch ${batchId} is already running; try again in a minute`, {
      code: 'retry_in_progress',
    });
  const report: RetryReport = { retried: { upload: 0, parse: 0, extract: 0 } };
  try {
    const wanted = options.fileIds ? new Set(options.fileIds) : undefined;
    let cursor: string | undefined;
    do {
      const page = await deps.state.listFiles(batchId, {
        state: 'failed',
        limit: 500,
        ...(cursor ? { cursor } : {}),
      });
      for (const file of page.items) {
        if (wanted && !wanted.has(file.id)) continue;
        report.retried[await retryFile(deps, file, needsParse(batch), batch.priority)]++;
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  } finally {
    await deps.redis.del(lock);
  }
  deps.log.info({ batchId, ...report.retried }, 'failed files retried');
  return report;
}

async function retryFile(deps: RetryDeps, file: FileRecord, parses: boolean, priority: number) {
  const prefix = deps.config.redis.keyPrefix;
  const round = file.round + 1;
  const next = { ...file, round };
  const ids = { batchId: file.batchId, fileId: file.id, round };
  const stage = file.error?.stage;
  const fileInput = parses ? file.parseJobId : file.remoteFileId;

  if (stage === 'extract' && fileInput) {
    const finished = await reopenFailedTasks(deps.redis, prefix, file.id);
    await deps.state.transition(file.id, 'extracting', { round, error: null });
    const batch = await deps.state.getBatch(file.batchId);
    await deps.queues.of(file.id).extract.addBulk(
      batch.spec.extract
        .filter((spec) => !finished.has(spec.name))
        .map((spec) => ({
          name: 'extract',
          data: { ...ids, task: spec.name, fileInput, step: 'create' as const },
          opts: { jobId: extractJobId(next, spec.name), priority: batch.priority },
        })),
    );
    return 'extract' as const;
  }

  // Upload and parse restarts redo every extraction of the file.
  await resetTasks(deps.redis, prefix, file.id);
  if (stage === 'parse' && parses && file.remoteFileId) {
    await deps.state.transition(file.id, 'parsing', { round, error: null });
    await deps.queues
      .of(file.id)
      .parse.add(
        'parse',
        { ...ids, remoteFileId: file.remoteFileId, step: 'create' },
        { jobId: jobId({ ...ids, stage: 'parse' }), priority },
      );
    return 'parse' as const;
  }
  await deps.state.transition(file.id, 'queued', { round, error: null });
  await deps.queues
    .of(file.id)
    .upload.add('upload', ids, { jobId: jobId({ ...ids, stage: 'upload' }), priority });
  return 'upload' as const;
}
