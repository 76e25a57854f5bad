import { type DocpipeErrorOptions, PermanentError, RateLimitedError, TransientError } from '@docpipe/core';

/** What every upstream error says about the request that failed (never the API key). */
export interface UpstreamRequestInfo {
  method: string;
  /** Path without query, e.g. `/api/v2/extract/ext-…`. */
  path: string;
  status?: number;
  requestId?: string;
  /** The first 500 characters of the response body. */
  bodyExcerpt?: string;
}

const describe = (info: UpstreamRequestInfo) =>
  `${info.method} ${info.path}${info.status ? ` → ${info.status}` : ''}${info.requestId ? ` (request ${info.requestId})` : ''}`;

const withBody = (info: UpstreamRequestInfo) => (info.bodyExcerpt ? `: ${info.bodyExcerpt}` : '');

function withInfo(info: UpstreamRequestInfo, options: DocpipeErrorOptions): DocpipeErrorOptions {
  return { ...options, details: { ...info, ...options.details } };
}

/** The upstream failed in a way worth retrying: 5xx, 408, 409. */
export class UpstreamUnavailableError extends TransientError {
  constructor(
    readonly info: UpstreamRequestInfo,
    options: DocpipeErrorOptions = {},
  ) {
    super(
      `LlamaCloud is unavailable: ${describe(info)}${withBody(info)}`,
      withInfo(info, { code: 'upstream_unavailable', ...options }),
    );
  }
}

/** The request never got an answer: refused, reset, timed out. */
export class UpstreamNetworkError extends TransientError {
  constructor(
    readonly info: UpstreamRequestInfo,
    options: DocpipeErrorOptions = {},
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : 'network error';
    super(
      `Cannot reach LlamaCloud: ${describe(info)}: ${reason}`,
      withInfo(info, { code: 'upstream_network', ...options }),
    );
  }
}

/** LlamaCloud refused the request (4xx): retrying the same request cannot help. */
export class UpstreamRejectedError extends PermanentError {
  constructor(
    readonly info: UpstreamRequestInfo,
    options: DocpipeErrorOptions = {},
  ) {
    super(
      `LlamaCloud rejected the request: ${describe(info)}${withBody(info)}`,
      withInfo(info, { code: 'upstream_rejected', ...options }),
    );
  }
}

/** 401/403: the API key is missing, wrong or lacks access. Fix LLAMA_CLOUD_API_KEY. */
export class UpstreamAuthError extends UpstreamRejectedError {
  constructor(info: UpstreamRequestInfo) {
    super(info, { code: 'upstream_auth' });
    this.message = `LlamaCloud refused the API key (${describe(info)}): check LLAMA_CLOUD_API_KEY and its project access`;
  }
}

/** 404: the file or job does not exist (or no longer: an ephemeral upstream forgot it). */
export class UpstreamNotFoundError extends UpstreamRejectedError {
  constructor(info: UpstreamRequestInfo) {
    super(info, { code: 'upstream_not_found' });
  }
}

/** 429 from LlamaCloud, carrying how long to wait. */
export class UpstreamRateLimitedError extends RateLimitedError {
  constructor(
    readonly info: UpstreamRequestInfo,
    retryAfterMs: number,
  ) {
    super(
      `LlamaCloud rate limit: ${describe(info)}; retry after ${Math.round(retryAfterMs)} ms`,
      retryAfterMs,
      withInfo(info, {}),
    );
  }
}

/** The one place an HTTP status becomes an error class. */
export function errorForStatus(
  info: UpstreamRequestInfo & { status: number },
  retryAfterMs: number | undefined,
): Error {
  const { status } = info;
  if (status === 429) return new UpstreamRateLimitedError(info, retryAfterMs ?? 1000);
  if (status === 401 || status === 403) return new UpstreamAuthError(info);
  if (status === 404) return new UpstreamNotFoundError(info);
  if (status === 408 || status === 409 || status >= 500) return new UpstreamUnavailableError(info);
  return new UpstreamRejectedError(info);
}
