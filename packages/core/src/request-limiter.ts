import type { Redis } from './redis.js';
import type { EndpointClass } from './sim-contract.js';

export interface RateLimit {
  max: number;
  windowMs: number;
}

/**
 * GCRA (a token bucket kept as one timestamp): the theoretical arrival time TAT of the next
 * request. A request may go at `TAT - (window - interval)`; taking it moves TAT one interval on.
 * The caller is told how long to wait, and its slot is reserved, so waiters queue in order.
 * A penalty (a 429's Retry-After) pushes TAT into the future for every process at once.
 *
 * KEYS: the class's key.  ARGV: now, interval ms, burst ms (window - interval), penalty ms.
 */
const ACQUIRE = `
local now, interval, burst, penalty = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if penalty > 0 then
  tat = math.max(tat, now + penalty + burst)
  redis.call('SET', KEYS[1], tat, 'PX', math.ceil(tat - now + 1000))
  return 0
end
local wait = tat - burst - now
if wait < 0 then wait = 0 end
tat = tat + interval
redis.call('SET', KEYS[1], tat, 'PX', math.ceil(tat - now + 1000))
return math.ceil(wait)
`;

type WithScript = Redis & { docpipeAcquire(key: string, ...args: string[]): Promise<number> };

/**
 * Request budgets per LlamaCloud endpoint class (`upload`, `create`, `read`), shared by every
 * queue and every process through Redis: the request rate of the whole fleet stays under the
 * configured `max` per `windowMs`, whichever stage sends it.
 */
export class RequestLimiter {
  private readonly redis: WithScript;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly limits: Readonly<Record<EndpointClass, RateLimit>>,
  ) {
    if (!('docpipeAcquire' in redis))
      redis.defineCommand('docpipeAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    this.redis = redis as WithScript;
  }

  private args(endpoint: EndpointClass, penaltyMs: number): string[] {
    const { max, windowMs } = this.limits[endpoint];
    const interval = windowMs / max;
    return [String(Date.now()), String(interval), String(windowMs - interval), String(penaltyMs)];
  }

  /** Reserves the next request slot of `endpoint`; returns how many ms until it comes. */
  reserve(endpoint: EndpointClass): Promise<number> {
    return this.redis.docpipeAcquire(`${this.prefix}:ratelimit:${endpoint}`, ...this.args(endpoint, 0));
  }

  /** Reserves the next request slot of `endpoint`; resolves when it may be sent. */
  async acquire(endpoint: EndpointClass): Promise<number> {
    const wait = await this.reserve(endpoint);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return wait;
  }

  /** LlamaCloud answered 429: nobody sends to `endpoint` for `retryAfterMs`. */
  async penalize(endpoint: EndpointClass, retryAfterMs: number): Promise<void> {
    await this.redis.docpipeAcquire(
      `${this.prefix}:ratelimit:${endpoint}`,
      ...this.args(endpoint, Math.max(1, retryAfterMs)),
    );
  }
}
