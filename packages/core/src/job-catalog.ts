import type { DefaultJobOptions } from 'bullmq';
import { z } from 'zod';
import type { Config } from './config.js';

/**
 * The job catalog: one place that names every queue, the payload each queue's jobs carry and the
 * options they are added with. Producers validate a payload before adding it, processors parse
 * `job.data` again with the same schema. Payloads hold ids and pointers, never bytes or secrets.
 */

export const QUEUE_NAMES = ['upload', 'parse', 'extract', 'poll', 'notify'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

const id = z.string().regex(/^[A-Za-z0-9_-]+$/);
const remoteId = z.string().min(1);
const round = z.number().int().min(1).default(1);

export const uploadPayloadSchema = z.object({
  batchId: id,
  fileId: id,
  round,
});

/** `create`: no remote job yet. `wait`: the remote job exists and the job is parked on it. */
const step = z.enum(['create', 'wait']);

export const parsePayloadSchema = z.object({
  batchId: id,
  fileId: id,
  round,
  remoteFileId: remoteId,
  step: step.default('create'),
  /** Set just before the create request: a rerun looks for the remote job before creating. */
  createAttempted: z.boolean().optional(),
  parseJobId: remoteId.optional(),
  /** Epoch ms after which the stage gives up on the remote job. */
  deadlineAt: z.number().int().optional(),
});

export const extractPayloadSchema = z.object({
  batchId: id,
  fileId: id,
  round,
  /** Name of the extraction (one task per extraction spec of the batch). */
  task: id,
  /** `dfl-…` file id or `pjb-…` parse job id. */
  fileInput: remoteId,
  step: step.default('create'),
  createAttempted: z.boolean().optional(),
  extractJobId: remoteId.optional(),
  deadlineAt: z.number().int().optional(),
});

export const pollPayloadSchema = z.object({}).passthrough();

export const notifyPayloadSchema = z.object({
  batchId: id,
  /** The batch's completion sequence this callback reports (a reopened batch reports again). */
  sequence: z.number().int().min(1),
});

export const payloadSchemas = {
  upload: uploadPayloadSchema,
  parse: parsePayloadSchema,
  extract: extractPayloadSchema,
  poll: pollPayloadSchema,
  notify: notifyPayloadSchema,
} as const satisfies Record<QueueName, z.ZodType>;

export type Payload<Q extends QueueName> = z.output<(typeof payloadSchemas)[Q]>;
export type PayloadInput<Q extends QueueName> = z.input<(typeof payloadSchemas)[Q]>;

/** Parses a payload for queue `queue`, with an error naming the queue and the bad fields. */
export function parsePayload<Q extends QueueName>(queue: Q, data: unknown): Payload<Q> {
  const parsed = payloadSchemas[queue].safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new TypeError(`invalid ${queue} job payload: ${problems.join('; ')}`);
  }
  return parsed.data as Payload<Q>;
}

const HOUR_SECONDS = 3600;

/**
 * Options every job of a queue is added with. Retention is set here once: completed jobs are
 * kept a day (Bull Board shows them), failed ones a week (their reasons matter longer).
 */
export function defaultJobOptions(config: Config, queue: QueueName): DefaultJobOptions {
  const retention = {
    removeOnComplete: { age: 24 * HOUR_SECONDS, count: 10_000 },
    removeOnFail: { age: 7 * 24 * HOUR_SECONDS, count: 50_000 },
  };
  if (queue === 'poll')
    return { ...retention, attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } };
  return {
    ...retention,
    attempts: config.stages.attempts,
    backoff: { type: 'exponential', delay: config.stages.retryBackoffMs, jitter: 0.5 },
  };
}
