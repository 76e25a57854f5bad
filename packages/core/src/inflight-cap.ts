import type { Config } from './config.js';
import type { Redis } from './redis.js';

/**
 * KEYS: slots zset, cap, waiting zset.  ARGV: now, member, expiry, initial cap, waiter, queued-at.
 * Takes a slot when fewer than floor(cap) are held (a holder taking it again keeps it); else
 * records the caller as waiting. Returns 1 when the slot is held.
 */
const ACQUIRE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
  return 1
end
local cap = math.floor(tonumber(redis.call('GET', KEYS[2]) or ARGV[4]))
if redis.call('ZCARD', KEYS[1]) < cap then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[5])
  return 1
end
redis.call('ZADD', KEYS[3], 'NX', ARGV[6], ARGV[5])
return 0
`;

/**
 * KEYS: slots, cap, waiting, cut marker.  ARGV: member, change (up | down | less | fit:<throttled count> | none),
 * initial, min, max, cooldown ms. Frees a slot, adapts the cap, and pops the oldest waiter to wake (or '').
 */
const RELEASE = `
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
local cap = tonumber(redis.call('GET', KEYS[2]) or ARGV[3])
local low, high = tonumber(ARGV[4]), tonumber(ARGV[5])
local seen = KEYS[4] .. ':throttled'
if ARGV[2] == 'up' and removed == 1 then
  -- Grow only while the cap is what holds us back (every slot was taken), and not while our
  -- jobs are seen waiting upstream: an unused cap must not drift up (as TCP validates cwnd).
  local wasFull = redis.call('ZCARD', KEYS[1]) + 1 >= math.floor(cap)
  if wasFull and redis.call('EXISTS', seen) == 0 then cap = math.min(high, cap + 1 / cap) end
elseif ARGV[2] == 'down' then
  if redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[6]) then cap = math.max(low, cap / 2) end
elseif ARGV[2] == 'less' then
  if redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[6]) then cap = math.max(low, cap - 1) end
elseif string.sub(ARGV[2], 1, 4) == 'fit:' then
  -- n of our jobs wait THROTTLED: keep a fifth of what runs (at least one) waiting upstream;
  -- beyond that, halve the cap (once per cooldown) and stop growing for a cooldown.
  redis.call('SET', seen, '1', 'PX', ARGV[6])
  local throttled = tonumber(string.sub(ARGV[2], 5))
  local running = math.max(0, redis.call('ZCARD', KEYS[1]) - throttled)
  if throttled > math.max(1, math.ceil(running / 5)) and redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[6]) then
    cap = math.max(low, cap / 2)
  end
end
redis.call('SET', KEYS[2], tostring(cap))
local waiter = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
if waiter and removed == 1 then
  redis.call('ZREM', KEYS[3], waiter)
  return {tostring(cap), waiter}
end
return {tostring(cap), ''}
`;

type WithScripts = Redis & {
  docpipeCapAcquire(slots: string, cap: string, waiting: string, ...args: string[]): Promise<number>;
  docpipeCapRelease(
    slots: string,
    cap: string,
    waiting: string,
    cut: string,
    ...args: string[]
  ): Promise<[string, string]>;
};

export interface InflightCapLimits {
  min: number;
  initial: number;
  max: number;
}

/**
 * The global cap on remote jobs in flight (created, not yet terminal), shared by every process,
 * adapted within [min, max]: each remote job that completes adds 1/cap (about one more slot per
 * cap completions). A 429 on a create halves it (at most once per cooldown, so one episode is
 * one cut). When a poll sees some of our jobs THROTTLED, the cap comes down to what can be
 * running (held minus those) plus a fifth (at least one) kept waiting upstream, and stops
 * growing for a cooldown, so a slot LlamaCloud frees is taken at once while few jobs sit
 * THROTTLED; a THROTTLED job seen alone takes one slot off. A stage job takes a slot before it creates a remote job
 * and gives it back when the remote job is terminal; one that finds no slot is recorded as
 * waiting and woken, oldest first, when a slot frees up.
 */
export class InflightCap {
  private readonly redis: WithScripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly limits: InflightCapLimits,
    private readonly cooldownMs: number,
  ) {
    if (!('docpipeCapAcquire' in redis)) {
      redis.defineCommand('docpipeCapAcquire', { numberOfKeys: 3, lua: ACQUIRE });
      redis.defineCommand('docpipeCapRelease', { numberOfKeys: 4, lua: RELEASE });
    }
    this.redis = redis as WithScripts;
  }

  private get keys() {
    const p = `${this.prefix}:inflight`;
    return { slots: `${p}:slots`, cap: `${p}:cap`, waiting: `${p}:waiting`, cut: `${p}:cap-cut` };
  }

  /**
   * Takes (or keeps) a slot for stage job `holder` until `expiresAt` (a crashed holder's slot
   * frees itself then). False: no slot; `waiter` (`<queue>:<job id>`) is woken when one frees,
   * more urgent batches (lower `priority`) first.
   */
  async acquire(holder: string, expiresAt: number, waiter: string, priority = 5): Promise<boolean> {
    const { slots, cap, waiting } = this.keys;
    const now = Date.now();
    const held = await this.redis.docpipeCapAcquire(
      slots,
      cap,
      waiting,
      String(now),
      holder,
      String(expiresAt),
      String(this.limits.initial),
      waiter,
      // Waiters are woken by batch priority first, then oldest first.
      String(priority * 1e13 + now),
    );
    return held === 1;
  }

  /**
   * Gives `holder`'s slot back: `up` when its remote job completed, `down` when it saw
   * throttling, `none` otherwise. Returns the waiter to wake, if any.
   */
  async release(
    holder: string,
    change: 'up' | 'down' | 'less' | 'none' | `fit:${number}`,
  ): Promise<string | undefined> {
    const { slots, cap, waiting, cut } = this.keys;
    const [, waiter] = await this.redis.docpipeCapRelease(
      slots,
      cap,
      waiting,
      cut,
      holder,
      change,
      String(this.limits.initial),
      String(this.limits.min),
      String(this.limits.max),
      String(this.cooldownMs),
    );
    return waiter || undefined;
  }

  /** THROTTLED seen or a 429 answered: halve the cap (once per cooldown). */
  /**
   * Jobs seen THROTTLED: `throttled` of them in one poll (the cap fits what can be running), or
   * one seen alone (one slot less, once per cooldown).
   */
  async throttled(throttled?: number): Promise<void> {
    await this.release('', throttled === undefined ? 'less' : `fit:${throttled}`);
  }

  /** A 429 on job creation: too many requests, so half as many jobs in flight (once per cooldown). */
  async rateLimited(): Promise<void> {
    await this.release('', 'down');
  }

  async state(): Promise<{ cap: number; held: number; waiting: number }> {
    const { slots, cap, waiting } = this.keys;
    await this.redis.zremrangebyscore(slots, '-inf', Date.now());
    const [value, held, waiters] = await Promise.all([
      this.redis.get(cap),
      this.redis.zcard(slots),
      this.redis.zcard(waiting),
    ]);
    return { cap: Number(value ?? this.limits.initial), held, waiting: waiters };
  }
}

/** The fleet's cap as configured: INFLIGHT_MIN/INITIAL/MAX, one cut per four poll intervals. */
export function inflightCapFor(redis: Redis, config: Config): InflightCap {
  return new InflightCap(
    redis,
    config.redis.keyPrefix,
    config.limits.inflight,
    4 * config.stages.pollIntervalMs,
  );
}
