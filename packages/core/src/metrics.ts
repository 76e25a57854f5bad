import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { InflightCap } from './inflight-cap.js';
import type { InflightRegistry, RemoteKind } from './inflight-registry.js';
import { QUEUE_NAMES } from './job-catalog.js';
import type { Queues } from './queues.js';

/** The BullMQ job states reported per queue. */
const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

/**
 * docpipe's Prometheus metrics, one set per process. Counters and histograms are updated where
 * the work happens; queue depths and in-flight remote jobs are read from Redis at scrape time,
 * so every process (worker or API) reports the same shared figures.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly stageDuration = new Histogram({
    name: 'docpipe_stage_duration_seconds',
    help: 'Time a stage job held a worker slot, by stage and outcome (done, park, retry, failed).',
    labelNames: ['stage', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly upstreamRequests = new Counter({
    name: 'docpipe_upstream_requests_total',
    help: 'HTTP exchanges with LlamaCloud by route and status (0: no response).',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'docpipe_upstream_request_duration_seconds',
    help: 'Duration of HTTP exchanges with LlamaCloud by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  readonly credits = new Counter({
    name: 'docpipe_credits_total',
    help: 'LlamaCloud credits reported in job usage, by kind of remote job.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly filesFinished = new Counter({
    name: 'docpipe_files_finished_total',
    help: 'Files that reached a terminal state in this process, by state.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Reports queue depths and in-flight remote jobs, read from Redis on every scrape. */
  observeQueues(queues: Queues, inflight: InflightRegistry, cap?: InflightCap): void {
    if (cap) {
      new Gauge({
        name: 'docpipe_inflight_cap',
        help: 'The adaptive cap on remote jobs in flight, slots held and stage jobs waiting for one.',
        labelNames: ['value'] as const,
        registers: [this.registry],
        async collect() {
          const state = await cap.state();
          this.set({ value: 'cap' }, state.cap);
          this.set({ value: 'held' }, state.held);
          this.set({ value: 'waiting' }, state.waiting);
        },
      });
    }
    new Gauge({
      name: 'docpipe_queue_jobs',
      help: 'Jobs per docpipe queue and BullMQ state.',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        // Summed over the queue families: one series per stage, however the queues are sharded.
        for (const queue of QUEUE_NAMES) {
          const counts = await Promise.all(queues.named(queue).map((q) => q.getJobCounts(...QUEUE_STATES)));
          for (const state of QUEUE_STATES)
            this.set(
              { queue, state },
              counts.reduce((sum, count) => sum + (count[state] ?? 0), 0),
            );
        }
      },
    });
    new Gauge({
      name: 'docpipe_inflight_remote_jobs',
      help: 'Remote LlamaCloud jobs created and not yet seen terminal, by kind.',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        for (const kind of ['parse', 'extract'] as RemoteKind[])
          this.set({ kind }, await inflight.size(kind));
      },
    });
  }

  /** Records one HTTP exchange with LlamaCloud (the client's onRequest hook). */
  recordRequest(event: { route: string; status: number; durationMs: number }): void {
    this.upstreamRequests.inc({ route: event.route, status: String(event.status) });
    this.upstreamDuration.observe({ route: event.route }, event.durationMs / 1000);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
