import type { Redis } from 'ioredis';

/**
 * A file has one task per extraction of its batch. Finishing a task is idempotent (a set of
 * finished task names), and tells whether the file as a whole is now finished.
 */
const FINISH_TASK = `
local added = redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] == '0' then redis.call('SADD', KEYS[2], ARGV[1]) end
return { redis.call('SCARD', KEYS[1]), redis.call('SCARD', KEYS[2]), added }
`;

export interface TaskProgress {
  finished: number;
  failed: number;
  total: number;
  /** True when every task of the file is finished (successfully or not). */
  fileFinished: boolean;
}

type WithScript = Redis & {
  docpipeFinishTask(
    finishedKey: string,
    failedKey: string,
    task: string,
    ok: string,
  ): Promise<[number, number, number]>;
};

export async function finishTask(
  redis: Redis,
  prefix: string,
  fileId: string,
  task: string,
  ok: boolean,
  total: number,
): Promise<TaskProgress> {
  if (!('docpipeFinishTask' in redis))
    redis.defineCommand('docpipeFinishTask', { numberOfKeys: 2, lua: FINISH_TASK });
  const [finished, failed] = await (redis as WithScript).docpipeFinishTask(
    `${prefix}:file:${fileId}:tasks-finished`,
    `${prefix}:file:${fileId}:tasks-failed`,
    task,
    ok ? '1' : '0',
  );
  return { finished, failed, total, fileFinished: finished >= total };
}

export async function isTaskFinished(
  redis: Redis,
  prefix: string,
  fileId: string,
  task: string,
): Promise<boolean> {
  return (await redis.sismember(`${prefix}:file:${fileId}:tasks-finished`, task)) === 1;
}

/** Forgets task progress when a failed file is retried. */
export async function resetTasks(redis: Redis, prefix: string, fileId: string): Promise<void> {
  await redis.del(`${prefix}:file:${fileId}:tasks-finished`, `${prefix}:file:${fileId}:tasks-failed`);
}
