import {
  BlobTooLargeError,
  ConflictError,
  DocpipeError,
  IllegalTransitionError,
  type Logger,
  NotFoundError,
} from '@docpipe/core';
import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';

/**
 * An error a client caused or may act on, answered as `{error: {code, message, details}}`.
 * Everything else is logged and answered as a 500 without internals.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A 400 naming every bad field by its path (`files.2.url`). */
export function invalidRequest(error: z.ZodError, where = 'body'): ApiError {
  const fields = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  const summary = fields.map((f) => `${f.path}: ${f.message}`).join('; ');
  return new ApiError(400, 'invalid_request', `invalid ${where}: ${summary}`, { fields });
}

/** Parses `input` with `schema`, or throws a 400 naming each bad field. */
export function parseOr400<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalidRequest(parsed.error, where);
  return parsed.data;
}

function asApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof NotFoundError) return new ApiError(404, error.code, error.message);
  if (error instanceof BlobTooLargeError) return new ApiError(413, error.code, error.message, error.details);
  if (error instanceof ConflictError || error instanceof IllegalTransitionError)
    return new ApiError(409, error.code, error.message);
  // Express's own body parsers: malformed JSON, body too large, unsupported charset.
  const status = (error as { status?: number }).status;
  const type = (error as { type?: string }).type;
  if (status === 400 && type === 'entity.parse.failed')
    return new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  if (status === 413) return new ApiError(413, 'body_too_large', (error as Error).message);
  if (status === 415) return new ApiError(415, 'unsupported_media_type', (error as Error).message);
  if (status && status >= 400 && status < 500)
    return new ApiError(status, 'bad_request', (error as Error).message);
  if (error instanceof DocpipeError && error.code === 'invalid_config')
    return new ApiError(500, error.code, error.message);
  return undefined;
}

export function errorMiddleware(log: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const known = asApiError(error);
    if (known) {
      if (known.status >= 500) log.error({ err: error, path: req.path }, 'request failed');
      res
        .status(known.status)
        .set(known.headers)
        .json({ error: { code: known.code, message: known.message, details: known.details ?? null } });
      return;
    }
    log.error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(500).json({
      error: { code: 'internal', message: 'internal error; the server log has the details', details: null },
    });
  };
}

export const asyncRoute =
  (handler: (req: Request, res: Response) => Promise<unknown>) =>
  (req: Request, res: Response, next: NextFunction) =>
    handler(req, res).catch(next);
