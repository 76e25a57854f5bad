import type { Dispatcher } from './dispatch.js';
import type { CreateBatchInput, StateStore } from './state-store.js';

/**
 * The one way a batch enters docpipe (API, CLI and tests call it). An outbox: the batch and all
 * its file records are written in one Redis transaction first, every file `queued` and waiting in
 * its tenant's ready set; fair dispatch then admits files into the upload queue with
 * deterministic job ids, so adding them again is a no-op. Calling it again with the same
 * idempotency key returns the same batch; files admitted but whose upload job a crash left out
 * are added again by `Dispatcher.recoverPending` (the poller runs it).
 */
export async function createBatch(
  deps: { state: StateStore; dispatcher: Dispatcher; durable?: () => Promise<void> },
  input: CreateBatchInput,
) {
  const created = await deps.state.createBatch(input);
  // Accepted means kept: with REDIS_WAIT_REPLICAS, a replica has the batch before the caller hears.
  await deps.durable?.();
  await deps.dispatcher.soon();
  return created;
}
