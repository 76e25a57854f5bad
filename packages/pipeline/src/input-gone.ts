import { type BatchRecord, type FileRecord, jobId } from '@docpipe/core';
import { UpstreamNotFoundError } from '@docpipe/llamacloud';
import { DONE, type Outcome, type PipelineContext } from './pipeline-context.js';
import { giveSlot } from './remote-slots.js';

/** What a create step named as its input: an uploaded file or a completed parse job. */
export interface RemoteInput {
  kind: 'file' | 'parse';
  id: string;
}

/**
 * A create refused with 404 whose input is gone upstream (LlamaCloud expired or lost it, or a
 * restarted cloud-local forgot everything): the file starts over from the upload in a new round
 * (an upload job of the next round, which moves the file back to uploading when it runs),
 * which uploads and parses again and re-runs only the extractions not yet finished (finished ones
 * keep their results). Any other error, including a 404 while the input is still there (an
 * unknown configuration_id, say), is thrown as it was, so a real refusal never loops.
 */
export async function restartIfInputGone(
  ctx: PipelineContext,
  error: unknown,
  file: FileRecord,
  batch: BatchRecord,
  input: RemoteInput,
  stageJobId: string,
): Promise<Outcome> {
  if (!(error instanceof UpstreamNotFoundError) || !(await isGone(ctx, input))) throw error;
  await giveSlot(ctx, stageJobId, 'none');
  const current = await ctx.state.getFile(file.id);
  if (current.round !== file.round) return DONE; // another task of the file restarted it already
  const round = file.round + 1;
  ctx.log.warn(
    { batchId: file.batchId, fileId: file.id, input, round },
    `${input.kind === 'file' ? 'uploaded file' : 'parse job'} ${input.id} is gone upstream; starting the file over from the upload`,
  );
  // The new round's upload job moves the file back to uploading itself (upload-stage.ts): adding
  // it is the only step here, so a crash before or after it leaves nothing half-done.
  await ctx.queues.of(file.id).upload.add(
    'upload',
    { batchId: file.batchId, fileId: file.id, round },
    {
      jobId: jobId({ batchId: file.batchId, fileId: file.id, stage: 'upload', round }),
      priority: batch.priority,
    },
  );
  return DONE;
}

async function isGone(ctx: PipelineContext, input: RemoteInput): Promise<boolean> {
  try {
    if (input.kind === 'file') await ctx.llama.files.get(input.id);
    else await ctx.llama.parse.get(input.id);
    return false;
  } catch (error) {
    if (error instanceof UpstreamNotFoundError) return true;
    throw error;
  }
}
