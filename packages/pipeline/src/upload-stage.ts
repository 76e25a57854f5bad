import { type BatchRecord, type FileRecord, jobId, type Payload } from '@docpipe/core';
import { reserveBeforeUpload } from './budget.js';
import { createOrAdopt } from './create-or-adopt.js';
import { extractJobId, skipFile } from './file-outcomes.js';
import { DONE, type Outcome, type PipelineContext, type StageJob } from './pipeline-context.js';
import { RemoteCache } from './remote-cache.js';

/** How long an uploaded file id is reused for the same bytes (LlamaCloud keeps files longer). */
const FILE_CACHE_SECONDS = 24 * 3600;

const fileCache = (ctx: PipelineContext) => new RemoteCache(ctx, 'file', FILE_CACHE_SECONDS);

/** A batch needs a parse step when it asks for parse options or more than one extraction. */
export const needsParse = (batch: BatchRecord) =>
  batch.spec.parse !== undefined || batch.spec.extract.length > 1;

/**
 * upload: puts the file's bytes on LlamaCloud once per sha256 (a cached `dfl-…` id is reused
 * while the upstream still has it),
 * then hands the file to parse, or straight to extract when one schema needs no parse step.
 */
export async function uploadStage(ctx: PipelineContext, job: StageJob<Payload<'upload'>>): Promise<Outcome> {
  const { fileId } = job.data;
  let file = await ctx.state.getFile(fileId);
  if (job.data.round === file.round + 1 && (file.state === 'parsing' || file.state === 'extracting')) {
    // The next round of a file whose input is gone upstream (input-gone.ts): this job owns the
    // restart, so a crash anywhere in it is retried as a whole and nothing is left half-done.
    await ctx.state.restartAtUpload(file.id, file.round);
    file = await ctx.state.getFile(fileId);
  }
  if (file.round !== job.data.round) return DONE; // a delivery from an earlier round
  const batch = await ctx.state.getBatch(file.batchId);
  if ((file.state === 'parsing' || file.state === 'extracting') && file.remoteFileId) {
    // Handed off before a crash: make sure the next jobs exist (adding them again is a no-op).
    await addNextJobs(ctx, { ...file, remoteFileId: file.remoteFileId }, batch);
    return DONE;
  }
  if (file.state !== 'queued' && file.state !== 'uploading') return DONE;
  const overBudget = await reserveBeforeUpload(ctx, file, batch, needsParse(batch));
  if (overBudget) {
    await skipFile(ctx, file, batch, overBudget);
    return DONE;
  }
  await ctx.state.transition(fileId, 'uploading');

  const cached = await fileCache(ctx).get(
    file.sha256,
    async (id) => (await ctx.llama.files.get(id)).id === id,
  );
  const remoteFileId = cached ?? (await uploadOnce(ctx, file));
  await ctx.state.transition(file.id, needsParse(batch) ? 'parsing' : 'extracting', { remoteFileId });
  await addNextJobs(ctx, { ...file, remoteFileId }, batch);
  return DONE;
}

async function uploadOnce(ctx: PipelineContext, file: FileRecord): Promise<string> {
  const remoteId = await createOrAdopt(
    ctx.log,
    `upload of ${file.id}`,
    async () =>
      (
        await ctx.llama.files.upload(
          { file: await ctx.blobs.blob(file.sha256), name: file.name, externalFileId: file.sha256 },
          { retries: false },
        )
      ).id,
    // Files carry their sha256 as external id, so a landed upload can be found again.
    async () => (await ctx.llama.files.list({ externalFileId: file.sha256, pageSize: 1 })).items[0]?.id,
  );
  await fileCache(ctx).set(file.sha256, remoteId);
  ctx.log.debug({ batchId: file.batchId, fileId: file.id, remoteFileId: remoteId }, 'uploaded');
  return remoteId;
}

/** The jobs that follow a finished upload: one parse job, or the single extract job. */
async function addNextJobs(
  ctx: PipelineContext,
  file: FileRecord & { remoteFileId: string },
  batch: BatchRecord,
) {
  if (needsParse(batch)) {
    await ctx.queues.of(file.id).parse.add(
      'parse',
      {
        batchId: file.batchId,
        fileId: file.id,
        round: file.round,
        remoteFileId: file.remoteFileId,
        step: 'create',
      },
      {
        jobId: jobId({ batchId: file.batchId, fileId: file.id, stage: 'parse', round: file.round }),
        priority: batch.priority,
      },
    );
    return;
  }
  const [spec] = batch.spec.extract;
  await ctx.queues.of(file.id).extract.add(
    'extract',
    {
      batchId: file.batchId,
      fileId: file.id,
      round: file.round,
      task: spec!.name,
      fileInput: file.remoteFileId,
      step: 'create',
    },
    { jobId: extractJobId(file, spec!.name), priority: batch.priority },
  );
}
