import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';

/**
 * Errors in LlamaCloud's (FastAPI's) shape: `{"detail": "…"}`, and for 422 a list of
 * `{loc, msg, type}`, so the official SDK raises the same error classes against cloud-local.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string | { loc: (string | number)[]; msg: string; type: string }[],
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === 'string' ? detail : detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; '));
  }
}

export const notFound = (what: string) => new HttpError(404, `${what} not found`);

export function validationError(location: 'body' | 'query', error: z.ZodError): HttpError {
  return new HttpError(
    422,
    error.issues.map((issue) => ({
      loc: [location, ...issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part))],
      msg: issue.message,
      type: issue.code === 'invalid_type' && issue.input === undefined ? 'missing' : 'value_error',
    })),
  );
}

/** Parses `input` with `schema`, or throws a 422 naming each bad field. */
export function parseOr422<T extends z.ZodType>(
  schema: T,
  input: unknown,
  location: 'body' | 'query' = 'body',
): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationError(location, parsed.error);
  return parsed.data;
}

export function errorMiddleware(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (error instanceof HttpError) {
    res.status(error.status).set(error.headers).json({ detail: error.detail });
    return;
  }
  const status =
    (error as { status?: number; statusCode?: number }).status ??
    (error as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) {
    // body-parser's errors (malformed JSON, too large) carry their status.
    res.status(status).json({ detail: (error as Error).message });
    return;
  }
  res.status(500).json({ detail: `Internal error: ${(error as Error).message}` });
}

/** An async route handler whose rejections reach the error middleware. */
export const asyncRoute =
  (handler: (req: Request, res: Response) => Promise<unknown>) =>
  (req: Request, res: Response, next: NextFunction) =>
    handler(req, res).catch(next);
