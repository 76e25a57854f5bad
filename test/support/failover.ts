import { COOKBOOK_LATENCY, type Env, inflightCapFor } from '@docpipe/core';
import { type Stack, startStack } from './pipeline-stack.js';

const SCALE = 0.01;

/**
 * The stack of a failover test on the Redis `redisEnv` names: seed 000's latencies at 1/100,
 * 1 s worker locks, and each job's writes on one replica before it completes (WAIT), so that a
 * failover loses none of them.
 */
export function failoverStack(redisEnv: Env): Promise<Stack> {
  return startStack({
    redisEnv: { ...redisEnv, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '200' },
    sim: { timeScale: SCALE, latency: COOKBOOK_LATENCY, latencyJitter: 0.5, capacity: 20 },
    env: { TIME_SCALE: String(SCALE), WORKER_LOCK_MS: '1000' },
  });
}

export interface Failover {
  /** Files final when the master was killed. */
  before: number;
  /**
   * Remote jobs in flight at the kill. A failover fails the commands in flight as a crash
   * would: a remote job created just before may lose its saved id and be created again, so
   * duplicates are bounded by this.
   */
  inFlightAtKill: number;
  promotedMs: number;
  /** From the kill to the first file finished after it. */
  progressMs: number;
}

/** Kills the master mid-batch, waits for a replica to take over, then for the next finished file. */
export async function failOver(
  s: Stack,
  batchId: string,
  deadline: number,
  steps: { kill(): Promise<void>; promoted(): Promise<void> },
): Promise<Failover> {
  const before = await s.finished(batchId);
  const inFlightAtKill = (await inflightCapFor(s.redis, s.config).state()).held;
  const killedAt = Date.now();
  await steps.kill();
  await steps.promoted();
  const promotedMs = Date.now() - killedAt;
  await s.waitForFinished(batchId, before + 1, deadline);
  return { before, inFlightAtKill, promotedMs, progressMs: Date.now() - killedAt };
}

/** The figures a failover test prints. */
export function describeFailover(f: Failover, docs: number, duplicates: number): string {
  return (
    `master killed at ${f.before}/${docs}: replica promoted in ${(f.promotedMs / 1000).toFixed(1)} s, ` +
    `next file finished ${(f.progressMs / 1000).toFixed(1)} s after the kill; ` +
    `duplicate upstream jobs ${duplicates} (of ${f.inFlightAtKill} in flight at the kill)`
  );
}
