import { timingSafeEqual } from 'node:crypto';

/**
 * Compares a presented secret (an API key, a signature) with the expected one in time that does
 * not depend on where they differ, so an attacker cannot guess it byte by byte from timings.
 */
export function constantTimeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
