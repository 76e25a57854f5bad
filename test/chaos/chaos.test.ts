/**
 * Chaos: one batch through worker processes while everything around them fails, then the
 * invariants of a system that loses nothing. `npm test` runs the bounded form (60 documents,
 * 3 workers); `npm run chaos` the long one (300 documents, 5 workers, more faults).
 *
 * Faults, in the order the batch's progress meets them, while workers are SIGKILLed and
 * replaced every 1.5 s: Redis killed and restarted (AOF), cloud-local restarted with every file
 * and job forgotten (404s: the pipeline must redo the work, not fail the file), a 5xx storm with
 * connection resets and slow responses, a 429 storm, and forged webhook deliveries to the API.
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { COOKBOOK_LATENCY, type SimStats } from '@docpipe/core';
import { LLAMACLOUD_SIGNATURE_HEADER, WEBHOOK_PATH } from '@docpipe/pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { mixedDocuments, twoSchemas } from '../support/fixtures.js';
import { expectNothingLost } from '../support/invariants.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

const LONG = process.env.DOCPIPE_CHAOS === 'long';
const DOCS = LONG ? 300 : 60;
const WORKERS = LONG ? 5 : 3;
const KILL_EVERY_MS = 1500;
const DEADLINE_MS = LONG ? 15 * 60_000 : 150_000;
const SCALE = 0.01;
const REJECTED = 2;
const REJECTION = 'policy: this document was refused upstream';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos', () => {
  it(
    `loses nothing: ${DOCS} documents, ${WORKERS} workers killed at random, Redis and cloud-local restarted, 5xx and 429 storms, forged webhooks`,
    async () => {
      const webhookSecret = 'chaos-webhook-secret-0123';
      const s = await startStack({
        sim: {
          timeScale: SCALE,
          latency: COOKBOOK_LATENCY,
          latencyJitter: 0.5,
          capacity: 10,
          faults: { webhookDuplicateRate: 0.3, webhookDelayMs: 1000 },
          // Documents upstream refuses for good: under all the faults, they must fail with this reason.
          fileRules: [{ pattern: '^REJECTED-', status: 'FAILED', message: REJECTION }],
        },
        env: { TIME_SCALE: String(SCALE), WORKER_LOCK_MS: '1000', WEBHOOK_SIGNING_SECRET: webhookSecret },
      });
      stack = s;
      const api = await s.startApi({ API_KEYS: 'chaos-key-0123456789' });
      // LlamaCloud's webhooks reach the API (duplicated and reordered), the poller covers the rest.
      const spawn = () => s.spawnWorker({ env: { PUBLIC_URL: api.url } });
      const workers: ChildProcess[] = Array.from({ length: WORKERS }, spawn);
      // The last documents are renamed for upstream to refuse them (their bytes are unique: a copy of
      // another document's bytes would be the same upload, with the other name).
      const documents = mixedDocuments(DOCS).map((doc, i) =>
        i < DOCS - REJECTED ? doc : { ...doc, name: `REJECTED-${doc.name}` },
      );
      const rejected = documents.slice(DOCS - REJECTED);
      const { batch } = await s.enqueue(documents, twoSchemas);
      const faults: string[] = [];
      const statsBeforeRestart: SimStats[] = [];
      let kills = 0;
      let forged = 0;
      let forgedRejected = 0;

      const events: [number, string, () => Promise<void>][] = [
        [0.1, 'Redis killed and restarted (AOF)', () => s.redisServer.restart()],
        [
          0.25,
          'cloud-local restarted: every file and job forgotten',
          async () => {
            statsBeforeRestart.push(await s.sim<SimStats>('stats'));
            await s.restartCloud();
          },
        ],
        [
          0.4,
          '5xx storm: 30% 503s, 5% resets, 20% slow',
          async () => {
            await s.sim('config', {
              faults: { http5xxRate: 0.3, resetRate: 0.05, slowRate: 0.2, slowMs: 300 },
            });
          },
        ],
        [
          0.55,
          '5xx storm over; 429 storm: 2 creates and 4 reads per second upstream',
          async () => {
            await s.sim('config', {
              faults: { http5xxRate: 0, resetRate: 0, slowRate: 0 },
              limits: { create: { max: 2, windowMs: 1000 }, read: { max: 4, windowMs: 1000 } },
            });
          },
        ],
        [
          0.7,
          '429 storm over',
          async () => {
            await s.sim('config', { limits: { create: null, read: null } });
          },
        ],
      ];

      const started = Date.now();
      let lastKill = started;
      let longestStallMs = 0;
      let lastProgress = { at: started, finished: 0 };
      for (;;) {
        const current = await s.state.getBatch(batch.id);
        const finished = current.counters.byState.completed + current.counters.byState.failed;
        if (current.status !== 'running') break;
        if (Date.now() - started > DEADLINE_MS)
          throw new Error(`batch still running after ${DEADLINE_MS} ms`);
        if (finished > lastProgress.finished) lastProgress = { at: Date.now(), finished };
        longestStallMs = Math.max(longestStallMs, Date.now() - lastProgress.at);
        const next = events[0];
        if (next && finished >= next[0] * DOCS) {
          events.shift();
          faults.push(`${next[1]} at ${finished}/${DOCS}`);
          await next[2]();
        }
        if (Date.now() - lastKill > KILL_EVERY_MS) {
          lastKill = Date.now();
          const victim = workers.splice(Math.floor(Math.random() * workers.length), 1)[0]!;
          victim.kill('SIGKILL');
          kills++;
          workers.push(spawn());
        }
        // A forged LlamaCloud webhook: wrong signature, a real-looking event. It must change nothing.
        const body = JSON.stringify({ event_type: 'extract.success', data: { job_id: `forged-${forged}` } });
        const forgedResponse = await fetch(`${api.url}${WEBHOOK_PATH}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [LLAMACLOUD_SIGNATURE_HEADER]: `sha256=${createHmac('sha256', 'not-the-secret').update(body).digest('hex')}`,
          },
          body,
        });
        forged++;
        if (forgedResponse.status === 401) forgedRejected++;
        await sleep(250);
      }

      // Invariants: duplicate upstream jobs at most one per kill (a create that landed while its
      // worker died).
      const { byState, failed, duplicates } = await expectNothingLost(s, batch.id, {
        docs: DOCS,
        schemas: 2,
        rejected: { names: rejected.map((doc) => doc.name), reason: REJECTION },
        maxDuplicates: kills,
        statsBefore: statsBeforeRestart,
      });
      // Forged webhooks were all refused.
      expect(forgedRejected).toBe(forged);
      expect(events.map((e) => e[1])).toEqual([]);

      console.info(
        [
          `chaos: ${DOCS} documents × 2 schemas, ${WORKERS} workers, ${((Date.now() - started) / 1000).toFixed(1)} s`,
          `  faults: ${kills} SIGKILLs; ${faults.join('; ')}; ${forged} forged webhooks (${forgedRejected} refused)`,
          `  outcome: ${byState.completed ?? 0} completed, ${failed.length} failed as upstream refused them, 0 lost; duplicates ${duplicates}; longest stretch without a finished file ${(longestStallMs / 1000).toFixed(1)} s`,
        ].join('\n'),
      );
    },
    DEADLINE_MS + 60_000,
  );
});
