import { duplicateRedis, type Logger, type Redis, type StateStore } from '@docpipe/core';
import type { Request, Response } from 'express';
import { batchView } from './views.js';

const KEEPALIVE_MS = 15_000;

/**
 * `GET /v1/batches/:id/events`: Server-Sent Events. Each file transition is an `event: file`
 * whose `id` is its position in the batch's Redis stream, so a reconnecting client (the browser
 * sends `Last-Event-ID`) continues where it stopped; each group of transitions is followed by an
 * `event: progress` with the whole batch (absolute counters, safe to apply twice). A new client
 * gets a `progress` snapshot first. One blocking Redis connection per client.
 */
export async function streamBatchEvents(
  deps: { state: StateStore; redis: Redis; log: Logger },
  req: Request,
  res: Response,
  batchId: string,
) {
  const first = await deps.state.getBatch(batchId); // 404 before any header is sent
  const resume = req.get('last-event-id') ?? (req.query.last_event_id as string | undefined);
  // `0` replays the batch from its first transition; no id starts at the newest.
  let after =
    resume && /^\d+(-\d+)?$/.test(resume) ? resume : await latestEventId(deps.redis, deps.state, batchId);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`retry: 2000\nevent: progress\ndata: ${JSON.stringify(batchView(first))}\n\n`);

  const connection = duplicateRedis(deps.redis);
  connection.on('error', (error) => deps.log.debug({ err: error, batchId }, 'event stream connection error'));
  await connection.connect();
  let open = true;
  req.on('close', () => {
    open = false;
    connection.disconnect();
  });
  try {
    while (open) {
      const events = await deps.state.readEvents(batchId, after, { blockMs: KEEPALIVE_MS, connection });
      if (!open) break;
      if (events.length === 0) {
        res.write(': keep-alive\n\n');
        continue;
      }
      let chunk = '';
      for (const event of events) {
        chunk += `id: ${event.id}\nevent: file\ndata: ${JSON.stringify({
          file_id: event.fileId,
          from: event.from,
          to: event.to,
          at: new Date(event.at).toISOString(),
        })}\n\n`;
        after = event.id;
      }
      const batch = await deps.state.getBatch(batchId);
      res.write(`${chunk}event: progress\ndata: ${JSON.stringify(batchView(batch))}\n\n`);
    }
  } catch (error) {
    if (open) deps.log.warn({ err: error, batchId }, 'event stream ended by an error');
  } finally {
    connection.disconnect();
    res.end();
  }
}

async function latestEventId(redis: Redis, state: StateStore, batchId: string): Promise<string> {
  const [last] = await redis.xrevrange(state.keys.batchEvents(batchId), '+', '-', 'COUNT', 1);
  return last?.[0] ?? '0';
}
