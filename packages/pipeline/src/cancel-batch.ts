import { type FileRecord, type FileState, jobId } from '@docpipe/core';
import type { Job } from 'bullmq';
import { extractJobId } from './file-outcomes.js';
import type { PipelineContext } from './pipeline-context.js';
import { giveSlot } from './remote-slots.js';

export type CancelDeps = Pick<PipelineContext, 'log' | 'state' | 'queues' | 'llama' | 'inflight' | 'cap'>;

export interface CancelReport {
  /** Files moved to `cancelled`. */
  cancelled: number;
  /** Remote parse and extract jobs asked to stop. */
  remoteCancelled: number;
}

const OPEN_STATES: readonly FileState[] = ['queued', 'uploading', 'parsing', 'extracting'];

/**
 * Cancels a batch: every file not yet terminal becomes `cancelled` (files already completed or
 * failed keep their results), its waiting and parked jobs are removed, and the remote parse and
 * extract jobs it was waiting on are cancelled on LlamaCloud. A stage job running at that moment
 * sees the file cancelled at its next step and stops. The batch ends `cancelled`.
 */
export async function cancelBatch(deps: CancelDeps, batchId: string): Promise<CancelReport> {
  await deps.state.requestCancel(batchId);
  const batch = await deps.state.getBatch(batchId);
  const report: CancelReport = { cancelled: 0, remoteCancelled: 0 };
  for (const state of OPEN_STATES) {
    for (;;) {
      // Cancelled files leave the state's set, so the first page is always the next one.
      const page = await deps.state.listFiles(batchId, { state, limit: 200 });
      if (page.items.length === 0) break;
      for (const file of page.items) {
        const result = await deps.state.transition(file.id, 'cancelled').catch(() => undefined);
        if (result?.outcome === 'ok') report.cancelled++;
        report.remoteCancelled += await stopWork(
          deps,
          file,
          batch.spec.extract.map((spec) => spec.name),
        );
      }
    }
  }
  deps.log.info({ batchId, ...report }, 'batch cancelled');
  return report;
}

/** Removes a file's pending jobs and cancels the remote jobs they wait on; returns how many. */
async function stopWork(deps: CancelDeps, file: FileRecord, tasks: string[]): Promise<number> {
  const ids = { batchId: file.batchId, fileId: file.id, round: file.round };
  const queues = deps.queues.of(file.id);
  const jobs: (Job | undefined)[] = [
    await queues.upload.getJob(jobId({ ...ids, stage: 'upload' })),
    await queues.parse.getJob(jobId({ ...ids, stage: 'parse' })),
    ...(await Promise.all(tasks.map((task) => queues.extract.getJob(extractJobId(file, task))))),
  ];
  let cancelled = 0;
  for (const job of jobs) {
    if (!job) continue;
    const parseJobId = job.data?.parseJobId as string | undefined;
    const extractId = job.data?.extractJobId as string | undefined;
    // A running job holds a lock and cannot be removed; it stops at its next step.
    await job.remove().catch(() => undefined);
    if (job.queueName !== 'upload') await giveSlot(deps, job.id!, 'none');
    try {
      if (job.queueName === 'parse' && parseJobId && job.data.step === 'wait') {
        await deps.inflight.remove('parse', parseJobId);
        await deps.llama.parse.cancel(parseJobId);
        cancelled++;
      }
      if (job.queueName === 'extract' && extractId && job.data.step === 'wait') {
        await deps.inflight.remove('extract', extractId);
        await deps.llama.extract.cancel(extractId);
        cancelled++;
      }
    } catch (error) {
      // Finished meanwhile, or unknown upstream: nothing left to stop.
      deps.log.debug({ err: error, fileId: file.id }, 'remote job could not be cancelled');
    }
  }
  return cancelled;
}
