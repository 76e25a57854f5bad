import type { Queue } from 'bullmq';
import type { Config } from './config.js';
import { jobId } from './ids.js';
import type { Queues } from './queues.js';
import { DEFAULT_PRIORITY } from './records.js';
import type { Redis } from './redis.js';
import { StateKeys } from './state-store.js';

/**
 * Fair dispatch between tenants. Every new file waits in its tenant's ready set (by batch
 * priority, then arrival), written with the batch in one transaction. `dispatch()` admits files
 * into the upload queue while fewer than `window` admitted files are unfinished, choosing tenants
 * by deficit round robin with their weights, and skipping a tenant over any of its quotas (files
 * in flight, files admitted per second, credits per UTC day): its files wait, holding nothing.
 * A file that reaches a final state gives its place back (the transition script counts it down)
 * and the process that saw it dispatches again, so a small tenant's files start within one round
 * however long another's backlog is, and capacity nobody else can use is never left idle.
 *
 *   {p}:tenant:{t}:ready         zset of queued file ids, score priority × 10^12 + arrival
 *   {p}:tenants                  set of every tenant that enqueued something
 *   {p}:tenants:active           list: the round-robin rotation of tenants with ready files
 *   {p}:tenants:deficit          hash tenant → deficit (files it may still take this turn)
 *   {p}:tenants:inflight         hash tenant → admitted files not yet final
 *   {p}:tenants:admitted         hash tenant → files admitted in all
 *   {p}:tenants:config           hash tenant → JSON TenantConfig (read on every dispatch)
 *   {p}:tenants:bucket           hash tenant → "tokens:at" of its files-per-second quota
 *   {p}:dispatch:inflight        admitted files not yet final, all tenants
 *   {p}:dispatch:pending         zset file id → admitted at, until its upload job is added
 *   {p}:credits:day:{d}:tenants  hash tenant → credits charged that UTC day
 */
const DISPATCH_SCRIPT = `
local prefix, now, dayKey, window, most = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local activeKey = KEYS[1]
local deficitKey = prefix .. ':tenants:deficit'
local inflightKey = prefix .. ':tenants:inflight'
local bucketKey = prefix .. ':tenants:bucket'
local totalKey = prefix .. ':dispatch:inflight'
local total = tonumber(redis.call('GET', totalKey) or '0')
local out, admitted = {}, 0
local idle = 0
while total < window and admitted < most do
  local active = redis.call('LLEN', activeKey)
  -- Ten idle visits each: enough for a weight of 0.1 to reach one file.
  if active == 0 or idle >= active * 10 then break end
  local tenant = redis.call('LINDEX', activeKey, 0)
  local readyKey = prefix .. ':tenant:' .. tenant .. ':ready'
  if redis.call('ZCARD', readyKey) == 0 then
    redis.call('LPOP', activeKey)
    redis.call('HDEL', deficitKey, tenant)
  else
    local config = cjson.decode(redis.call('HGET', prefix .. ':tenants:config', tenant) or '{}')
    local weight = tonumber(config.weight) or 1
    local deficit = tonumber(redis.call('HGET', deficitKey, tenant) or '0')
    -- A new turn adds the weight; a turn cut short by a full window goes on where it stopped.
    if deficit < 1 then deficit = deficit + weight end
    local inflight = tonumber(redis.call('HGET', inflightKey, tenant) or '0')
    local blocked = false
    local perDay = tonumber(config.credits_per_day)
    if perDay and tonumber(redis.call('HGET', dayKey .. ':tenants', tenant) or '0') >= perDay then blocked = true end
    local rate = tonumber(config.files_per_second)
    local tokens, at = 0, now
    if rate then
      local bucket = redis.call('HGET', bucketKey, tenant)
      local burst = math.max(1, rate)
      if bucket then
        local sep = string.find(bucket, ':', 1, true)
        tokens = tonumber(string.sub(bucket, 1, sep - 1))
        at = tonumber(string.sub(bucket, sep + 1))
      else
        tokens = burst
      end
      tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
    end
    local took = 0
    while not blocked and deficit >= 1 and total < window and admitted < most do
      if config.max_in_flight and inflight >= tonumber(config.max_in_flight) then blocked = true break end
      if rate and tokens < 1 then blocked = true break end
      local popped = redis.call('ZPOPMIN', readyKey)
      if #popped == 0 then break end
      local fileId = popped[1]
      local fileKey = prefix .. ':file:' .. fileId
      if redis.call('HGET', fileKey, 'state') == 'queued' then
        local batchId = redis.call('HGET', fileKey, 'batch_id')
        redis.call('HSET', fileKey, 'admitted', '1')
        redis.call('ZADD', prefix .. ':dispatch:pending', now, fileId)
        local priority = redis.call('HGET', prefix .. ':batch:' .. batchId, 'priority') or '5'
        table.insert(out, fileId)
        table.insert(out, batchId)
        table.insert(out, redis.call('HGET', fileKey, 'round') or '1')
        table.insert(out, priority)
        inflight, total, admitted, took, deficit = inflight + 1, total + 1, admitted + 1, took + 1, deficit - 1
        if rate then tokens = tokens - 1 end
      end
    end
    if rate then redis.call('HSET', bucketKey, tenant, tokens .. ':' .. now) end
    if took > 0 then
      redis.call('HSET', inflightKey, tenant, inflight)
      redis.call('HINCRBY', prefix .. ':tenants:admitted', tenant, took)
      idle = 0
    else
      idle = idle + 1
    end
    local empty = redis.call('ZCARD', readyKey) == 0
    -- Deficit is not banked by a tenant that cannot use it (over quota or out of files).
    if blocked or empty then deficit = 0 end
    if deficit >= 1 and total >= window then
      redis.call('HSET', deficitKey, tenant, deficit)
    else
      redis.call('HSET', deficitKey, tenant, math.max(0, deficit))
      redis.call('LMOVE', activeKey, activeKey, 'LEFT', 'RIGHT')
    end
  end
end
redis.call('SET', totalKey, total)
return out
`;

/** A tenant's share and quotas; absent fields: weight 1, no quota. */
export interface TenantConfig {
  /** Share of the capacity while tenants compete, relative to the others' weights (0.1–1000). */
  weight?: number;
  /** Most of its files in the pipeline at once (admitted and not final). */
  max_in_flight?: number;
  /** Most of its files admitted per second. */
  files_per_second?: number;
  /** Credits it may spend per UTC day; past them its files wait for the next day. */
  credits_per_day?: number;
}

export interface TenantStatus {
  tenant: string;
  config: TenantConfig;
  /** Files waiting to be admitted. */
  ready: number;
  /** Files admitted and not yet final. */
  inFlight: number;
  /** Files admitted in all. */
  admitted: number;
  /** Credits charged this UTC day. */
  creditsToday: number;
}

type RedisWithDispatch = Redis & {
  docpipeDispatch(...args: string[]): Promise<string[]>;
};

export class Dispatcher {
  private readonly redis: RedisWithDispatch;
  private readonly keys: StateKeys;
  private running: Promise<number> | undefined;
  private again = false;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly queues: Pick<Queues, 'of'>,
    private readonly window: number,
    private readonly clock: () => number = Date.now,
  ) {
    if (!('docpipeDispatch' in redis))
      redis.defineCommand('docpipeDispatch', { numberOfKeys: 1, lua: DISPATCH_SCRIPT });
    this.redis = redis as RedisWithDispatch;
    this.keys = new StateKeys(prefix);
  }

  /**
   * Admits what the window, the tenants' shares and their quotas allow, adds the upload jobs
   * (deterministic ids: adding again is a no-op) and returns how many files it admitted.
   */
  async dispatch(now = this.clock()): Promise<number> {
    let admitted = 0;
    for (;;) {
      const out = await this.redis.docpipeDispatch(
        this.key('tenants:active'),
        this.prefix,
        String(now),
        this.keys.creditDay(new Date(now)),
        String(this.window),
        '500',
      );
      if (out.length === 0) return admitted;
      const files: { fileId: string; batchId: string; round: number; priority: number }[] = [];
      for (let i = 0; i < out.length; i += 4)
        files.push({
          fileId: out[i]!,
          batchId: out[i + 1]!,
          round: Number(out[i + 2]),
          priority: Number(out[i + 3]),
        });
      await this.addUploadJobs(files);
      admitted += files.length;
    }
  }

  /**
   * Dispatches soon: calls made while one runs coalesce into one more run after it, so a burst
   * of finished files costs a couple of dispatches, not one each.
   */
  soon(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let admitted = 0;
      try {
        do {
          this.again = false;
          admitted += await this.dispatch();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
      return admitted;
    })();
    return this.running;
  }

  /** Upload jobs for files admitted at least `olderThanMs` ago whose job a crash may have lost. */
  async recoverPending(olderThanMs: number, now = this.clock()): Promise<number> {
    const ids = await this.redis.zrangebyscore(
      this.key('dispatch:pending'),
      0,
      now - olderThanMs,
      'LIMIT',
      0,
      500,
    );
    const files = [];
    for (const fileId of ids) {
      const [batchId, round, state] = await this.redis.hmget(
        this.keys.file(fileId),
        'batch_id',
        'round',
        'state',
      );
      if (!batchId || state !== 'queued') {
        await this.redis.zrem(this.key('dispatch:pending'), fileId);
        continue;
      }
      const priority = Number(
        (await this.redis.hget(this.keys.batch(batchId), 'priority')) ?? DEFAULT_PRIORITY,
      );
      files.push({ fileId, batchId, round: Number(round ?? 1), priority });
    }
    await this.addUploadJobs(files);
    return files.length;
  }

  private async addUploadJobs(files: { fileId: string; batchId: string; round: number; priority: number }[]) {
    if (files.length === 0) return;
    const byQueue = new Map<Queue, typeof files>();
    for (const file of files) {
      const queue = this.queues.of(file.fileId).upload;
      byQueue.set(queue, [...(byQueue.get(queue) ?? []), file]);
    }
    await Promise.all(
      [...byQueue].map(([queue, group]) =>
        queue.addBulk(
          group.map(({ fileId, batchId, round, priority }) => ({
            name: 'upload',
            data: { batchId, fileId, round },
            opts: { jobId: jobId({ batchId, fileId, stage: 'upload', round }), priority },
          })),
        ),
      ),
    );
    await this.redis.zrem(this.key('dispatch:pending'), ...files.map((f) => f.fileId));
  }

  /** Sets a tenant's share and quotas; the next dispatch, in every process, applies them. */
  async configure(tenant: string, config: TenantConfig): Promise<void> {
    await this.redis.hset(this.key('tenants:config'), tenant, JSON.stringify(config));
    await this.redis.sadd(this.key('tenants'), tenant);
  }

  async status(now = this.clock()): Promise<TenantStatus[]> {
    const tenants = (await this.redis.smembers(this.key('tenants'))).sort();
    const [configs, inflight, admitted, credits] = await Promise.all([
      this.redis.hgetall(this.key('tenants:config')),
      this.redis.hgetall(this.key('tenants:inflight')),
      this.redis.hgetall(this.key('tenants:admitted')),
      this.redis.hgetall(`${this.keys.creditDay(new Date(now))}:tenants`),
    ]);
    return Promise.all(
      tenants.map(async (tenant) => ({
        tenant,
        config: JSON.parse(configs[tenant] ?? '{}') as TenantConfig,
        ready: await this.redis.zcard(`${this.prefix}:tenant:${tenant}:ready`),
        inFlight: Math.max(0, Number(inflight[tenant] ?? 0)),
        admitted: Number(admitted[tenant] ?? 0),
        creditsToday: Number(credits[tenant] ?? 0),
      })),
    );
  }

  private key(name: string) {
    return `${this.prefix}:${name}`;
  }
}

/** The dispatcher of a process, from config (the window: DISPATCH_WINDOW). */
export function dispatcherFor(redis: Redis, queues: Pick<Queues, 'of'>, config: Config): Dispatcher {
  return new Dispatcher(redis, config.redis.keyPrefix, queues, config.limits.dispatchWindow);
}
