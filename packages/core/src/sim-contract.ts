import { z } from 'zod';

/**
 * The `/_sim` contract of cloud-local (DESIGN, "cloud-local"): the simulation settings that tests,
 * benchmarks and the CLI summary read and write. Kept here so that every reader shares one type.
 */

export const ENDPOINT_CLASSES = ['upload', 'create', 'read'] as const;
export type EndpointClass = (typeof ENDPOINT_CLASSES)[number];

export const SIM_TIERS = ['fast', 'cost_effective', 'agentic', 'agentic_plus', 'turbo'] as const;
export type SimTier = (typeof SIM_TIERS)[number];

const latency = z.object({ baseMs: z.number().min(0), perPageMs: z.number().min(0) });
const limit = z.object({ max: z.number().int().min(1), windowMs: z.number().min(1) });
const rate = z.number().min(0).max(1);

export const simConfigSchema = z.object({
  /** Multiplies every simulated duration: latency, limit windows, Retry-After. */
  timeScale: z.number().positive(),
  /** Job latency per tier: base + perPage × pages, in real-time milliseconds before scaling. */
  latency: z.record(z.enum(SIM_TIERS), latency),
  /** Latency is drawn uniformly from [1 − jitter, 1 + jitter] × the nominal value. */
  latencyJitter: z.number().min(0).max(1),
  /** Extract jobs that may be RUNNING at once; the rest wait THROTTLED, first in first out. 0 = no limit. */
  capacity: z.number().int().min(0),
  /** Token buckets per endpoint class; absent = unlimited. */
  limits: z.object({ upload: limit.nullable(), create: limit.nullable(), read: limit.nullable() }),
  faults: z.object({
    http5xxRate: rate,
    resetRate: rate,
    slowRate: rate,
    slowMs: z.number().min(0),
    /** Share of webhook deliveries sent twice. */
    webhookDuplicateRate: rate,
    /** Each webhook delivery waits a random 0…this many ms (scaled), so deliveries overtake each other. */
    webhookDelayMs: z.number().min(0),
  }),
  /** Files whose name matches `pattern` (a regular expression) end in `status` with `message`. */
  fileRules: z.array(
    z.object({ pattern: z.string(), status: z.enum(['FAILED', 'CANCELLED']), message: z.string() }),
  ),
  seed: z.number().int(),
});
export type SimConfig = z.output<typeof simConfigSchema>;

/** A partial update, as `POST /_sim/config` takes it: nested objects merge. */
export const simConfigUpdateSchema = z.object({
  timeScale: simConfigSchema.shape.timeScale.optional(),
  latency: z.partialRecord(z.enum(SIM_TIERS), latency.partial()).optional(),
  latencyJitter: simConfigSchema.shape.latencyJitter.optional(),
  capacity: simConfigSchema.shape.capacity.optional(),
  limits: z
    .object({
      upload: limit.nullable().optional(),
      create: limit.nullable().optional(),
      read: limit.nullable().optional(),
    })
    .optional(),
  faults: simConfigSchema.shape.faults.partial().optional(),
  fileRules: simConfigSchema.shape.fileRules.optional(),
  seed: simConfigSchema.shape.seed.optional(),
});
export type SimConfigUpdate = z.input<typeof simConfigUpdateSchema>;

/**
 * Off by default: jobs take as long as the real work, no capacity limit, no rate limits, no
 * faults. Tests and benchmarks turn knobs on through `POST /_sim/config` or `start({ sim })`.
 */
export const DEFAULT_SIM_CONFIG: SimConfig = {
  timeScale: 1,
  latency: {
    fast: { baseMs: 0, perPageMs: 0 },
    cost_effective: { baseMs: 0, perPageMs: 0 },
    agentic: { baseMs: 0, perPageMs: 0 },
    agentic_plus: { baseMs: 0, perPageMs: 0 },
    turbo: { baseMs: 0, perPageMs: 0 },
  },
  latencyJitter: 0,
  capacity: 0,
  limits: { upload: null, create: null, read: null },
  faults: {
    http5xxRate: 0,
    resetRate: 0,
    slowRate: 0,
    slowMs: 0,
    webhookDuplicateRate: 0,
    webhookDelayMs: 0,
  },
  fileRules: [],
  seed: 1,
};

/** Seed 000's latencies: cost_effective 5–30 s, agentic 15–90 s over 1–20 pages. */
export const COOKBOOK_LATENCY: SimConfig['latency'] = {
  fast: { baseMs: 2_000, perPageMs: 500 },
  cost_effective: { baseMs: 5_000, perPageMs: 1_300 },
  agentic: { baseMs: 15_000, perPageMs: 3_900 },
  agentic_plus: { baseMs: 20_000, perPageMs: 6_000 },
  turbo: { baseMs: 3_000, perPageMs: 800 },
};

export interface SimStats {
  /** `"GET /api/v2/extract/:id"` → `{"200": 12, "429": 3}`. */
  requests: Record<string, Record<string, number>>;
  rateLimited: number;
  jobsCreated: { parse: number; extract: number; batch: number };
  /** Jobs created for a file + configuration that already had one. */
  duplicateJobs: number;
  peakRunning: number;
  /** Sum over extract jobs of the time they spent THROTTLED (real ms, unscaled). */
  throttledMs: number;
  creditsBilled: number;
  /**
   * Jobs whose real work (parsing, extraction on this machine) outlasted their simulated latency,
   * and by how much in total (real ms): non-zero means the time scale is too fast for the machine.
   */
  overrunJobs: number;
  overrunMs: number;
}

export interface SimRequestRecord {
  seq: number;
  at: number;
  method: string;
  path: string;
  query: Record<string, unknown>;
  body: unknown;
  status: number;
}
