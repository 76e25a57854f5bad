import { hostname } from 'node:os';
import type { Redis } from './redis.js';

export interface WorkerPresence {
  workerId: string;
  host: string;
  pid: number;
  stages: string[];
  startedAt: number;
  /** When this process last took a job off a queue (a heartbeat job counts). */
  lastConsumedAt: number;
}

/** Entries of processes not heard from for this long are dropped (they were killed). */
const FORGET_AFTER_MS = 24 * 3600_000;

/**
 * Proof that workers consume, not just that Redis answers. Each worker process records when it
 * last took a job (at most once a second) in one hash, `{p}:workers`; a heartbeat job scheduled
 * on every queue a process serves keeps an idle fleet's record fresh. `/readyz` asks whether
 * some worker consumed within the interval.
 */
export class Liveness {
  private lastWrite = 0;
  private readonly presence: Omit<WorkerPresence, 'lastConsumedAt'>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    identity?: { workerId: string; stages: readonly string[] },
  ) {
    this.presence = {
      workerId: identity?.workerId ?? '',
      host: hostname(),
      pid: process.pid,
      stages: [...(identity?.stages ?? [])],
      startedAt: Date.now(),
    };
  }

  private get key() {
    return `${this.prefix}:workers`;
  }

  /** Records that this process consumed a job now; cheap to call on every job. */
  async consumed(now = Date.now()): Promise<void> {
    if (!this.presence.workerId) throw new Error('Liveness.consumed needs a worker identity');
    if (now - this.lastWrite < 1000) return;
    this.lastWrite = now;
    await this.redis.hset(
      this.key,
      this.presence.workerId,
      JSON.stringify({ ...this.presence, lastConsumedAt: now }),
    );
  }

  /** Removes this process from the record (clean shutdown). */
  async leave(): Promise<void> {
    await this.redis.hdel(this.key, this.presence.workerId);
  }

  /** Every worker process on record, most recently consuming first; long-gone ones are pruned. */
  async workers(now = Date.now()): Promise<WorkerPresence[]> {
    const entries = await this.redis.hgetall(this.key);
    const live: WorkerPresence[] = [];
    const gone: string[] = [];
    for (const [id, json] of Object.entries(entries)) {
      const presence = JSON.parse(json) as WorkerPresence;
      if (now - presence.lastConsumedAt > FORGET_AFTER_MS) gone.push(id);
      else live.push(presence);
    }
    if (gone.length) await this.redis.hdel(this.key, ...gone);
    return live.sort((a, b) => b.lastConsumedAt - a.lastConsumedAt);
  }

  /** Ready when some worker consumed within `withinMs`; the reason says what is missing. */
  async readiness(withinMs: number, now = Date.now()): Promise<{ ready: boolean; reason: string }> {
    const [newest] = await this.workers(now);
    if (!newest)
      return { ready: false, reason: 'no worker process has consumed a job yet: start docpipe-worker' };
    const age = now - newest.lastConsumedAt;
    if (age > withinMs)
      return {
        ready: false,
        reason: `no worker consumed a job in the last ${withinMs} ms (newest: ${newest.workerId}, ${age} ms ago)`,
      };
    return { ready: true, reason: `worker ${newest.workerId} consumed ${age} ms ago` };
  }
}
