import {
  DEFAULT_SIM_CONFIG,
  ENDPOINT_CLASSES,
  type EndpointClass,
  SIM_TIERS,
  type SimConfig,
  type SimConfigUpdate,
  type SimRequestRecord,
  type SimStats,
  type SimTier,
  simConfigUpdateSchema,
} from '@docpipe/core';

/** mulberry32: a small, fast, seedable PRNG, so fault runs repeat exactly for one seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {
    this.tokens = max;
    this.updatedAt = Date.now();
  }

  /** Takes a token, or says how long until one is there. */
  take(now = Date.now()): { ok: true } | { ok: false; retryAfterMs: number } {
    const refillPerMs = this.max / this.windowMs;
    this.tokens = Math.min(this.max, this.tokens + (now - this.updatedAt) * refillPerMs);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - this.tokens) / refillPerMs) };
  }
}

export type Fault = 'reset' | 'http5xx' | 'slow' | undefined;

const REQUEST_LOG_SIZE = 5000;

const emptyStats = (): SimStats => ({
  requests: {},
  rateLimited: 0,
  jobsCreated: { parse: 0, extract: 0, batch: 0 },
  duplicateJobs: 0,
  peakRunning: 0,
  throttledMs: 0,
  creditsBilled: 0,
  overrunJobs: 0,
  overrunMs: 0,
});

/**
 * The simulation knobs and counters behind `/_sim`. Every duration it hands out is already
 * multiplied by `timeScale`.
 */
export class Simulation {
  config: SimConfig;
  stats: SimStats = emptyStats();
  private random: () => number;
  private buckets = new Map<EndpointClass, TokenBucket>();
  private readonly jobsByKey = new Map<string, number>();
  private readonly requestLog: SimRequestRecord[] = [];
  private requestSeq = 0;

  constructor(initial: SimConfigUpdate = {}) {
    this.config = structuredClone(DEFAULT_SIM_CONFIG);
    this.random = seededRandom(this.config.seed);
    this.update(initial);
  }

  /** Merges a partial update (validated) into the config; throws a ZodError on bad input. */
  update(input: unknown): SimConfig {
    const update = simConfigUpdateSchema.parse(input);
    const next = structuredClone(this.config);
    if (update.timeScale !== undefined) next.timeScale = update.timeScale;
    if (update.latencyJitter !== undefined) next.latencyJitter = update.latencyJitter;
    if (update.capacity !== undefined) next.capacity = update.capacity;
    if (update.fileRules !== undefined) next.fileRules = update.fileRules;
    if (update.seed !== undefined) next.seed = update.seed;
    if (update.faults) next.faults = { ...next.faults, ...update.faults };
    for (const tier of SIM_TIERS) {
      const latency = update.latency?.[tier];
      if (latency) next.latency[tier] = { ...next.latency[tier], ...latency };
    }
    for (const endpoint of ENDPOINT_CLASSES) {
      const limit = update.limits?.[endpoint];
      if (limit !== undefined) next.limits[endpoint] = limit;
    }
    for (const rule of next.fileRules) new RegExp(rule.pattern); // reject bad patterns now, not per file
    this.config = next;
    if (update.seed !== undefined) this.random = seededRandom(next.seed);
    this.buckets = new Map();
    return this.config;
  }

  /** Forgets counters, request log and buckets; keeps the config. */
  resetStats(): void {
    this.stats = emptyStats();
    this.jobsByKey.clear();
    this.requestLog.length = 0;
    this.buckets = new Map();
    this.random = seededRandom(this.config.seed);
  }

  /** How to send one webhook delivery: after a random delay, once or (sometimes) twice. */
  webhookPlan(): { delayMs: number; copies: number } {
    const { webhookDelayMs, webhookDuplicateRate } = this.config.faults;
    return {
      delayMs: webhookDelayMs > 0 ? this.scaled(webhookDelayMs * this.random()) : 0,
      copies: this.random() < webhookDuplicateRate ? 2 : 1,
    };
  }

  scaled(ms: number): number {
    return ms * this.config.timeScale;
  }

  takeToken(endpoint: EndpointClass): { ok: true } | { ok: false; retryAfterMs: number } {
    const limit = this.config.limits[endpoint];
    if (!limit) return { ok: true };
    let bucket = this.buckets.get(endpoint);
    if (!bucket) {
      bucket = new TokenBucket(limit.max, this.scaled(limit.windowMs));
      this.buckets.set(endpoint, bucket);
    }
    const taken = bucket.take();
    if (!taken.ok) this.stats.rateLimited++;
    return taken;
  }

  /** The fault to inject into this request, if any (seeded). */
  drawFault(): Fault {
    const { http5xxRate, resetRate, slowRate } = this.config.faults;
    if (http5xxRate === 0 && resetRate === 0 && slowRate === 0) return undefined;
    const roll = this.random();
    if (roll < resetRate) return 'reset';
    if (roll < resetRate + http5xxRate) return 'http5xx';
    if (roll < resetRate + http5xxRate + slowRate) return 'slow';
    return undefined;
  }

  /** How long a job of `tier` over `pages` pages takes, scaled, with jitter. */
  latencyMs(tier: string, pages: number): number {
    const known = (SIM_TIERS as readonly string[]).includes(tier) ? (tier as SimTier) : 'cost_effective';
    const { baseMs, perPageMs } = this.config.latency[known];
    const nominal = baseMs + perPageMs * Math.max(pages, 1);
    const jitter = this.config.latencyJitter;
    const factor = jitter > 0 ? 1 - jitter + 2 * jitter * this.random() : 1;
    return this.scaled(nominal * factor);
  }

  fileRuleFor(fileName: string) {
    return this.config.fileRules.find((rule) => new RegExp(rule.pattern).test(fileName));
  }

  /** Counts a created job, and a duplicate when the same file + configuration had one already. */
  countJob(kind: 'parse' | 'extract' | 'batch', dedupeKey: string): void {
    this.stats.jobsCreated[kind]++;
    const seen = this.jobsByKey.get(dedupeKey) ?? 0;
    if (seen > 0) this.stats.duplicateJobs++;
    this.jobsByKey.set(dedupeKey, seen + 1);
  }

  recordRequest(record: Omit<SimRequestRecord, 'seq'>, route: string): void {
    const byStatus = this.stats.requests[route] ?? {};
    this.stats.requests[route] = byStatus;
    byStatus[record.status] = (byStatus[record.status] ?? 0) + 1;
    this.requestLog.push({ ...record, seq: ++this.requestSeq });
    if (this.requestLog.length > REQUEST_LOG_SIZE) this.requestLog.shift();
  }

  requestsSince(seq: number): SimRequestRecord[] {
    return this.requestLog.filter((record) => record.seq > seq);
  }
}
