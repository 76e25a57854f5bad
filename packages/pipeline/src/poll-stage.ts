import type { QueueName, RemoteKind } from '@docpipe/core';
import { isTerminalStatus } from '@docpipe/llamacloud';
import type { PipelineContext } from './pipeline-context.js';
import { nextCheckDelay } from './poll-schedule.js';
import { wakeParkedJob } from './wake-parked-job.js';

/** Ids per list request: LlamaCloud pages hold up to 100 jobs. */
export const POLL_PAGE = 100;
/** Most remote ids one tick checks per kind. */
export const POLL_MAX_PER_TICK = 2000;

export interface PollTickReport {
  checked: number;
  requests: number;
  woken: number;
  /** Files fair dispatch admitted on this tick. */
  admitted?: number;
}

/** An admitted file whose upload job is still missing this long after admission lost it in a crash. */
const RECOVER_AFTER_MS = 30_000;

const QUEUE_OF: Record<RemoteKind, QueueName> = { parse: 'parse', extract: 'extract' };

/**
 * One poll tick: for each kind, take the in-flight remote ids whose check is due (oldest first),
 * ask LlamaCloud about up to 100 of them per list request, and promote the parked BullMQ job of
 * every id that is terminal, or unknown upstream (its stage then sees the 404 and recreates the
 * work). Every checked id is checked again later (sooner for young jobs, backing off for long
 * ones) until its stage job removes it, so a wake that races with a job not yet parked simply
 * happens on the next check.
 */
export async function pollTick(ctx: PipelineContext, now = Date.now()): Promise<PollTickReport> {
  const report: PollTickReport = { checked: 0, requests: 0, woken: 0 };
  const seen = new Map<string, string>();
  for (const kind of ['parse', 'extract'] as const) {
    const due = await ctx.inflight.due(kind, now, POLL_MAX_PER_TICK);
    for (let start = 0; start < due.length; start += POLL_PAGE) {
      const chunk = due.slice(start, start + POLL_PAGE);
      const status = await listStatuses(
        ctx,
        kind,
        chunk.map((entry) => entry.remoteId),
        report,
      );
      for (const [id, remoteStatus] of status) seen.set(id, remoteStatus);
      report.checked += chunk.length;
      const wake = chunk.filter((entry) => {
        const remoteStatus = status.get(entry.remoteId);
        return remoteStatus === undefined || isTerminalStatus(remoteStatus);
      });
      const checkedAt = Date.now();
      await ctx.inflight.reschedule(
        kind,
        chunk.map((entry) => ({
          remoteId: entry.remoteId,
          checkAt: checkedAt + nextCheckDelay(ctx.config, checkedAt - entry.since),
        })),
      );
      for (const entry of wake)
        if (await wakeParkedJob(ctx.queues, QUEUE_OF[kind], entry.bullJobId)) report.woken++;
    }
  }
  if ([...seen.values()].includes('THROTTLED')) await fitCap(ctx, report, seen);
  // The safety net of fair dispatch: quotas changed or a new day began, a finished file's
  // dispatch failed, or a crash lost the upload job of an admitted file.
  await ctx.dispatcher.recoverPending(RECOVER_AFTER_MS * ctx.config.timeScale, now);
  report.admitted = await ctx.dispatcher.dispatch(now);
  if (report.checked > 0 || report.admitted) ctx.log.debug(report, 'poll tick');
  return report;
}

/** The statuses of up to 100 remote jobs of one kind, in one list request. */
async function listStatuses(
  ctx: PipelineContext,
  kind: RemoteKind,
  jobIds: string[],
  report: PollTickReport,
): Promise<Map<string, string>> {
  const page =
    kind === 'extract'
      ? await ctx.llama.extract.list({ jobIds, pageSize: POLL_PAGE }, { retries: 1 })
      : await ctx.llama.parse.list({ jobIds, pageSize: POLL_PAGE }, { retries: 1 });
  report.requests++;
  return new Map(page.items.map((item) => [item.id, item.status]));
}

/**
 * Jobs are waiting for upstream capacity: count, over every remote job in flight (not just the
 * ones due, whose statuses this tick already read), how many sit THROTTLED, and let the cap come
 * down to what can run plus a little. One list request per 100 jobs not yet read, only on ticks
 * that saw THROTTLED.
 */
async function fitCap(
  ctx: PipelineContext,
  report: PollTickReport,
  seen: Map<string, string>,
): Promise<void> {
  let throttled = 0;
  for (const kind of ['parse', 'extract'] as const) {
    const all = await ctx.inflight.due(kind, Number.POSITIVE_INFINITY, POLL_MAX_PER_TICK);
    const unread = all.map((entry) => entry.remoteId).filter((id) => !seen.has(id));
    for (let start = 0; start < unread.length; start += POLL_PAGE) {
      const status = await listStatuses(ctx, kind, unread.slice(start, start + POLL_PAGE), report);
      for (const [id, remoteStatus] of status) seen.set(id, remoteStatus);
    }
    throttled += all.filter((entry) => seen.get(entry.remoteId) === 'THROTTLED').length;
  }
  if (throttled > 0) await ctx.cap.throttled(throttled);
}
