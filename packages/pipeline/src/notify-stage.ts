import { createHmac } from 'node:crypto';
import { type Payload, PermanentError, TransientError } from '@docpipe/core';
import { request } from 'undici';
import { DONE, type Outcome, type PipelineContext, type StageJob } from './pipeline-context.js';

export const CALLBACK_SIGNATURE_HEADER = 'x-docpipe-signature';

/** `sha256=<hex HMAC-SHA256 of the raw body>`, the same scheme LlamaCloud's webhooks use. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * notify: POSTs the batch's final counters to its callback_url, signed. A receiver keeps the
 * callback with the highest `sequence` (a retried batch completes again with new totals).
 */
export async function notifyStage(ctx: PipelineContext, job: StageJob<Payload<'notify'>>): Promise<Outcome> {
  const batch = await ctx.state.getBatch(job.data.batchId);
  if (!batch.callbackUrl) return DONE;
  const body = JSON.stringify({
    batch_id: batch.id,
    status: batch.status,
    sequence: job.data.sequence,
    counters: { total: batch.counters.total, ...batch.counters.byState },
    credits_used: batch.creditsUsed,
    finished_at: batch.finishedAt ? new Date(batch.finishedAt).toISOString() : null,
  });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const secret = ctx.config.api.callbackSigningSecret;
  if (secret) headers[CALLBACK_SIGNATURE_HEADER] = signBody(secret, body);
  const response = await request(batch.callbackUrl, {
    method: 'POST',
    headers,
    body,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  await response.body.dump();
  if (response.statusCode >= 200 && response.statusCode < 300) {
    ctx.log.info(
      { batchId: batch.id, sequence: job.data.sequence, url: batch.callbackUrl },
      'callback delivered',
    );
    return DONE;
  }
  const message = `callback ${batch.callbackUrl} answered ${response.statusCode}`;
  if (response.statusCode >= 500 || response.statusCode === 429 || response.statusCode === 408)
    throw new TransientError(message);
  throw new PermanentError(message, { code: 'callback_rejected' });
}
