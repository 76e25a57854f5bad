import { constantTimeEqual, DEFAULT_TENANT } from '@docpipe/core';
import type { NextFunction, Request, Response } from 'express';

/** Keys of this tenant act for every tenant: they may enqueue for one and set quotas. */
export const ADMIN_TENANT = 'admin';

/** Who sent a request: the tenant of its key; without API_KEYS (loopback only) an admin. */
export interface Caller {
  tenant: string;
  admin: boolean;
}

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
 * Requires one of the configured keys (none configured: everything is open, which config allows
 * only on loopback) and records the caller's tenant in `res.locals.caller`. API clients send a
 * bearer key; browsers get a basic-auth prompt whose password is a key, and then send it on every
 * request to the dashboard, its event stream and Bull Board.
 */
export function requireKey(tenantOfKey: Readonly<Record<string, string>>, mode: 'bearer' | 'browser') {
  const keys = Object.keys(tenantOfKey);
  return (req: Request, res: Response, next: NextFunction) => {
    if (keys.length === 0) {
      res.locals.caller = { tenant: DEFAULT_TENANT, admin: true } satisfies Caller;
      return next();
    }
    const key = presentedKey(req);
    const match = key ? keys.find((candidate) => constantTimeEqual(key, candidate)) : undefined;
    if (match) {
      const tenant = tenantOfKey[match]!;
      res.locals.caller = { tenant, admin: tenant === ADMIN_TENANT } satisfies Caller;
      return next();
    }
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
