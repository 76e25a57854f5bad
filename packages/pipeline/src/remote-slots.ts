import type { RemoteKind } from '@docpipe/core';
import { type Outcome, type PipelineContext, parkUntil } from './pipeline-context.js';
import { wakeParkedJob } from './wake-parked-job.js';

/** How long a job without a slot sleeps at most; a freed slot wakes it sooner. */
const SLOT_WAIT_INTERVALS = 10;

/**
 * Takes an in-flight slot before a remote job is created. Undefined: the slot is held, go on.
 * Otherwise the outcome parks the stage job until a slot frees up (it is woken then, oldest
 * first) or, as a safety net, a few poll intervals later.
 */
export async function takeSlot(
  ctx: PipelineContext,
  kind: RemoteKind,
  stageJobId: string,
  deadlineAt: number,
  priority: number,
): Promise<Outcome | undefined> {
  if (await ctx.cap.acquire(stageJobId, deadlineAt, `${kind}:${stageJobId}`, priority)) return undefined;
  return parkUntil(Date.now() + SLOT_WAIT_INTERVALS * ctx.config.stages.pollIntervalMs);
}

/**
 * Gives a slot back when its remote job is terminal (or abandoned): `up` when it completed,
 * which grows the cap; then wakes the oldest job waiting for a slot.
 */
export async function giveSlot(
  ctx: Pick<PipelineContext, 'cap' | 'queues'>,
  stageJobId: string,
  change: 'up' | 'down' | 'none',
): Promise<void> {
  const waiter = await ctx.cap.release(stageJobId, change);
  if (!waiter) return;
  const [queue, jobId] = waiter.split(/:(.*)/s) as [RemoteKind, string];
  await wakeParkedJob(ctx.queues, queue, jobId);
}
