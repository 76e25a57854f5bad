import { createHmac } from 'node:crypto';
import {
  type Config,
  constantTimeEqual,
  type InflightRegistry,
  type Logger,
  type Queues,
  type RemoteKind,
} from '@docpipe/core';
import { isTerminalStatus } from '@docpipe/llamacloud';
import { wakeParkedJob } from './wake-parked-job.js';

export const LLAMACLOUD_SIGNATURE_HEADER = 'lc-signature';

export interface WebhookDeps {
  config: Config;
  inflight: InflightRegistry;
  queues: Queues;
  log: Logger;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

const TERMINAL_EVENT = /\.(success|error|cancelled|partial_success)$/;

function signatureMatches(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  return constantTimeEqual(
    header.slice('sha256='.length),
    createHmac('sha256', secret).update(rawBody).digest('hex'),
  );
}

/** The payload as an object, whether LlamaCloud sent JSON or a JSON-encoded string of it. */
function parsePayload(rawBody: Buffer): Record<string, unknown> | undefined {
  try {
    let value: unknown = JSON.parse(rawBody.toString('utf8'));
    if (typeof value === 'string') value = JSON.parse(value);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/**
 * The LlamaCloud webhook receiver (DESIGN "Webhook handling"): verifies `LC-Signature`, reads
 * the job id and status defensively (the SDK defines no payload type), and wakes the parked
 * stage job of a finished remote job at once. Duplicate, late and unknown deliveries are
 * answered 202 and change nothing; the poller stays the safety net.
 */
export async function handleLlamaCloudWebhook(
  deps: WebhookDeps,
  rawBody: Buffer,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Promise<WebhookResponse> {
  const secret = deps.config.api.webhookSigningSecret;
  if (!secret)
    return {
      status: 404,
      body: {
        error: {
          code: 'webhooks_disabled',
          message: 'set WEBHOOK_SIGNING_SECRET to receive LlamaCloud webhooks',
        },
      },
    };
  const signature = headers[LLAMACLOUD_SIGNATURE_HEADER];
  if (!signatureMatches(secret, rawBody, Array.isArray(signature) ? signature[0] : signature)) {
    deps.log.warn('LlamaCloud webhook with a missing or wrong signature rejected');
    return {
      status: 401,
      body: { error: { code: 'bad_signature', message: 'LC-Signature does not match the body' } },
    };
  }
  const payload = parsePayload(rawBody);
  if (!payload)
    return {
      status: 400,
      body: { error: { code: 'bad_payload', message: 'the body is not a JSON object' } },
    };
  const data = (payload.data && typeof payload.data === 'object' ? payload.data : {}) as Record<
    string,
    unknown
  >;
  const remoteId = text(payload.job_id) ?? text(data.job_id) ?? text(payload.id) ?? text(data.id);
  const status = text(payload.status) ?? text(data.status);
  const event = text(payload.event) ?? text(payload.event_type) ?? '';
  const kind: RemoteKind | undefined = remoteId?.startsWith('pjb-')
    ? 'parse'
    : remoteId?.startsWith('ext-')
      ? 'extract'
      : undefined;
  if (!remoteId || !kind) return { status: 202, body: { ignored: 'no parse or extract job id' } };
  const finished = (status !== undefined && isTerminalStatus(status)) || TERMINAL_EVENT.test(event);
  if (!finished) return { status: 202, body: { ignored: `not finished (${status ?? event})` } };
  const bullJobId = await deps.inflight.jobFor(kind, remoteId);
  if (!bullJobId) return { status: 202, body: { ignored: 'not in flight' } };
  const woken = await wakeParkedJob(deps.queues, kind, bullJobId);
  // Not parked yet (the remote job beat its stage job to the wait): due at the next poll tick.
  if (!woken) await deps.inflight.reschedule(kind, [{ remoteId, checkAt: 0 }]);
  deps.log.debug({ remoteId, status, event, woken }, 'LlamaCloud webhook');
  return { status: 202, body: { woken } };
}
