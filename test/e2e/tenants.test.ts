/**
 * Tenants sharing one upstream: fair dispatch with weights, quotas that park work, priorities
 * inside a tenant. Real redis-server, cloud-local in simulation (upstream capacity is the
 * bottleneck: 4 extract jobs RUNNING at once) and several worker processes. Shares are measured
 * in completed files, never in time.
 */
import { COOKBOOK_LATENCY, type SimStats } from '@docpipe/core';
import { makePdf } from '@docpipe/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../support/pipeline-stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const SCALE = 0.02;
/** The large tenant's backlog: 600 in npm test, 5,000 in `npm run tenants`. */
const BACKLOG = Number(process.env.DOCPIPE_TENANT_BACKLOG ?? 600);
const spec = {
  extract: [
    {
      name: 'invoice',
      data_schema: { type: 'object', properties: { invoice_number: { type: ['string', 'null'] } } },
      tier: 'cost_effective' as const,
      extraction_target: 'per_doc' as const,
      cite_sources: false,
      confidence_scores: false,
    },
  ],
};

/** One-page documents, unique per tenant and index (identical bytes would share one upload). */
const onePagers = (tenant: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    name: `${tenant}-${i}.pdf`,
    bytes: makePdf([[`Invoice Number: ${tenant.toUpperCase()}-${i}`]]),
  }));

async function tenantStack(window: number) {
  return startStack({
    sim: { timeScale: SCALE, latency: COOKBOOK_LATENCY, capacity: 4 },
    env: {
      TIME_SCALE: String(SCALE),
      DISPATCH_WINDOW: String(window),
      INFLIGHT_INITIAL: '4',
      INFLIGHT_MAX: '8',
    },
  });
}

const completed = async (s: Stack, batchId: string) =>
  (await s.state.getBatch(batchId)).counters.byState.completed;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('tenants', () => {
  it(`finishes a small tenant's 20 files before a backlog of ${BACKLOG} is 10% done, taking only its share`, async () => {
    const s = await tenantStack(8);
    stack = s;
    for (let i = 0; i < 3; i++) s.spawnWorker();
    const big = (await s.enqueue(onePagers('a', BACKLOG), spec, { tenant: 'big' })).batch.id;
    await until('the large backlog is under way', async () => (await completed(s, big)) >= 10);
    const bigBefore = await completed(s, big);
    const enqueued = performance.now();
    const small = (await s.enqueue(onePagers('b', 20), spec, { tenant: 'small' })).batch.id;
    await s.waitForBatch(small, 120_000);
    const latencyS = (performance.now() - enqueued) / 1000;
    const bigAfter = await completed(s, big);
    const smallDone = await completed(s, small);
    expect(smallDone).toBe(20);
    // Before 10% of the backlog was done.
    expect(bigAfter).toBeLessThan(BACKLOG / 10);
    // Equal weights: while the small tenant ran, the large one kept about half of the completions.
    const bigDuring = bigAfter - bigBefore;
    expect(bigDuring / (bigDuring + smallDone)).toBeGreaterThan(0.35);
    console.info(
      `tenants: the small tenant's 20 files finished in ${latencyS.toFixed(1)} s (${(latencyS / SCALE).toFixed(0)} simulated) while the large one finished ${bigDuring} (${bigAfter} of ${BACKLOG} in all)`,
    );
  }, 180_000);

  it('shares 3:1 by weight while both are backlogged, also after a worker is added mid-run', async () => {
    const s = await tenantStack(8);
    stack = s;
    await s.dispatcher.configure('heavy', { weight: 3 });
    await s.dispatcher.configure('light', { weight: 1 });
    for (let i = 0; i < 2; i++) s.spawnWorker();
    // The light tenant enqueues first: the weights, not the order, decide the shares.
    const light = (await s.enqueue(onePagers('l', 300), spec, { tenant: 'light' })).batch.id;
    const heavy = (await s.enqueue(onePagers('h', 600), spec, { tenant: 'heavy' })).batch.id;
    // Measured from when both are in the pipeline (until the heavy batch was written, the light
    // tenant alone used all the capacity, as it should).
    await until('both are under way', async () => (await completed(s, heavy)) >= 30);
    const [h0, l0] = [await completed(s, heavy), await completed(s, light)];
    await until('a first stretch is done', async () => (await completed(s, heavy)) >= h0 + 180);
    const [h1, l1] = [await completed(s, heavy), await completed(s, light)];
    s.spawnWorker();
    await until('a second stretch is done', async () => (await completed(s, heavy)) >= h1 + 180);
    const [h2, l2] = [await completed(s, heavy), await completed(s, light)];
    // Both still backlogged at the end of the measurement.
    expect(l2).toBeLessThan(300);
    expect(h2).toBeLessThan(600);
    const ratioBefore = (h1 - h0) / (l1 - l0);
    const ratioAfter = (h2 - h1) / (l2 - l1);
    console.info(
      `tenants: heavy:light completions ${h1 - h0}:${l1 - l0} = ${ratioBefore.toFixed(2)}, after a third worker joined ${h2 - h1}:${l2 - l1} = ${ratioAfter.toFixed(2)} (weights 3:1)`,
    );
    expect(ratioBefore).toBeGreaterThan(2.7);
    expect(ratioBefore).toBeLessThan(3.3);
    expect(ratioAfter).toBeGreaterThan(2.7);
    expect(ratioAfter).toBeLessThan(3.3);
  }, 180_000);

  it('parks a tenant over its daily credits, admits more when the quota is raised (no restart) and the rest the next day', async () => {
    const s = await tenantStack(8);
    stack = s;
    // One-page cost_effective extractions cost 5 credits: 6 files spend the day's 30. One file in
    // flight at a time, so the quota stops admission exactly there (with more, the files already
    // admitted may spend past it).
    await s.dispatcher.configure('metered', { credits_per_day: 30, max_in_flight: 1 });
    s.spawnWorker();
    const metered = (await s.enqueue(onePagers('m', 14), spec, { tenant: 'metered' })).batch.id;
    await until('the day is spent', async () => (await completed(s, metered)) >= 6);
    // Over quota: the rest wait in the ready set, holding no slot; nothing fails or is skipped.
    await new Promise((r) => setTimeout(r, 1000));
    const parked = await s.state.getBatch(metered);
    expect(parked.counters.byState).toMatchObject({ completed: 6, failed: 0, skipped: 0, queued: 8 });
    expect((await s.dispatcher.status()).find((t) => t.tenant === 'metered')).toMatchObject({
      ready: 8,
      inFlight: 0,
      creditsToday: 30,
    });

    // A raised quota: the running workers' next dispatch admits again, no restart (40 pays two more).
    await s.dispatcher.configure('metered', { credits_per_day: 40, max_in_flight: 1 });
    await until('the raised quota is spent', async () => (await completed(s, metered)) >= 8);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await s.state.getBatch(metered)).counters.byState).toMatchObject({ completed: 8, queued: 6 });

    // The next day (an injected clock): the day's credits are fresh, so dispatch admits the rest.
    const tomorrow = Date.now() + 24 * 3600_000;
    await until('the next day admitted the rest', async () => {
      await s.dispatcher.dispatch(tomorrow);
      return (await completed(s, metered)) >= 14;
    });
    const done = await s.waitForBatch(metered, 60_000);
    expect(done.status).toBe('completed');
    expect((await s.sim<SimStats>('stats')).creditsBilled).toBe(70);
  }, 180_000);
});
