import { loadConfig } from '@docpipe/core';
import { describe, expect, it } from 'vitest';
import { firstCheckDelay, MAX_BACKOFF_INTERVALS, nextCheckDelay } from './poll-schedule.js';

const config = loadConfig({ TIME_SCALE: '1' });
const interval = config.stages.pollIntervalMs;

describe('poll schedule', () => {
  it('checks a new job first near its expected latency, by tier and pages', () => {
    expect(firstCheckDelay(config, 'cost_effective', 1)).toBe(Math.round(0.8 * (5_000 + 1_300)));
    expect(firstCheckDelay(config, 'agentic', 10)).toBe(Math.round(0.8 * (15_000 + 39_000)));
    expect(firstCheckDelay(config, 'agentic', 10)).toBeGreaterThan(firstCheckDelay(config, 'agentic', 1));
  });

  it('never checks sooner than one poll interval, and scales with TIME_SCALE', () => {
    const fast = loadConfig({ TIME_SCALE: '0.001' });
    expect(firstCheckDelay(fast, 'fast', 1)).toBe(fast.stages.pollIntervalMs);
    expect(firstCheckDelay(config, 'no-such-tier')).toBe(firstCheckDelay(config, 'cost_effective'));
  });

  it('backs off on long-running jobs between one and the maximum number of intervals', () => {
    expect(nextCheckDelay(config, 0)).toBe(interval);
    expect(nextCheckDelay(config, 8 * 1.5 * interval)).toBe(1.5 * interval);
    expect(nextCheckDelay(config, 3_600_000)).toBe(MAX_BACKOFF_INTERVALS * interval);
  });
});
