import {
  type BatchRecord,
  estimateFileCredits,
  estimatePages,
  type FileError,
  type FileRecord,
} from '@docpipe/core';
import type { PipelineContext } from './pipeline-context.js';

/**
 * Budgets: a batch with `budget_credits` (or any batch, with CREDITS_DAILY_CAP) holds credits for each file before the file's first
 * remote job is created, from pages estimated from its bytes (a PDF's page objects, else one);
 * after parse, when its pages are known, the hold is set to what its extractions will cost.
 * A file the budget cannot pay for is skipped with reason `budget` (a later, smaller file may
 * still fit). Billed credits come out of the hold; a finished file gives back the rest. The daily
 * cap counts every batch's holds and charges per UTC day.
 * Undefined: go on; otherwise the reason to skip the file.
 */
export async function reserveBeforeUpload(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  parses: boolean,
): Promise<FileError | undefined> {
  if (!holdsCredits(ctx, batch)) return undefined;
  const pages = file.name.toLowerCase().endsWith('.pdf')
    ? estimatePages(new Uint8Array(await (await ctx.blobs.blob(file.sha256)).arrayBuffer()), file.name)
    : 1;
  return reserve(ctx, file, batch, 'upload', pages, parses);
}

/** After parse: hold exactly what the file's extractions of `pages` pages will cost. */
export async function reserveAfterParse(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  pages: number,
): Promise<FileError | undefined> {
  if (!holdsCredits(ctx, batch)) return undefined;
  return reserve(ctx, file, batch, 'parse', pages, false);
}

async function reserve(
  ctx: PipelineContext,
  file: FileRecord,
  batch: BatchRecord,
  stage: string,
  pages: number,
  parses: boolean,
): Promise<FileError | undefined> {
  const amount = estimateFileCredits(batch.spec, pages, parses, ctx.config.creditsPerPage);
  const reservation = await ctx.state.reserveCredits(file, amount, ctx.config.creditsDailyCap);
  if (reservation.granted) return undefined;
  const need = `about ${amount} credits for ${pages} page${pages === 1 ? '' : 's'}`;
  return {
    stage,
    code: 'budget',
    message:
      reservation.refusedBy === 'day'
        ? `the daily credit cap of ${ctx.config.creditsDailyCap} (CREDITS_DAILY_CAP) cannot pay for this file ` +
          `(${need}; ${reservation.day.used} used today (UTC), ${reservation.day.reserved} held by running files); ` +
          'enqueue it again tomorrow or raise the cap'
        : `batch budget of ${batch.budgetCredits} credits cannot pay for this file ` +
          `(${need}; ${reservation.used} used, ${reservation.reserved} held by running files); ` +
          'enqueue it again in a batch with a larger budget_credits',
  };
}

/** Whether files of this batch hold credits: it has a budget, or a daily cap is set. */
export const holdsCredits = (ctx: PipelineContext, batch: BatchRecord) =>
  batch.budgetCredits !== undefined || ctx.config.creditsDailyCap !== undefined;
