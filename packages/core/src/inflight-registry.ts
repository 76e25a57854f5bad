import type { Redis } from './redis.js';

export type RemoteKind = 'parse' | 'extract';

export interface InflightEntry {
  remoteId: string;
  /** The parked BullMQ job to wake when the remote job is terminal. */
  bullJobId: string;
  /** When the remote job was first registered (epoch ms). */
  since: number;
}

/**
 * Remote jobs that docpipe waits on, per kind: a sorted set of remote ids by when to check them
 * next, and a hash from remote id to the parked BullMQ job to wake. An entry stays until the
 * stage job itself has read the terminal status (level-triggered waking: no wake is lost).
 * A third hash keeps when each entry was first registered.
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
  private sinceKey(kind: RemoteKind) {
    return `${this.prefix}:inflight:${kind}:since`;
  }

  /**
   * Registers (or re-registers) a remote job with its first check at `checkAt`. The time it was
   * first registered is kept across re-registrations: the poller backs off on old entries.
   */
  async register(kind: RemoteKind, remoteId: string, bullJobId: string, checkAt: number): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.dueKey(kind), checkAt, remoteId)
      .hset(this.jobsKey(kind), remoteId, bullJobId)
      .hsetnx(this.sinceKey(kind), remoteId, String(Date.now()))
      .exec();
  }

  async remove(kind: RemoteKind, remoteId: string): Promise<void> {
    await this.redis
      .multi()
      .zrem(this.dueKey(kind), remoteId)
      .hdel(this.jobsKey(kind), remoteId)
      .hdel(this.sinceKey(kind), remoteId)
      .exec();
  }

  /** Remote ids whose check is due, oldest first, with the BullMQ job each one wakes. */
  async due(kind: RemoteKind, now: number, limit: number): Promise<InflightEntry[]> {
    const ids = await this.redis.zrangebyscore(this.dueKey(kind), '-inf', now, 'LIMIT', 0, limit);
    if (ids.length === 0) return [];
    const [jobs, since] = await Promise.all([
      this.redis.hmget(this.jobsKey(kind), ...ids),
      this.redis.hmget(this.sinceKey(kind), ...ids),
    ]);
    return ids.flatMap((remoteId, i) =>
      jobs[i] ? [{ remoteId, bullJobId: jobs[i], since: Number(since[i] ?? now) }] : [],
    );
  }

  /** The parked BullMQ job waiting on a remote job, if it is in flight. */
  async jobFor(kind: RemoteKind, remoteId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.jobsKey(kind), remoteId)) ?? undefined;
  }

  /** Sets the next check of each given remote id (entries removed meanwhile stay removed). */
  async reschedule(kind: RemoteKind, next: readonly { remoteId: string; checkAt: number }[]): Promise<void> {
    if (next.length === 0) return;
    // XX: only entries still registered; a stage job may have removed one meanwhile.
    await this.redis.zadd(
      this.dueKey(kind),
      'XX',
      ...next.flatMap((entry) => [entry.checkAt, entry.remoteId]),
    );
  }

  async size(kind: RemoteKind): Promise<number> {
    return this.redis.zcard(this.dueKey(kind));
  }
}
