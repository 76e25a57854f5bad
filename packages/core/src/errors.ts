/**
 * The error hierarchy every docpipe package throws. An error carries the decision the queue has
 * to make (retry, pause, give up), so callers match on the class or on `name`, which survives
 * process boundaries (BullMQ stores only name and message of a failed job).
 */

export interface DocpipeErrorOptions {
  cause?: unknown;
  /** Machine-readable code, stable across releases (`upload_too_large`, `remote_failed` …). */
  code?: string;
  details?: Record<string, unknown>;
}

export class DocpipeError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, options: DocpipeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = this.constructor.name;
    this.code = options.code ?? 'error';
    this.details = options.details;
  }
}

/** Worth retrying with backoff: network errors, timeouts, 5xx, Redis briefly away. */
export class TransientError extends DocpipeError {}

/** Retrying cannot help: invalid input, unsupported or corrupt file, remote job FAILED. */
export class PermanentError extends DocpipeError {}

/** The upstream said "slow down". Not a failure: the queue pauses for `retryAfterMs`. */
export class RateLimitedError extends TransientError {
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, options: DocpipeErrorOptions = {}) {
    super(message, { code: 'rate_limited', ...options });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * A create request may or may not have reached the server (timeout or reset after the body was
 * sent). The caller must look the remote job up before creating another one.
 */
export class AmbiguousCreateError extends TransientError {}

/** The upstream answered with a shape that breaks the API contract; `path` names the field. */
export class ContractError extends PermanentError {
  readonly path: string;

  constructor(message: string, path: string, options: DocpipeErrorOptions = {}) {
    super(message, { code: 'contract_violation', ...options });
    this.path = path;
  }
}

/** One or more environment variables are missing or invalid; the message lists every one. */
export class ConfigError extends DocpipeError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.variable}: ${p.message}`);
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      {
        code: 'invalid_config',
      },
    );
    this.problems = problems;
  }
}

export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Redis cannot be reached; the message names the URL and what to do. */
export class RedisUnavailableError extends TransientError {}

/** A state change that the state machine does not allow (for example completed → uploading). */
export class IllegalTransitionError extends PermanentError {}

/** A record (batch, file) that does not exist. */
export class NotFoundError extends PermanentError {}

/** An operation that conflicts with the record's state or with one already in progress. */
export class ConflictError extends PermanentError {}

/** A blob larger than the store's limit; nothing was stored. */
export class BlobTooLargeError extends PermanentError {
  constructor(limitBytes: number, options: DocpipeErrorOptions = {}) {
    super(`File is larger than the limit of ${limitBytes} bytes (BLOB_MAX_BYTES)`, {
      code: 'file_too_large',
      ...options,
      details: { limitBytes, ...options.details },
    });
  }
}

/**
 * Whether an error is worth retrying. Unknown errors (a bug, a library's plain Error) count as
 * transient so that the bounded attempts of the queue decide, and are logged with their stack.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof PermanentError) return false;
  if (error instanceof DocpipeError) return error instanceof TransientError;
  return true;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
