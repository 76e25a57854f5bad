import { COOKBOOK_LATENCY, type Config } from '@docpipe/core';

/** Tiers of Parse v2 and Extract v2 whose typical latency the cookbook gives. */
export type LatencyTier = keyof typeof COOKBOOK_LATENCY;

/** Most intervals between two checks of a long-running remote job. */
export const MAX_BACKOFF_INTERVALS = 8;

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
 * When to check a remote job again that is still running: a quarter of the time it has been in
 * flight, between one and MAX_BACKOFF_INTERVALS poll intervals, so long jobs are asked about
 * less often while short ones are seen finishing within about one interval.
 */
export function nextCheckDelay(config: Config, ageMs: number): number {
  const interval = config.stages.pollIntervalMs;
  return Math.min(MAX_BACKOFF_INTERVALS * interval, Math.max(interval, Math.round(ageMs / 4)));
}
