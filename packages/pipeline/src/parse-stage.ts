import { createHash } from 'node:crypto';
import { type BatchRecord, type FileRecord, type Payload, PermanentError } from '@docpipe/core';
import { isTerminalStatus, UpstreamNotFoundError } from '@docpipe/llamacloud';
import { holdsCredits, reserveAfterParse } from './budget.js';
import { createOrAdopt } from './create-or-adopt.js';
import { extractJobId, failFile, skipFile } from './file-outcomes.js';
import { restartIfInputGone } from './input-gone.js';
import {
  addCredits,
  DONE,
  type Outcome,
  type PipelineContext,
  parkOnRemote,
  recheck,
  type StageJob,
} from './pipeline-context.js';
import { firstCheckDelay } from './poll-schedule.js';
import { RemoteCache } from './remote-cache.js';
import { giveSlot, takeSlot } from './remote-slots.js';
import { webhookConfigurations } from './webhook-config.js';

const PARSE_CACHE_SECONDS = 24 * 3600;

function parseConfig(batch: BatchRecord) {
  return { tier: batch.spec.parse?.tier ?? 'cost_effective', version: batch.spec.parse?.version ?? 'latest' };
}

const parseCache = (ctx: PipelineContext) => new RemoteCache(ctx, 'parse', PARSE_CACHE_SECONDS);
const parseCacheKey = (file: FileRecord, batch: BatchRecord) =>
  `${file.sha256}:${createHash('sha256')
    .update(JSON.stringify(parseConfig(batch)))
    .digest('hex')
    .slice(0, 16)}`;

/** The name a parse job carries, so an ambiguous create can be found again. */
const remoteName = (file: FileRecord) => `docpipe-${file.id}-r${file.round}`;

/**
 * parse: a small state machine. `create` starts a Parse v2 job (or reuses a completed one for
 * the same bytes and configuration), saves its id and parks; `wait` reads the status when woken
 * and fans out one extract job per schema on completion.
 */
export async function parseStage(ctx: PipelineContext, job: StageJob<Payload<'parse'>>): Promise<Outcome> {
  const file = await ctx.state.getFile(job.data.fileId);
  if (file.round !== job.data.round) return DONE; // a delivery from an earlier round
  const batch = await ctx.state.getBatch(file.batchId);
  if (file.state === 'extracting' && file.parseJobId) {
    // Handed off before a crash: make sure the extract jobs exist (adding them again is a no-op).
    await addExtractJobs(ctx, file, batch, file.parseJobId);
    return DONE;
  }
  if (file.state !== 'parsing') return DONE; // finished or failed meanwhile
  const data = job.data;
  switch (data.step) {
    case 'create': {
      const cached = await parseCache(ctx).get(
        parseCacheKey(file, batch),
        async (id) => (await ctx.llama.parse.get(id)).job.status === 'COMPLETED',
      );
      if (cached) return fanOut(ctx, file, batch, cached);
      const deadlineAt = data.deadlineAt ?? Date.now() + ctx.config.stages.deadlineMs.parse;
      const noSlot = await takeSlot(ctx, 'parse', job.id, deadlineAt, batch.priority);
      if (noSlot) return noSlot;
      // A rerun of a create that may have reached LlamaCloud looks the job up first.
      if (!data.createAttempted) await job.update({ ...data, createAttempted: true });
      let parseJobId: string;
      try {
        parseJobId =
          (data.createAttempted ? await findParse(ctx, file, job.enqueuedAt) : undefined) ??
          (await createParse(ctx, file, data.remoteFileId));
      } catch (error) {
        const input = { kind: 'file', id: data.remoteFileId } as const;
        return restartIfInputGone(ctx, error, file, batch, input, job.id);
      }
      await job.update({ ...data, step: 'wait', parseJobId, deadlineAt });
      const firstCheckMs = firstCheckDelay(ctx.config, parseConfig(batch).tier);
      return parkOnRemote(ctx, 'parse', { id: parseJobId, firstCheckMs }, job.id, deadlineAt);
    }
    case 'wait': {
      const parseJobId = data.parseJobId!;
      let status: string;
      let errorMessage: string | null | undefined;
      let pages: number | undefined;
      try {
        // With a budget or cap, the page list tells what the extractions will cost.
        const expand = holdsCredits(ctx, batch) ? ['metadata'] : [];
        const result = await ctx.llama.parse.get(parseJobId, { expand }, { retries: false });
        status = result.job.status;
        errorMessage = result.job.error_message;
        pages = result.metadata?.pages.length;
        if (status === 'COMPLETED' && result.job.usage?.credits)
          await addCredits(ctx, file, 'parse', result.job.usage.credits);
      } catch (error) {
        if (!(error instanceof UpstreamNotFoundError)) throw error;
        // The upstream forgot the job (restarted without state): start the work again.
        ctx.log.warn({ fileId: file.id, parseJobId }, 'parse job unknown upstream; creating it again');
        await ctx.inflight.remove('parse', parseJobId);
        await job.update({ ...data, step: 'create', parseJobId: undefined });
        return parseStage(ctx, { ...job, data: { ...data, step: 'create', parseJobId: undefined } });
      }
      if (!isTerminalStatus(status)) {
        if (Date.now() < (data.deadlineAt ?? 0))
          return parkOnRemote(ctx, 'parse', recheck(ctx, parseJobId), job.id, data.deadlineAt!);
        await ctx.inflight.remove('parse', parseJobId);
        await giveSlot(ctx, job.id, 'none');
        await failFile(
          ctx,
          file,
          batch,
          {
            stage: 'parse',
            code: 'timeout',
            message: `parse job ${parseJobId} was still ${status} at the stage deadline`,
            remote_id: parseJobId,
          },
          job.attemptsMade + 1,
        );
        return DONE;
      }
      await ctx.inflight.remove('parse', parseJobId);
      await giveSlot(ctx, job.id, status === 'COMPLETED' ? 'up' : 'none');
      if (status !== 'COMPLETED') {
        throw new PermanentError(`parse job ${parseJobId} ${status}: ${errorMessage ?? 'no reason given'}`, {
          code: status === 'CANCELLED' ? 'remote_cancelled' : 'remote_failed',
        });
      }
      await parseCache(ctx).set(parseCacheKey(file, batch), parseJobId);
      const overBudget = pages === undefined ? undefined : await reserveAfterParse(ctx, file, batch, pages);
      if (overBudget) {
        await skipFile(ctx, file, batch, overBudget);
        return DONE;
      }
      return fanOut(ctx, file, batch, parseJobId);
    }
  }
}

/** A parse job this file's job created earlier (found by its name), if any. */
async function findParse(ctx: PipelineContext, file: FileRecord, since: number): Promise<string | undefined> {
  let pageToken: string | undefined;
  for (let page = 0; page < 20; page++) {
    const recent = await ctx.llama.parse.list({
      createdAtOnOrAfter: new Date(since - 1000).toISOString(),
      pageSize: 100,
      ...(pageToken ? { pageToken } : {}),
    });
    const found = recent.items.find((item) => item.name === remoteName(file) && item.status !== 'CANCELLED');
    if (found) {
      ctx.log.info({ fileId: file.id, parseJobId: found.id }, 'resumed a parse job created before a crash');
      return found.id;
    }
    pageToken = recent.nextPageToken;
    if (!pageToken) return undefined;
  }
  return undefined;
}

async function createParse(ctx: PipelineContext, file: FileRecord, remoteFileId: string): Promise<string> {
  const batch = await ctx.state.getBatch(file.batchId);
  return createOrAdopt(
    ctx.log,
    `parse of ${file.id}`,
    async () =>
      (
        await ctx.llama.parse.create(
          {
            fileId: remoteFileId,
            ...parseConfig(batch),
            name: remoteName(file),
            ...webhookConfigurations(ctx.config),
          },
          { retries: false },
        )
      ).id,
    (since) => findParse(ctx, file, since),
  );
}

async function fanOut(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  parseJobId: string,
): Promise<Outcome> {
  await ctx.state.transition(file.id, 'extracting', { parseJobId });
  await addExtractJobs(ctx, file, batch, parseJobId);
  return DONE;
}

/** One extract job per extraction of the batch, all reading the same parse job. */
async function addExtractJobs(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  parseJobId: string,
) {
  await ctx.queues.of(file.id).extract.addBulk(
    batch.spec.extract.map((spec) => ({
      name: 'extract',
      data: {
        batchId: file.batchId,
        fileId: file.id,
        round: file.round,
        task: spec.name,
        fileInput: parseJobId,
        step: 'create' as const,
      },
      opts: { jobId: extractJobId(file, spec.name), priority: batch.priority },
    })),
  );
}
