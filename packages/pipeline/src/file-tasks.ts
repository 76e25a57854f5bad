import type { Redis } from '@docpipe/core';

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

/** Forgets the failed tasks of a file (finished ones stay); returns the tasks still finished. */
const REOPEN_FAILED = `
for _, task in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('SREM', KEYS[1], task) end
redis.call('DEL', KEYS[2])
return redis.call('SMEMBERS', KEYS[1])
`;

type WithScript = Redis & {
  docpipeReopenFailed(finishedKey: string, failedKey: string): Promise<string[]>;
  docpipeFinishTask(
    finishedKey: string,
    failedKey: string,
    task: string,
    ok: string,
  ): Promise<[number, number, number]>;
};

function defineScripts(redis: Redis): asserts redis is WithScript {
  if ('docpipeFinishTask' in redis) return;
  redis.defineCommand('docpipeFinishTask', { numberOfKeys: 2, lua: FINISH_TASK });
  redis.defineCommand('docpipeReopenFailed', { numberOfKeys: 2, lua: REOPEN_FAILED });
}

export async function finishTask(
  redis: Redis,
  prefix: string,
  fileId: string,
  task: string,
  ok: boolean,
  total: number,
): Promise<TaskProgress> {
  defineScripts(redis);
  const [finished, failed] = await redis.docpipeFinishTask(
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

/** Forgets all task progress when a failed file is retried from the start. */
export async function resetTasks(redis: Redis, prefix: string, fileId: string): Promise<void> {
  await redis.del(`${prefix}:file:${fileId}:tasks-finished`, `${prefix}:file:${fileId}:tasks-failed`);
}

/** Reopens the failed tasks of a file for a retry; returns the names of tasks that stay finished. */
export async function reopenFailedTasks(redis: Redis, prefix: string, fileId: string): Promise<Set<string>> {
  defineScripts(redis);
  return new Set(
    await redis.docpipeReopenFailed(
      `${prefix}:file:${fileId}:tasks-finished`,
      `${prefix}:file:${fileId}:tasks-failed`,
    ),
  );
}
