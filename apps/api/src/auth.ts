import { constantTimeEqual } from '@docpipe/core';
import type { NextFunction, Request, Response } from 'express';

/** The key a request presents: `Authorization: Bearer <key>`, or basic auth with the key as password. */
function presentedKey(req: Request): string | undefined {
  const header = req.get('authorization') ?? '';
  const [scheme, value] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString();
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return undefined;
}

/**
 * Requires one of `keys` (none configured: everything is open, which config allows only on
 * loopback). API clients send a bearer key; browsers get a basic-auth prompt whose password is a
 * key, and then send it on every request to the dashboard, its event stream and Bull Board.
 */
export function requireKey(keys: readonly string[], mode: 'bearer' | 'browser') {
  return (req: Request, res: Response, next: NextFunction) => {
    if (keys.length === 0) return next();
    const key = presentedKey(req);
    if (key && keys.some((candidate) => constantTimeEqual(key, candidate))) return next();
    if (mode === 'browser') res.set('www-authenticate', 'Basic realm="docpipe", charset="UTF-8"');
    res.status(401).json({
      error: {
        code: 'unauthorized',
        message: key
          ? 'the API key is not valid'
          : 'send an API key: "Authorization: Bearer <key>" (API_KEYS), or basic auth with the key as password',
        details: null,
      },
    });
  };
}
