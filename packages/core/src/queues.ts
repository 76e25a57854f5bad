import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { defaultJobOptions, QUEUE_NAMES, type QueueName } from './job-catalog.js';

export type Queues = Readonly<Record<QueueName, Queue>>;

/** One BullMQ Queue per stage, sharing a connection, with the catalog's default job options. */
export function createQueues(connection: Redis, config: Config): Queues {
  return Object.fromEntries(
    QUEUE_NAMES.map((name) => [
      name,
      new Queue(name, {
        connection,
        prefix: config.redis.keyPrefix,
        defaultJobOptions: defaultJobOptions(config, name),
      }),
    ]),
  ) as unknown as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((queue) => queue.close()));
}
