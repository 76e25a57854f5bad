/**
 * The retry rules of the official SDK (`@llamaindex/llama-cloud` client.ts), which are right:
 * retry 408, 409, 429 and 5xx unless `x-should-retry` says otherwise; wait what
 * `retry-after-ms` or `Retry-After` (seconds or an HTTP date) asks, else 0.5 s × 2^n up to 8 s
 * with up to 25 % jitter. One difference: the wait a server asks for is capped (`maxRetryAfterMs`),
 * past which the call fails with the wait attached, so a queue can pause instead of a worker
 * sleeping.
 */

export interface RetryPolicy {
  /** Retries after the first attempt. @defaultValue 2 */
  maxRetries: number;
  /** @defaultValue 500 */
  initialDelayMs: number;
  /** @defaultValue 8000 */
  maxDelayMs: number;
  /** Longest server-requested wait honoured in-process. @defaultValue 60000 */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 2,
  initialDelayMs: 500,
  maxDelayMs: 8000,
  maxRetryAfterMs: 60_000,
};

export function statusIsRetryable(status: number, shouldRetryHeader: string | undefined): boolean {
  if (shouldRetryHeader === 'true') return true;
  if (shouldRetryHeader === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The wait a response asks for, in ms, or undefined when it names none. */
export function retryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  now = Date.now(),
): number | undefined {
  const first = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const ms = first('retry-after-ms');
  if (ms !== undefined && !Number.isNaN(Number.parseFloat(ms))) return Math.max(0, Number.parseFloat(ms));
  const after = first('retry-after');
  if (after === undefined) return undefined;
  const seconds = Number.parseFloat(after);
  if (!Number.isNaN(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Backoff before retry number `retry` (0-based), with up to 25 % jitter taken off. */
export function backoffMs(retry: number, policy: RetryPolicy, random = Math.random): number {
  const nominal = Math.min(policy.initialDelayMs * 2 ** retry, policy.maxDelayMs);
  return nominal * (1 - random() * 0.25);
}
