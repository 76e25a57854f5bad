import { createHash } from 'node:crypto';
import type { Logger } from '@docpipe/core';
import { EXTRACT_CREDITS_PER_PAGE, PARSE_CREDITS_PER_PAGE } from '@docpipe/core';
import type { ParsePool } from './documents/parse-pool.js';
import type { ParsedPage } from './documents/parsed-document.js';
import { extractFromPages, extractTableRows } from './extraction/extract-engine.js';
import type { Simulation } from './simulation.js';
import {
  type CloudStore,
  type ExtractJob,
  type Job,
  type JobStatus,
  newExtractJobId,
  newParseJobId,
  type ParseJob,
} from './store.js';
import type { WebhookDelivery } from './webhook-delivery.js';

export const TERMINAL: readonly JobStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export class JobInputError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 422,
  ) {
    super(message);
  }
}

const stableJson = (value: unknown): string =>
  JSON.stringify(value, (_key, inner) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
const dedupeKey = (...parts: unknown[]) => createHash('sha256').update(stableJson(parts)).digest('hex');

/**
 * Runs parse and extract jobs: PENDING → (THROTTLED) → RUNNING → COMPLETED | FAILED | CANCELLED.
 * The real work (parsing, extraction) happens at once; the simulated latency is then waited out,
 * so a job is never done sooner than its work allows nor than the simulation says.
 * At most `capacity` extract jobs run at once; the rest wait THROTTLED in arrival order.
 */
export class JobEngine {
  private readonly running = new Set<string>();
  private readonly throttled: string[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly parsedFiles = new Map<string, ParsedPage[] | string>();
  private closed = false;

  constructor(
    private readonly store: CloudStore,
    private readonly sim: Simulation,
    private readonly pool: ParsePool,
    private readonly log: Logger,
    private readonly webhooks: WebhookDelivery,
  ) {}

  /** After a restart, jobs that were under way start over, as the real service resumes them. */
  resume(): void {
    const unfinished = [...this.store.jobs.values()]
      .filter((job) => !TERMINAL.includes(job.status))
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
    for (const job of unfinished) {
      job.status = 'PENDING';
      if (job.kind === 'extract') job.throttled_since = null;
      this.schedule(job);
    }
  }

  async createParse(input: {
    fileId: string;
    tier: string;
    version: string;
    name?: string | null;
    userMetadata?: Record<string, string> | null;
    pageRanges?: { max_pages?: number | null | undefined; target_pages?: string | null | undefined } | null;
    webhookConfigurations?: unknown[];
  }): Promise<ParseJob> {
    const file = this.store.files.get(input.fileId);
    if (!file) throw new JobInputError(`File ${input.fileId} not found`, 404);
    const now = new Date().toISOString();
    const job: ParseJob = {
      kind: 'parse',
      id: newParseJobId(),
      status: 'PENDING',
      created_at: now,
      updated_at: now,
      error_message: null,
      dedupe_key: dedupeKey('parse', input.fileId, input.tier, input.version, input.pageRanges ?? null),
      webhook_configurations: input.webhookConfigurations ?? [],
      pages: null,
      credits: null,
      file_id: input.fileId,
      tier: input.tier,
      version: input.version,
      name: input.name ?? file.name,
      user_metadata: input.userMetadata ?? null,
      page_ranges: input.pageRanges ?? null,
      result: null,
    };
    this.sim.countJob('parse', job.dedupe_key);
    await this.store.saveJob(job);
    this.webhooks.statusChanged(job);
    this.schedule(job);
    return job;
  }

  async createExtract(input: {
    fileInput: string;
    configuration: Record<string, unknown>;
    configurationId?: string | null;
    webhookConfigurations?: unknown[];
  }): Promise<ExtractJob> {
    if (input.fileInput.startsWith('pjb-')) {
      if (!this.store.jobs.has(input.fileInput))
        throw new JobInputError(`Parse job ${input.fileInput} not found`, 404);
    } else if (!this.store.files.has(input.fileInput)) {
      throw new JobInputError(`File ${input.fileInput} not found`, 404);
    }
    const now = new Date().toISOString();
    const job: ExtractJob = {
      kind: 'extract',
      id: newExtractJobId(),
      status: 'PENDING',
      created_at: now,
      updated_at: now,
      error_message: null,
      dedupe_key: dedupeKey('extract', input.fileInput, input.configuration, input.configurationId ?? null),
      webhook_configurations: input.webhookConfigurations ?? [],
      pages: null,
      credits: null,
      file_input: input.fileInput,
      configuration: input.configuration,
      configuration_id: input.configurationId ?? null,
      extract_result: null,
      field_metadata: null,
      parse_job_id: input.fileInput.startsWith('pjb-') ? input.fileInput : null,
      throttled_ms: 0,
      throttled_since: null,
    };
    this.sim.countJob('extract', job.dedupe_key);
    await this.store.saveJob(job);
    this.webhooks.statusChanged(job);
    this.schedule(job);
    return job;
  }

  async cancel(id: string): Promise<Job | undefined> {
    const job = this.store.jobs.get(id);
    if (!job) return undefined;
    if (!TERMINAL.includes(job.status)) await this.finish(job, 'CANCELLED', null);
    return job;
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(job: Job): void {
    if (job.kind === 'parse') {
      this.defer(() => this.runParse(job));
      return;
    }
    this.admit(job);
  }

  private admit(job: ExtractJob): void {
    const capacity = this.sim.config.capacity;
    if (capacity > 0 && this.running.size >= capacity) {
      job.status = 'THROTTLED';
      job.throttled_since = Date.now();
      this.throttled.push(job.id);
      void this.touch(job);
      return;
    }
    // RUNNING exactly while the job holds a slot.
    this.running.add(job.id);
    this.sim.stats.peakRunning = Math.max(this.sim.stats.peakRunning, this.running.size);
    job.status = 'RUNNING';
    void this.touch(job);
    this.defer(() => this.runExtract(job));
  }

  private releaseSlot(job: Job): void {
    if (!this.running.delete(job.id)) return;
    while (this.throttled.length > 0) {
      const next = this.store.jobs.get(this.throttled.shift()!);
      if (next?.kind !== 'extract' || next.status !== 'THROTTLED') continue;
      if (next.throttled_since !== null) {
        next.throttled_ms += Date.now() - next.throttled_since;
        this.sim.stats.throttledMs += Date.now() - next.throttled_since;
        next.throttled_since = null;
      }
      next.status = 'PENDING';
      this.admit(next);
      break;
    }
  }

  private async runParse(job: ParseJob): Promise<void> {
    if (job.status !== 'PENDING') return;
    const started = Date.now();
    job.status = 'RUNNING';
    await this.touch(job);
    const file = this.store.files.get(job.file_id);
    const pages = await this.pagesOfFile(job.file_id);
    if (typeof pages === 'string') {
      await this.finish(job, 'FAILED', pages);
      return;
    }
    const selected = selectPages(pages, job.page_ranges?.target_pages, job.page_ranges?.max_pages);
    await this.waitLatency(job, started, job.tier, selected.length);
    if (job.status !== 'RUNNING') return;
    const rule = file ? this.sim.fileRuleFor(file.name) : undefined;
    if (rule) {
      await this.finish(job, rule.status, rule.message);
      return;
    }
    job.result = selected;
    job.pages = selected.length;
    job.credits = selected.length * (PARSE_CREDITS_PER_PAGE[job.tier] ?? 3);
    await this.finish(job, 'COMPLETED', null);
  }

  private async runExtract(job: ExtractJob): Promise<void> {
    if (job.status !== 'RUNNING') {
      this.releaseSlot(job); // cancelled before it started
      return;
    }
    const started = Date.now();
    const configuration = job.configuration;
    const tier = String(configuration.tier ?? 'cost_effective');
    const source = await this.sourceOf(job);
    if (typeof source === 'string') {
      await this.finish(job, 'FAILED', source);
      return;
    }
    const pages = selectPages(source.pages, configuration.target_pages, configuration.max_pages);
    if (pages.length === 0) {
      await this.finish(
        job,
        'FAILED',
        `target_pages "${String(configuration.target_pages)}" selects none of the document's ${source.pages.length} pages`,
      );
      return;
    }
    const target = configuration.extraction_target ?? 'per_doc';
    const schema = configuration.data_schema as Parameters<typeof extractFromPages>[1];
    let result: unknown;
    let fieldMetadata: Record<string, unknown>;
    if (target === 'per_page') {
      const perPage = pages.map((page) => extractFromPages([page], schema));
      result = perPage.map((output) => output.data);
      fieldMetadata = { page_metadata: perPage.map((output) => output.fieldMetadata) };
    } else if (target === 'per_doc') {
      const output = extractFromPages(pages, schema);
      result = output.data;
      fieldMetadata = { document_metadata: output.fieldMetadata };
    } else {
      const rows = extractTableRows(pages, schema);
      result = rows.map((row) => row.data);
      fieldMetadata = { row_metadata: rows.map((row) => row.fieldMetadata) };
    }
    await this.waitLatency(job, started, tier, pages.length);
    if (job.status !== 'RUNNING') return;
    const rule = source.fileName ? this.sim.fileRuleFor(source.fileName) : undefined;
    if (rule) {
      await this.finish(job, rule.status, rule.message);
      return;
    }
    job.extract_result = result;
    job.field_metadata = fieldMetadata;
    job.pages = pages.length;
    job.credits = pages.length * (EXTRACT_CREDITS_PER_PAGE[tier] ?? 5);
    await this.finish(job, 'COMPLETED', null);
  }

  private async sourceOf(job: ExtractJob): Promise<{ pages: ParsedPage[]; fileName?: string } | string> {
    if (job.file_input.startsWith('pjb-')) {
      const parse = this.store.jobs.get(job.file_input);
      if (parse?.kind !== 'parse') return `Parse job ${job.file_input} not found`;
      if (parse.status !== 'COMPLETED' || !parse.result) {
        return `Parse job ${job.file_input} is ${parse.status}, not COMPLETED; extract from a completed parse job`;
      }
      const fileName = this.store.files.get(parse.file_id)?.name;
      return { pages: parse.result, ...(fileName ? { fileName } : {}) };
    }
    const pages = await this.pagesOfFile(job.file_input);
    if (typeof pages === 'string') return pages;
    const fileName = this.store.files.get(job.file_input)?.name;
    return { pages, ...(fileName ? { fileName } : {}) };
  }

  /** Parses a stored file once and remembers the outcome (pages, or the failure message). */
  async pagesOfFile(fileId: string): Promise<ParsedPage[] | string> {
    const cached = this.parsedFiles.get(fileId);
    if (cached) return cached;
    const file = this.store.files.get(fileId);
    const bytes = await this.store.fileBytes(fileId);
    if (!file || !bytes) return `File ${fileId} not found`;
    const outcome = await this.pool.parse(file.name, bytes);
    const pages = outcome.ok ? outcome.document.pages : outcome.message;
    if (this.parsedFiles.size > 1000) this.parsedFiles.clear();
    this.parsedFiles.set(fileId, pages);
    return pages;
  }

  private async waitLatency(_job: Job, started: number, tier: string, pages: number): Promise<void> {
    const latency = this.sim.latencyMs(tier, pages);
    const remaining = latency - (Date.now() - started);
    if (remaining > 0) await new Promise<void>((resolve) => this.defer(resolve, remaining));
    else if (latency > 0) {
      // The real work took longer than the simulated latency: this machine, not the model, set
      // the job's duration (the time scale is too fast for it). Benchmarks report it.
      this.sim.stats.overrunJobs++;
      this.sim.stats.overrunMs -= remaining;
    }
  }

  private async finish(job: Job, status: JobStatus, message: string | null): Promise<void> {
    if (job.kind === 'extract' && job.status === 'THROTTLED' && job.throttled_since !== null) {
      job.throttled_ms += Date.now() - job.throttled_since;
      this.sim.stats.throttledMs += Date.now() - job.throttled_since;
      job.throttled_since = null;
    }
    job.status = status;
    job.error_message = message;
    if (status === 'COMPLETED') this.sim.stats.creditsBilled += job.credits ?? 0;
    await this.touch(job);
    this.releaseSlot(job);
    this.log.debug({ jobId: job.id, kind: job.kind, status, message }, 'job finished');
  }

  private async touch(job: Job): Promise<void> {
    job.updated_at = new Date().toISOString();
    if (this.store.jobs.has(job.id)) await this.store.saveJob(job);
    this.webhooks.statusChanged(job);
  }

  private defer(fn: () => void | Promise<void>, delayMs = 0): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      Promise.resolve(fn()).catch((error: unknown) => this.log.error({ err: error }, 'job step failed'));
    }, delayMs);
    this.timers.add(timer);
  }
}

/** `target_pages` ("1,3,5-7", 1-based) and `max_pages` applied to parsed pages. */
export function selectPages(pages: ParsedPage[], targetPages: unknown, maxPages: unknown): ParsedPage[] {
  let selected = pages;
  if (typeof targetPages === 'string' && targetPages.trim()) {
    const wanted = new Set<number>();
    for (const part of targetPages.split(',')) {
      const [from, to] = part.split('-').map((n) => Number.parseInt(n.trim(), 10));
      if (from === undefined || Number.isNaN(from)) continue;
      for (let page = from; page <= (to === undefined || Number.isNaN(to) ? from : to); page++)
        wanted.add(page);
    }
    selected = pages.filter((page) => wanted.has(page.pageNumber));
  }
  if (typeof maxPages === 'number' && maxPages > 0) selected = selected.slice(0, maxPages);
  return selected;
}
