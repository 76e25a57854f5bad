import type { Redis } from 'ioredis';

export type RemoteKind = 'parse' | 'extract';

/**
 * Remote jobs that docpipe waits on, per kind: a sorted set of remote ids by when to check them
 * next, and a hash from remote id to the parked BullMQ job to wake. An entry stays until the
 * stage job itself has read the terminal status (level-triggered waking: no wake is lost).
 */
export class InflightRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private dueKey(kind: RemoteKind) {
    return `${this.prefix}:inflight:${kind}`;
  }
  private jobsKey(kind: RemoteKind) {
    return `${this.prefix}:inflight:${kind}:jobs`;
  }

  async register(kind: RemoteKind, remoteId: string, bullJobId: string, checkAt: number): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.dueKey(kind), checkAt, remoteId)
      .hset(this.jobsKey(kind), remoteId, bullJobId)
      .exec();
  }

  async remove(kind: RemoteKind, remoteId: string): Promise<void> {
    await this.redis.multi().zrem(this.dueKey(kind), remoteId).hdel(this.jobsKey(kind), remoteId).exec();
  }

  /** Remote ids whose check is due, oldest first, with the BullMQ job each one wakes. */
  async due(
    kind: RemoteKind,
    now: number,
    limit: number,
  ): Promise<{ remoteId: string; bullJobId: string }[]> {
    const ids = await this.redis.zrangebyscore(this.dueKey(kind), '-inf', now, 'LIMIT', 0, limit);
    if (ids.length === 0) return [];
    const jobs = await this.redis.hmget(this.jobsKey(kind), ...ids);
    return ids.flatMap((remoteId, i) => (jobs[i] ? [{ remoteId, bullJobId: jobs[i] }] : []));
  }

  /** The parked BullMQ job waiting on a remote job, if it is in flight. */
  async jobFor(kind: RemoteKind, remoteId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.jobsKey(kind), remoteId)) ?? undefined;
  }

  async reschedule(kind: RemoteKind, remoteIds: readonly string[], checkAt: number): Promise<void> {
    if (remoteIds.length === 0) return;
    // XX: only entries still registered; a stage job may have removed one meanwhile.
    await this.redis.zadd(this.dueKey(kind), 'XX', ...remoteIds.flatMap((id) => [checkAt, id]));
  }

  async size(kind: RemoteKind): Promise<number> {
    return this.redis.zcard(this.dueKey(kind));
  }
}
