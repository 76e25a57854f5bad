import { AmbiguousCreateError, ContractError, type EndpointClass, endpointOf } from '@docpipe/core';
import { type FormData, Pool } from 'undici';
import type { z } from 'zod';
import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  retryAfterMs,
  statusIsRetryable,
} from './retry-policy.js';
import {
  errorForStatus,
  UpstreamNetworkError,
  UpstreamRateLimitedError,
  type UpstreamRequestInfo,
} from './upstream-errors.js';

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  /** Sent as `project_id` / `organization_id` query parameters, as the SDK does. */
  projectId?: string | undefined;
  organizationId?: string | undefined;
  /** Keep-alive connections to the origin. @defaultValue 32 */
  connections?: number;
  /** @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** @defaultValue 60000 */
  headersTimeoutMs?: number;
  /** Idle time between body chunks. @defaultValue 120000 */
  bodyTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Called once per HTTP exchange (each retry counts), for metrics. */
  onRequest?: (event: RequestEvent) => void;
  /**
   * The fleet's shared request budget: every exchange waits for a slot of its endpoint class,
   * and a 429 closes that class for its Retry-After, for every process.
   */
  limiter?: {
    acquire(endpoint: EndpointClass): Promise<unknown>;
    penalize(endpoint: EndpointClass, retryAfterMs: number): Promise<void>;
  };
}

export interface RequestEvent {
  method: string;
  /** Route template, e.g. `GET /api/v2/extract/:id`. */
  route: string;
  /** HTTP status, or 0 when no response arrived. */
  status: number;
  durationMs: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Retries inside this call. `false`: none; errors (including 429 as UpstreamRateLimitedError
   * with its wait) go straight to the caller, for callers whose queue retries instead.
   */
  retries?: boolean | number;
}

export type Query = Record<string, string | number | boolean | readonly string[] | undefined | null>;

export interface RequestSpec<T extends z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** Route template for metrics; defaults to `path`. */
  route: string;
  query?: Query;
  json?: unknown;
  form?: () => FormData;
  /**
   * Whether repeating the request is harmless. A non-idempotent request (a create) that may have
   * reached the server before failing raises AmbiguousCreateError instead of being resent.
   */
  idempotent: boolean;
  /** Response schema; undefined for empty responses. */
  schema?: T;
}

/** Network failures that happened before the request could have reached the server. */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Serialises a query the way the SDK does: arrays as repeated keys (`job_ids=a&job_ids=b`). */
export function encodeQuery(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * HTTP to one LlamaCloud origin over a keep-alive undici pool: auth, timeouts, retries with the
 * SDK's rules, error classification and response validation in one place.
 */
export class Transport {
  private readonly pool: Pool;
  private readonly retry: RetryPolicy;
  private readonly origin: string;
  private readonly basePath: string;

  constructor(private readonly options: TransportOptions) {
    const url = new URL(options.baseUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/$/, '');
    this.pool = new Pool(this.origin, {
      connections: options.connections ?? 32,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      headersTimeout: options.headersTimeoutMs ?? 60_000,
      bodyTimeout: options.bodyTimeoutMs ?? 120_000,
      keepAliveTimeout: 30_000,
    });
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  async request<T extends z.ZodType>(spec: RequestSpec<T>, call: CallOptions = {}): Promise<z.output<T>> {
    const maxRetries =
      call.retries === false
        ? 0
        : call.retries === true || call.retries === undefined
          ? this.retry.maxRetries
          : call.retries;
    const query = {
      organization_id: this.options.organizationId,
      project_id: this.options.projectId,
      ...spec.query,
    };
    const path = `${this.basePath}${spec.path}${encodeQuery(query)}`;
    const endpoint = endpointOf(spec.method, spec.route);
    for (let attempt = 0; ; attempt++) {
      await this.options.limiter?.acquire(endpoint);
      const info: UpstreamRequestInfo = { method: spec.method, path: spec.path };
      const started = performance.now();
      let status = 0;
      try {
        const headers: Record<string, string> = {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/json',
        };
        let body: string | FormData | undefined;
        if (spec.json !== undefined) {
          headers['content-type'] = 'application/json';
          body = JSON.stringify(spec.json);
        } else if (spec.form) {
          body = spec.form();
        }
        const response = await this.pool.request({
          method: spec.method,
          path,
          headers,
          body: body ?? null,
          signal: call.signal ?? null,
        });
        status = response.statusCode;
        const text = await response.body.text();
        if (status >= 200 && status < 300) {
          this.report(spec, status, started);
          return spec.schema ? this.validate(spec, text) : (undefined as z.output<T>);
        }
        const requestId =
          header(response.headers, 'x-request-id') ?? header(response.headers, 'x-correlation-id');
        Object.assign(info, { status, bodyExcerpt: text.slice(0, 500), ...(requestId ? { requestId } : {}) });
        const wait = retryAfterMs(response.headers);
        const error = errorForStatus(info as UpstreamRequestInfo & { status: number }, wait);
        this.report(spec, status, started);
        if (error instanceof UpstreamRateLimitedError)
          await this.options.limiter?.penalize(endpoint, error.retryAfterMs);
        const retryable = statusIsRetryable(status, header(response.headers, 'x-should-retry'));
        if (!retryable || attempt >= maxRetries) throw error;
        if (error instanceof UpstreamRateLimitedError && error.retryAfterMs > this.retry.maxRetryAfterMs)
          throw error;
        await sleep(
          wait !== undefined ? Math.min(wait, this.retry.maxRetryAfterMs) : backoffMs(attempt, this.retry),
          call.signal,
        );
      } catch (error) {
        if (status !== 0) throw error; // an HTTP answer, already classified above
        this.report(spec, 0, started);
        if (call.signal?.aborted) throw call.signal.reason ?? error;
        const code = (error as { code?: string }).code ?? '';
        const mayHaveArrived = !NEVER_SENT.has(code);
        if (!spec.idempotent && mayHaveArrived) {
          throw new AmbiguousCreateError(
            `${spec.method} ${spec.path} may have reached LlamaCloud before failing (${code || (error as Error).message}); ` +
              'look the job up before creating another',
            { code: 'ambiguous_create', cause: error, details: { ...info } },
          );
        }
        if (attempt >= maxRetries) throw new UpstreamNetworkError(info, { cause: error });
        await sleep(backoffMs(attempt, this.retry), call.signal);
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private validate<T extends z.ZodType>(spec: RequestSpec<T>, text: string): z.output<T> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ContractError(
        `${spec.method} ${spec.path} answered with a body that is not JSON: ${text.slice(0, 200)}`,
        '(root)',
      );
    }
    const parsed = spec.schema!.safeParse(json);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(root)';
    throw new ContractError(
      `${spec.method} ${spec.route} answered with an unexpected shape at ${where}: ${issue.message}`,
      where,
    );
  }

  private report(spec: RequestSpec<z.ZodType>, status: number, started: number): void {
    this.options.onRequest?.({
      method: spec.method,
      route: `${spec.method} ${spec.route}`,
      status,
      durationMs: performance.now() - started,
    });
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
