import { createHmac } from 'node:crypto';
import type { Logger } from '@docpipe/core';
import type { JobStatus } from './store.js';

/** Anything whose status changes are sent: a parse or extract job, or a batch. */
export interface WebhookSubject {
  kind: 'parse' | 'extract' | 'batch';
  id: string;
  status: JobStatus;
  webhook_configurations: unknown[];
  error_message: string | null;
  created_at: string;
}

interface WebhookConfiguration {
  webhook_url?: string | null;
  webhook_events?: string[] | null;
  webhook_headers?: Record<string, string> | null;
  webhook_output_format?: string | null;
  webhook_signing_secret?: string | null;
}

const EVENT_SUFFIX: Partial<Record<JobStatus, string>> = {
  PENDING: 'pending',
  RUNNING: 'running',
  COMPLETED: 'success',
  FAILED: 'error',
  CANCELLED: 'cancelled',
};

const ATTEMPTS = 3;

/**
 * Sends a job's status changes to the webhooks it was created with, as LlamaCloud does:
 * `{event, job_id, status, …}` (as JSON, or as a JSON string when the output format is the default
 * `string`), custom headers, and `LC-Signature: sha256=<hex HMAC-SHA256 of the body>` when a
 * signing secret was given. Failed deliveries are retried a few times, then dropped. Under
 * simulation, deliveries can be delayed (and so reordered) and duplicated on purpose.
 */
export class WebhookDelivery {
  private readonly lastSent = new Map<string, JobStatus>();
  private readonly pending = new Set<Promise<void>>();
  private readonly listeners: ((subject: WebhookSubject) => void)[] = [];
  delivered = 0;
  private closing = false;

  /** `plan`: the simulation's delay and duplication of each delivery (none by default). */
  constructor(
    private readonly log: Logger,
    private readonly plan: () => { delayMs: number; copies: number } = () => ({ delayMs: 0, copies: 1 }),
  ) {}

  /** Calls `listener` on every status change (batches follow their jobs this way). */
  onStatus(listener: (subject: WebhookSubject) => void): void {
    this.listeners.push(listener);
  }

  statusChanged(job: WebhookSubject): void {
    for (const listener of this.listeners) listener(job);
    if (job.webhook_configurations.length === 0 || this.lastSent.get(job.id) === job.status) return;
    this.lastSent.set(job.id, job.status);
    const suffix = EVENT_SUFFIX[job.status];
    if (!suffix) return; // THROTTLED has no event
    const event = `${job.kind}.${suffix}`;
    for (const config of job.webhook_configurations as WebhookConfiguration[]) {
      if (!config.webhook_url) continue;
      if (config.webhook_events?.length && !config.webhook_events.includes(event)) continue;
      const payload = {
        event,
        [job.kind === 'batch' ? 'batch_id' : 'job_id']: job.id,
        status: job.status,
        error_message: job.error_message,
        created_at: job.created_at,
      };
      const json = JSON.stringify(payload);
      const body = config.webhook_output_format === 'json' ? json : JSON.stringify(json);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        ...config.webhook_headers,
      };
      if (config.webhook_signing_secret) {
        headers['lc-signature'] =
          `sha256=${createHmac('sha256', config.webhook_signing_secret).update(body).digest('hex')}`;
      }
      const { delayMs, copies } = this.plan();
      for (let copy = 0; copy < copies; copy++) {
        const url = config.webhook_url;
        const sending = new Promise((resolve) => setTimeout(resolve, delayMs * (copy + 1)))
          .then(() => this.send(url, headers, body, event, job.id))
          .finally(() => this.pending.delete(sending));
        this.pending.add(sending);
      }
    }
  }

  private async send(
    url: string,
    headers: Record<string, string>,
    body: string,
    event: string,
    jobId: string,
  ) {
    for (let attempt = 1; attempt <= ATTEMPTS && !this.closing; attempt++) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(5000),
        });
        await response.arrayBuffer();
        if (response.ok) {
          this.delivered++;
          return;
        }
        this.log.warn(
          { url, event, jobId, status: response.status, attempt },
          'webhook answered with an error',
        );
      } catch (error) {
        this.log.warn({ url, event, jobId, attempt, err: error }, 'webhook delivery failed');
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }

  /** On shutdown: starts no new attempt, and waits for the ones under way. */
  async drain(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.pending]);
  }
}
