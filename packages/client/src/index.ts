import { createHmac, timingSafeEqual } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { EventSourceParserStream } from 'eventsource-parser/stream';

/** One document to enqueue: a local path (streamed), bytes, a stream, or a URL the API fetches. */
export type FileInput = (
  | { path: string; name?: string }
  | { buffer: Uint8Array; name: string }
  | { stream: Readable | ReadableStream<Uint8Array>; name: string }
  | { url: string; name?: string }
) & { metadata?: Record<string, unknown> };

export interface Extraction {
  name: string;
  data_schema?: Record<string, unknown>;
  configuration_id?: string;
  tier?: 'cost_effective' | 'agentic' | 'agentic_plus' | 'turbo';
  extraction_target?: 'per_doc' | 'per_page' | 'per_table_row';
  target_pages?: string;
  cite_sources?: boolean;
  confidence_scores?: boolean;
}

export interface EnqueueInput {
  files: FileInput[];
  extract: Extraction[];
  parse?: { tier?: 'fast' | 'cost_effective' | 'agentic' | 'agentic_plus'; version?: string };
  callbackUrl?: string;
  /** The same key returns the same batch instead of creating another. */
  idempotencyKey?: string;
  /** 1 (most urgent) … 10, default 5: a small urgent batch overtakes a large one. */
  priority?: number;
  /**
   * The most credits the batch may spend: each file holds its expected cost before its first
   * remote job, and files the budget cannot pay for end `skipped` with reason `budget`.
   */
  budgetCredits?: number;
}

export type FileState =
  | 'queued'
  | 'uploading'
  | 'parsing'
  | 'extracting'
  | 'completed'
  | 'failed'
  | 'skipped'
  | 'cancelled';

export interface Batch {
  id: string;
  status: 'running' | 'completed' | 'completed_with_errors' | 'cancelled';
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  counters: { total: number } & Record<FileState, number>;
  progress: { finished: number; percent: number };
  eta_seconds: number | null;
  credits_used: number;
  /** Credits held for files still running (batches with a budget). */
  credits_reserved: number;
  budget_credits: number | null;
  sequence: number;
  priority: number;
  cancel_requested: boolean;
  callback_url: string | null;
  idempotency_key: string | null;
}

export interface FileError {
  stage: string;
  code: string;
  message: string;
  attempt?: number;
  remote_id?: string;
}

export interface BatchFile {
  id: string;
  batch_id: string;
  ordinal: number;
  name: string;
  state: FileState;
  round: number;
  size_bytes: number;
  sha256: string;
  metadata: Record<string, unknown>;
  remote: { file_id: string | null; parse_job_id: string | null };
  error: FileError | null;
  /** The queue family holding its jobs (Bull Board: `family<k>-<stage>` when there are several). */
  queue_family: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/** One line of the results stream: the result of one file and extraction. */
export interface Result {
  batch_id: string;
  file_id: string;
  file_name: string;
  schema: string;
  status: 'completed' | 'failed';
  data: unknown;
  citations: Record<string, unknown> | null;
  confidence: Record<string, unknown> | null;
  usage: { pages: number | null; credits: number | null };
  remote: { file_id: string | null; parse_job_id: string | null; extract_job_id: string | null };
  attempts: number;
  timings: { queued_at: string; started_at: string | null; finished_at: string };
  validation?: { valid: false; errors: string[] };
  error?: FileError;
}

/** An answer of the API that is not a success, with its `{error: {code, message, details}}`. */
export class DocpipeApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(`${message} (HTTP ${status}, ${code})`);
    this.name = 'DocpipeApiError';
  }
}

const TERMINAL = new Set(['completed', 'completed_with_errors', 'cancelled']);

export interface ClientOptions {
  /** The API's origin, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** One of the API's API_KEYS; omit when the API has none (loopback only). */
  apiKey?: string;
}

/**
 * The docpipe producer SDK: enqueue documents, follow a batch, read its results.
 *
 *   const docpipe = new DocpipeClient({ baseUrl, apiKey });
 *   const batch = await docpipe.enqueue({ files: [{ path: 'invoice.pdf' }], extract: [{ name: 'invoice', data_schema }] });
 *   await docpipe.waitForCompletion(batch.id);
 *   for await (const result of docpipe.results(batch.id)) console.log(result.data);
 */
export class DocpipeClient {
  private readonly baseUrl: string;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.options.apiKey) headers.set('authorization', `Bearer ${this.options.apiKey}`);
    const response = await fetch(`${this.baseUrl}${path}`, { ...init, headers });
    if (response.ok) return response;
    const text = await response.text();
    let error: { code?: string; message?: string; details?: unknown } = {};
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
    } catch {}
    throw new DocpipeApiError(
      response.status,
      error.code ?? 'http_error',
      error.message ?? text,
      error.details,
    );
  }

  private async json<T>(path: string, init?: RequestInit): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }

  /**
   * Creates a batch. Local files (paths, bytes, streams) go as one multipart request, paths
   * streamed from disk; URL files go as JSON and the API fetches them. A batch holds either
   * kind, not both (send two batches).
   */
  async enqueue(input: EnqueueInput): Promise<Batch> {
    const options = {
      extract: input.extract,
      ...(input.parse ? { parse: input.parse } : {}),
      ...(input.callbackUrl ? { callback_url: input.callbackUrl } : {}),
      ...(input.idempotencyKey ? { idempotency_key: input.idempotencyKey } : {}),
      ...(input.priority !== undefined ? { priority: input.priority } : {}),
      ...(input.budgetCredits !== undefined ? { budget_credits: input.budgetCredits } : {}),
    };
    const urls = input.files.filter((file) => 'url' in file);
    if (urls.length === input.files.length) {
      return this.json<Batch>('/v1/batches', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          ...options,
          files: urls.map((file) => ({
            url: file.url,
            ...(file.name ? { name: file.name } : {}),
            ...(file.metadata ? { metadata: file.metadata } : {}),
          })),
        }),
      });
    }
    if (urls.length > 0) throw new TypeError('send URL files and local files in separate batches');
    const form = new FormData();
    form.append(
      'spec',
      JSON.stringify({ ...options, files: input.files.map((f) => ({ metadata: f.metadata })) }),
    );
    for (const file of input.files) {
      if ('path' in file) form.append('file', await openAsBlob(file.path), file.name ?? basename(file.path));
      else if ('buffer' in file) form.append('file', new Blob([file.buffer]), file.name);
      else if ('stream' in file) form.append('file', await streamToBlob(file.stream), file.name);
    }
    return this.json<Batch>('/v1/batches', { method: 'POST', body: form });
  }

  get(batchId: string): Promise<Batch> {
    return this.json(`/v1/batches/${encodeURIComponent(batchId)}`);
  }

  getFile(fileId: string): Promise<BatchFile> {
    return this.json(`/v1/files/${encodeURIComponent(fileId)}`);
  }

  /** Every file of a batch (optionally in one state), page by page. */
  async *files(batchId: string, options: { state?: FileState } = {}): AsyncGenerator<BatchFile> {
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: '500' });
      if (options.state) query.set('state', options.state);
      if (cursor) query.set('cursor', cursor);
      const page: { items: BatchFile[]; next_cursor: string | null } = await this.json(
        `/v1/batches/${encodeURIComponent(batchId)}/files?${query}`,
      );
      yield* page.items;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /** The results of a batch, one per file and extraction, streamed as they are read. */
  async *results(batchId: string): AsyncGenerator<Result> {
    const response = await this.request(`/v1/batches/${encodeURIComponent(batchId)}/results`);
    let buffered = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) yield JSON.parse(line) as Result;
    }
    if (buffered.trim()) yield JSON.parse(buffered) as Result;
  }

  /**
   * Resolves with the batch once it is completed, completed with errors, or cancelled. Follows
   * the batch's event stream; if the stream breaks, polls every `pollMs` instead.
   */
  async waitForCompletion(
    batchId: string,
    options: { timeoutMs?: number; pollMs?: number; onProgress?: (batch: Batch) => void } = {},
  ): Promise<Batch> {
    const deadline = Date.now() + (options.timeoutMs ?? 24 * 3600_000);
    const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
    try {
      const done = await this.followEvents(batchId, signal, options.onProgress);
      if (done) return done;
    } catch (error) {
      if (error instanceof DocpipeApiError) throw error;
    }
    for (;;) {
      const batch = await this.get(batchId);
      options.onProgress?.(batch);
      if (TERMINAL.has(batch.status)) return batch;
      if (Date.now() > deadline)
        throw new Error(`batch ${batchId} not finished after ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 2000));
    }
  }

  private async followEvents(batchId: string, signal: AbortSignal, onProgress?: (batch: Batch) => void) {
    const response = await this.request(`/v1/batches/${encodeURIComponent(batchId)}/events`, {
      headers: { accept: 'text/event-stream' },
      signal,
    });
    const events = (response.body as ReadableStream<Uint8Array>)
      .pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>)
      .pipeThrough(new EventSourceParserStream());
    for await (const event of events as unknown as AsyncIterable<{ event?: string; data: string }>) {
      if (event.event !== 'progress') continue;
      const batch = JSON.parse(event.data) as Batch;
      onProgress?.(batch);
      if (TERMINAL.has(batch.status)) {
        await response.body?.cancel().catch(() => {});
        return batch;
      }
    }
    return undefined;
  }

  /** Retries the failed files of a batch (all, or the given ones), each from where it failed. */
  retryFailed(batchId: string, fileIds?: string[]) {
    return this.json<{ retried: { upload: number; parse: number; extract: number }; batch: Batch }>(
      `/v1/batches/${encodeURIComponent(batchId)}/retry-failed`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(fileIds ? { file_ids: fileIds } : {}),
      },
    );
  }

  /** Cancels what is not finished yet; finished files keep their results. */
  cancel(batchId: string) {
    return this.json<{ cancelled: number; remote_cancelled: number; batch: Batch }>(
      `/v1/batches/${encodeURIComponent(batchId)}/cancel`,
      { method: 'POST' },
    );
  }
}

/**
 * Checks the `X-Docpipe-Signature` header of a batch completion callback: `sha256=<hex
 * HMAC-SHA256 of the raw body>` with CALLBACK_SIGNING_SECRET. Pass the body exactly as received.
 */
export function verifyCallbackSignature(
  secret: string,
  rawBody: string | Uint8Array,
  header: string | undefined,
) {
  if (!header?.startsWith('sha256=')) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(rawBody).digest('hex'));
  const given = Buffer.from(header.slice('sha256='.length));
  return expected.length === given.length && timingSafeEqual(expected, given);
}

async function streamToBlob(stream: Readable | ReadableStream<Uint8Array>): Promise<Blob> {
  const parts: Uint8Array[] = [];
  const readable = stream instanceof Readable ? stream : Readable.fromWeb(stream as never);
  for await (const chunk of readable) parts.push(chunk as Uint8Array);
  return new Blob(parts);
}
