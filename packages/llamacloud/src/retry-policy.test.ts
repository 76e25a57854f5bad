import { describe, expect, it } from 'vitest';
import { backoffMs, DEFAULT_RETRY_POLICY, retryAfterMs, statusIsRetryable } from './retry-policy.js';

describe('retry policy (the official SDK rules)', () => {
  it('retries 408, 409, 429 and 5xx, and obeys x-should-retry', () => {
    expect([408, 409, 429, 500, 502, 503].every((s) => statusIsRetryable(s, undefined))).toBe(true);
    expect([400, 401, 403, 404, 422].some((s) => statusIsRetryable(s, undefined))).toBe(false);
    expect(statusIsRetryable(400, 'true')).toBe(true);
    expect(statusIsRetryable(503, 'false')).toBe(false);
  });

  it('reads retry-after-ms first, then Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs({ 'retry-after-ms': '250', 'retry-after': '9' })).toBe(250);
    expect(retryAfterMs({ 'retry-after': '2' })).toBe(2000);
    expect(retryAfterMs({ 'retry-after': '0.5' })).toBe(500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }, now)).toBe(3000);
    expect(retryAfterMs({ 'retry-after': 'Wed, 31 Dec 2025 00:00:00 GMT' }, now)).toBe(0);
    expect(retryAfterMs({})).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
  });

  it('backs off 0.5 s × 2^n up to 8 s, with at most 25 % jitter taken off', () => {
    expect(backoffMs(0, DEFAULT_RETRY_POLICY, () => 0)).toBe(500);
    expect(backoffMs(3, DEFAULT_RETRY_POLICY, () => 0)).toBe(4000);
    expect(backoffMs(10, DEFAULT_RETRY_POLICY, () => 0)).toBe(8000);
    expect(backoffMs(1, DEFAULT_RETRY_POLICY, () => 1)).toBe(750);
  });
});
