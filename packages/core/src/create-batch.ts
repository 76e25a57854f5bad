import { jobId } from './ids.js';
import type { Queues } from './queues.js';
import type { CreateBatchInput, StateStore } from './state-store.js';

/**
 * The one way a batch enters docpipe (API, CLI and tests call it). An outbox: the batch and all
 * its file records are written in one Redis transaction first, every file `queued`; the upload
 * jobs are then added with deterministic ids, so adding them again is a no-op. Calling it again
 * with the same idempotency key returns the same batch and re-adds any job a crash left out.
 */
export async function createBatch(deps: { state: StateStore; queues: Queues }, input: CreateBatchInput) {
  const created = await deps.state.createBatch(input);
  await deps.queues.upload.addBulk(
    created.files
      .filter((file) => file.state === 'queued')
      .map((file) => ({
        name: 'upload',
        data: { batchId: file.batchId, fileId: file.id, round: file.round },
        opts: {
          jobId: jobId({ batchId: file.batchId, fileId: file.id, stage: 'upload', round: file.round }),
          priority: created.batch.priority,
        },
      })),
  );
  return created;
}
