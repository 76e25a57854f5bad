import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACTED_PATHS = [
  'authorization',
  'apiKey',
  'api_key',
  'password',
  'secret',
  'webhookSigningSecret',
  'callbackSigningSecret',
  'webhook_signing_secret',
  'headers.authorization',
  'headers["lc-signature"]',
  'headers["x-docpipe-signature"]',
  '*.authorization',
  '*.apiKey',
  '*.api_key',
  '*.password',
  '*.secret',
  '*.webhookSigningSecret',
  '*.callbackSigningSecret',
  '*.webhook_signing_secret',
  '*.headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

const SIGNED_URL_PARAMS =
  /^(x-amz-.*|signature|sig|token|access_token|key|api_key|apikey|se|sp|sv|expires)$/i;

/**
 * A URL safe to log: credentials and signing query parameters (presigned S3/GCS/Azure URLs,
 * tokens) are replaced with `***`; the rest stays readable.
 */
export function redactUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return raw;
  }
  if (parsed.username) parsed.username = '***';
  if (parsed.password) parsed.password = '***';
  for (const name of [...parsed.searchParams.keys()]) {
    if (SIGNED_URL_PARAMS.test(name)) parsed.searchParams.set(name, '***');
  }
  return parsed.toString();
}

export interface LoggerOptions {
  level?: string;
  /** Human-readable output; default: only when stdout is a terminal. */
  pretty?: boolean | undefined;
  /** Process or component name, bound on every line. */
  name?: string;
  /** Where lines go (tests pass a stream); default stdout. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const base = {
    level: options.level ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '***' },
    serializers: { url: (value: unknown) => (typeof value === 'string' ? redactUrl(value) : value) },
    ...(options.name ? { name: options.name } : {}),
  };
  if (pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}

/** The ids a log line about one piece of work carries. */
export interface WorkIds {
  batchId?: string;
  fileId?: string;
  jobId?: string;
  stage?: string;
  remoteId?: string;
}

/** A child logger bound to the ids of one batch, file or job. */
export function forWork(logger: Logger, ids: WorkIds): Logger {
  return logger.child(ids);
}
