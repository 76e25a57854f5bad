import { randomUUID } from 'node:crypto';
import type { Logger } from '@docpipe/core';
import type express from 'express';
import { z } from 'zod';
import { configurationFor, type Paginate } from './configurations.js';
import { filesOf, liveDirectory } from './directories.js';
import { asyncRoute, HttpError, notFound, parseOr422 } from './http-errors.js';
import { type JobEngine, TERMINAL } from './job-engine.js';
import { type Batch, type BatchJobType, type CloudStore, type JobStatus, PROJECT_ID } from './store.js';
import type { WebhookDelivery, WebhookSubject } from './webhook-delivery.js';

/** The documented limit of source files per batch. */
export const MAX_BATCH_FILES = 1000;

/**
 * Batches (`/api/v2/batches`, seed 001): one Parse v2 or Extract v2 job of a saved configuration
 * per file of a directory. The batch is PENDING until every file is mapped to a job (or to an
 * error), RUNNING (THROTTLED when all its open jobs wait for capacity) while jobs run, then
 * COMPLETED; per-file failures stay per file (a FAILED job reference, or an error message).
 * Cancel stops mapping, cancels open jobs and keeps finished ones. batch.* webhooks follow the
 * status.
 */
export class Batches {
  private readonly batchOfJob = new Map<string, string>();

  constructor(
    private readonly store: CloudStore,
    private readonly engine: JobEngine,
    private readonly webhooks: WebhookDelivery,
    private readonly log: Logger,
  ) {
    for (const batch of store.batches.all())
      for (const result of batch.results)
        if (result.job_reference) this.batchOfJob.set(result.job_reference.id, batch.id);
    webhooks.onStatus((job) => void this.jobChanged(job));
  }

  /** After a restart: batches that were still mapping files go on. */
  resume(): void {
    for (const batch of this.store.batches.all()) {
      if (batch.status !== 'CANCELLED' && batch.results.length < batch.source_files.length)
        void this.dispatch(batch.id);
    }
  }

  async create(input: {
    sourceDirectoryId: string;
    type: BatchJobType;
    configurationId: string;
    webhookConfigurations: unknown[];
  }): Promise<Batch> {
    liveDirectory(this.store, input.sourceDirectoryId);
    configurationFor(this.store, input.configurationId, input.type);
    const files = filesOf(this.store, input.sourceDirectoryId);
    const problem =
      files.length === 0
        ? `Directory ${input.sourceDirectoryId} has no files`
        : files.length > MAX_BATCH_FILES
          ? `Batch creation is limited to ${MAX_BATCH_FILES.toLocaleString('en')} source files; directory ${input.sourceDirectoryId} has ${files.length}`
          : undefined;
    if (problem)
      throw new HttpError(422, [{ loc: ['body', 'source_directory_id'], msg: problem, type: 'value_error' }]);
    const now = new Date().toISOString();
    const batch: Batch = {
      id: `bat-${randomUUID()}`,
      config: { job: { type: input.type, configuration_id: input.configurationId } },
      project_id: PROJECT_ID,
      source_directory_id: input.sourceDirectoryId,
      source_files: files.map((file) => file.id),
      status: 'PENDING',
      results: [],
      webhook_configurations: input.webhookConfigurations,
      created_at: now,
      updated_at: now,
    };
    await this.store.batches.save(batch);
    this.webhooks.statusChanged(subject(batch));
    void this.dispatch(batch.id);
    return batch;
  }

  /** Maps each source file to a job, one after another, until done or cancelled. */
  private async dispatch(batchId: string): Promise<void> {
    for (;;) {
      const batch = this.store.batches.get(batchId);
      if (!batch || batch.status === 'CANCELLED' || batch.results.length >= batch.source_files.length) break;
      const sourceId = batch.source_files[batch.results.length]!;
      batch.results.push(await this.startJob(batch, sourceId));
      await this.store.batches.save(batch);
    }
    await this.refresh(batchId);
  }

  private async startJob(batch: Batch, sourceId: string): Promise<Batch['results'][number]> {
    const none = { source_directory_file_id: sourceId, job_reference: null };
    const source = this.store.directoryFiles.get(sourceId);
    if (!source || source.deleted_at || !this.store.files.has(source.file_id))
      return { ...none, error_message: 'Unable to process source file: it was removed from the directory' };
    try {
      const parameters = configurationFor(
        this.store,
        batch.config.job.configuration_id,
        batch.config.job.type,
      );
      const job =
        batch.config.job.type === 'parse_v2'
          ? await this.engine.createParse({
              fileId: source.file_id,
              tier: String(parameters.tier ?? 'cost_effective'),
              version: String(parameters.version ?? 'latest'),
            })
          : await this.engine.createExtract({
              fileInput: source.file_id,
              configuration: parameters,
              configurationId: batch.config.job.configuration_id,
            });
      this.batchOfJob.set(job.id, batch.id);
      return { ...none, job_reference: { id: job.id, type: batch.config.job.type }, error_message: null };
    } catch (error) {
      this.log.warn({ batchId: batch.id, sourceId, err: error }, 'batch file could not be started');
      return { ...none, error_message: `Unable to process source file: ${(error as Error).message}` };
    }
  }

  private async jobChanged(job: WebhookSubject): Promise<void> {
    const batchId = this.batchOfJob.get(job.id);
    if (batchId) await this.refresh(batchId);
  }

  /** Recomputes a batch's status from its jobs; a change is saved and sent to its webhooks. */
  private async refresh(batchId: string): Promise<void> {
    const batch = this.store.batches.get(batchId);
    if (!batch || batch.status === 'CANCELLED') return;
    const status = this.statusOf(batch);
    if (status === batch.status) return;
    batch.status = status;
    batch.updated_at = new Date().toISOString();
    await this.store.batches.save(batch);
    this.webhooks.statusChanged(subject(batch));
  }

  private statusOf(batch: Batch): JobStatus {
    if (batch.results.length < batch.source_files.length) return batch.results.length ? 'RUNNING' : 'PENDING';
    const open = batch.results
      .map((result) =>
        result.job_reference ? this.store.jobs.get(result.job_reference.id)?.status : undefined,
      )
      .filter((status): status is JobStatus => status !== undefined && !TERMINAL.includes(status));
    if (open.length === 0) return 'COMPLETED';
    return open.every((status) => status === 'THROTTLED') ? 'THROTTLED' : 'RUNNING';
  }

  async cancel(batchId: string): Promise<Batch> {
    const batch = this.get(batchId);
    if (TERMINAL.includes(batch.status)) return batch;
    batch.status = 'CANCELLED';
    batch.updated_at = new Date().toISOString();
    await this.store.batches.save(batch);
    for (const result of batch.results)
      if (result.job_reference) await this.engine.cancel(result.job_reference.id);
    this.webhooks.statusChanged(subject(batch));
    return batch;
  }

  get(batchId: string): Batch {
    const batch = this.store.batches.get(batchId);
    if (!batch) throw notFound(`Batch ${batchId}`);
    return batch;
  }

  /** The SDK's view: results (one per source file; no job yet → null reference) on `expand=results`. */
  view(batch: Batch, expand: readonly string[]) {
    const { source_files, results, webhook_configurations, ...rest } = batch;
    if (!expand.includes('results')) return { ...rest, results: null };
    const mapped = new Map(results.map((result) => [result.source_directory_file_id, result]));
    return {
      ...rest,
      results: source_files.map(
        (id) =>
          mapped.get(id) ?? {
            source_directory_file_id: id,
            job_reference: null,
            error_message:
              batch.status === 'CANCELLED' ? 'The batch was cancelled before this file started' : null,
          },
      ),
    };
  }
}

const subject = (batch: Batch) => ({
  kind: 'batch' as const,
  id: batch.id,
  status: batch.status,
  webhook_configurations: batch.webhook_configurations,
  error_message: null,
  created_at: batch.created_at,
});

export function batchRoutes(
  app: express.Express,
  batches: Batches,
  store: CloudStore,
  paginate: Paginate,
  queryList: (value: unknown) => string[],
): void {
  app.post(
    '/api/v2/batches',
    asyncRoute(async (req, res) => {
      const body = parseOr422(
        z.object({
          source_directory_id: z.string().min(1),
          config: z.object({
            job: z.object({ type: z.enum(['parse_v2', 'extract_v2']), configuration_id: z.string().min(1) }),
          }),
          webhook_configurations: z.array(z.record(z.string(), z.unknown())).nullish(),
        }),
        req.body,
      );
      const batch = await batches.create({
        sourceDirectoryId: body.source_directory_id,
        type: body.config.job.type,
        configurationId: body.config.job.configuration_id,
        webhookConfigurations: body.webhook_configurations ?? [],
      });
      res.json(batches.view(batch, []));
    }),
  );

  app.get('/api/v2/batches', (req, res) => {
    const q = req.query;
    const items = store.batches
      .all()
      .filter(
        (b) =>
          (!q.status || b.status === String(q.status)) &&
          (!q.source_directory_id || b.source_directory_id === String(q.source_directory_id)) &&
          (!q.created_at_on_or_after || b.created_at >= String(q.created_at_on_or_after)) &&
          (!q.created_at_on_or_before || b.created_at <= String(q.created_at_on_or_before)),
      )
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    const page = paginate(items, q);
    res.json({ ...page, items: page.items.map((batch) => batches.view(batch, [])) });
  });

  app.get('/api/v2/batches/:id', (req, res) => {
    res.json(batches.view(batches.get(req.params.id), queryList(req.query.expand)));
  });

  app.post(
    '/api/v2/batches/:id/cancel',
    asyncRoute(async (req, res) => {
      res.json(batches.view(await batches.cancel(String(req.params.id)), []));
    }),
  );
}
