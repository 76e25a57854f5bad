import { Queue } from 'bullmq';
import keySlot from 'cluster-key-slot';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';
import { fileIdOfJob } from './ids.js';
import { defaultJobOptions, type QueueName } from './job-catalog.js';
import type { Logger } from './logger.js';
import type { Redis } from './redis.js';

/** The queues every file goes through; they come in families, one per cluster slot. */
export const FAMILY_QUEUES = ['upload', 'parse', 'extract'] as const;
export type FamilyQueueName = (typeof FAMILY_QUEUES)[number];
export type FamilyQueues = Readonly<Record<FamilyQueueName, Queue>>;

/**
 * docpipe's BullMQ queues. The upload, parse and extract queues come in `REDIS_QUEUE_FAMILIES`
 * families, each under its own hash tag, so that on Redis Cluster their traffic spreads over the
 * masters instead of loading one slot; every job of a file lives in the family its id hashes to.
 * The poll and notify queues, the state, limits and caps stay under the key prefix's own tag
 * (one slot), because what they count is global.
 */
export interface Queues {
  readonly poll: Queue;
  readonly notify: Queue;
  readonly families: readonly FamilyQueues[];
  /** Every queue, the families' first. */
  readonly all: readonly Queue[];
  /** The queues of this name: one per family, or the one poll or notify queue. */
  named(name: QueueName): readonly Queue[];
  /** The family that holds every job of this file. */
  of(fileId: string): FamilyQueues;
  /** The queue of a stage job, from its id (`{batch}.{file}.{stage}…`). */
  ofJob(queue: QueueName, jobId: string): Queue;
}

const SLOTS = 16384;

/**
 * The key prefix of each queue family. One family keeps the configured prefix. With more, family
 * k's hash tag is chosen so its slot falls inside the k-th of n equal slot ranges, which is where
 * `redis-cli --cluster create` puts the k-th master's slots: n families on n masters get one each.
 */
export function familyPrefixes(keyPrefix: string, families: number): string[] {
  if (families === 1) return [keyPrefix];
  const match = /^(.*)\{([^{}]+)\}(.*)$/.exec(keyPrefix);
  if (!match) throw new TypeError(`key prefix "${keyPrefix}" has no {hash tag}`);
  const [, before, tag, after] = match;
  const width = SLOTS / families;
  return Array.from({ length: families }, (_, k) => {
    const [low, high] = [k * width + width / 8, (k + 1) * width - width / 8];
    for (let salt = 0; ; salt++) {
      const familyTag = salt === 0 ? `${tag}-q${k}` : `${tag}-q${k}.${salt}`;
      const slot = keySlot(familyTag);
      if (slot >= low && slot < high) return `${before}{${familyTag}}${after}`;
    }
  });
}

/** Which family a file's jobs live in: stable for a given family count. */
export function familyOf(fileId: string, families: number): number {
  return families === 1 ? 0 : keySlot(fileId) % families;
}

/**
 * Records the family count the first time, and refuses another one afterwards: files queued
 * under one count would sit in families that workers under another count never read.
 */
export async function checkQueueFamilies(redis: Redis, config: Config): Promise<void> {
  const key = `${config.redis.keyPrefix}:queue-families`;
  const wanted = String(config.redis.queueFamilies);
  const stored = (await redis.set(key, wanted, 'NX', 'GET')) ?? wanted;
  if (stored !== wanted) {
    throw new ConfigError([
      {
        variable: 'REDIS_QUEUE_FAMILIES',
        message:
          `is ${wanted}, but the queues in this Redis were made with ${stored}. ` +
          `Set it back to ${stored}, or let the queues drain, stop every docpipe process, ` +
          `delete the key ${key} and start them all with the new value`,
      },
    ]);
  }
}

/**
 * All queues, sharing a connection, with the catalog's default job options. Connection errors
 * (Redis restarting, a failover) go to `log` as warnings; the connection retries by itself.
 */
export function createQueues(connection: Redis, config: Config, log: Logger): Queues {
  const queue = (name: QueueName, prefix: string) => {
    const created = new Queue(name, {
      connection,
      prefix,
      defaultJobOptions: defaultJobOptions(config, name),
    });
    created.on('error', (error) => log.warn({ err: error, queue: name, prefix }, 'queue connection error'));
    return created;
  };
  const families = familyPrefixes(config.redis.keyPrefix, config.redis.queueFamilies).map(
    (prefix) =>
      Object.fromEntries(FAMILY_QUEUES.map((name) => [name, queue(name, prefix)])) as unknown as FamilyQueues,
  );
  const poll = queue('poll', config.redis.keyPrefix);
  const notify = queue('notify', config.redis.keyPrefix);
  const of = (fileId: string) => families[familyOf(fileId, families.length)]!;
  const named = (name: QueueName) =>
    name === 'poll' ? [poll] : name === 'notify' ? [notify] : families.map((family) => family[name]);
  return {
    poll,
    notify,
    families,
    all: [...families.flatMap((family) => FAMILY_QUEUES.map((name) => family[name])), poll, notify],
    named,
    of,
    ofJob: (name, jobId) =>
      name === 'poll' || name === 'notify' ? named(name)[0]! : of(fileIdOfJob(jobId))[name],
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(queues.all.map((queue) => queue.close()));
}
