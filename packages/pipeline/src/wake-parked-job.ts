import type { QueueName, Queues } from '@docpipe/core';
import { Job } from 'bullmq';

/**
 * Wakes a parked stage job now. False when it is not parked (running, finished, or not parked
 * yet): harmless, because the poller keeps waking a job until its stage has read the terminal
 * status.
 */
export async function wakeParkedJob(queues: Queues, queue: QueueName, bullJobId: string): Promise<boolean> {
  const job = await Job.fromId(queues.ofJob(queue, bullJobId), bullJobId);
  if (!job) return false;
  try {
    await job.promote();
    return true;
  } catch {
    return false;
  }
}
