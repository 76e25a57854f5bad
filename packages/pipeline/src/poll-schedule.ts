import { COOKBOOK_LATENCY, type Config } from '@docpipe/core';

/** Tiers of Parse v2 and Extract v2 whose typical latency the cookbook gives. */
export type LatencyTier = keyof typeof COOKBOOK_LATENCY;

/**
 * Most intervals between two checks of a long-running remote job. Checks are bulk lists (one
 * request per 100 due jobs), so checking often costs little, and a finished job seen late holds
 * its in-flight slot for nothing: the benchmark measured 8 intervals making docpipe slower than
 * the cookbook's 2 s polling.
 */
export const MAX_BACKOFF_INTERVALS = 2;

/**
 * When to check a new remote job first: at 80% of its typical latency for the tier and page
 * count (LlamaCloud's published figures, scaled by TIME_SCALE), never sooner than one poll
 * interval. Checking earlier only costs requests that answer "still running".
 */
export function firstCheckDelay(config: Config, tier: string, pages = 1): number {
  const latency = COOKBOOK_LATENCY[tier as LatencyTier] ?? COOKBOOK_LATENCY.cost_effective;
  const expected = (latency.baseMs + latency.perPageMs * Math.max(1, pages)) * config.timeScale;
  return Math.max(config.stages.pollIntervalMs, Math.round(0.8 * expected));
}

/**
 * When to check a remote job again that is still running: an eighth of the time it has been in
 * flight, between one and MAX_BACKOFF_INTERVALS poll intervals, so very long jobs are asked
 * about a little less often while most are seen finishing within about one interval.
 */
export function nextCheckDelay(config: Config, ageMs: number): number {
  const interval = config.stages.pollIntervalMs;
  return Math.min(MAX_BACKOFF_INTERVALS * interval, Math.max(interval, Math.round(ageMs / 8)));
}
