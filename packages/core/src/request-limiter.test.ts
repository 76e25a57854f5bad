import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, type Redis } from './redis.js';
import { type PrivateRedis, startRedis } from './redis-server.js';
import { RequestLimiter } from './request-limiter.js';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = await connectRedis(server.url, { role: 'producer' });
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const limits = {
  upload: { max: 5, windowMs: 60_000 },
  create: { max: 2, windowMs: 60_000 },
  read: { max: 100, windowMs: 60_000 },
};

describe('RequestLimiter', () => {
  it('lets a burst of max through, then spaces requests one interval apart, per class', async () => {
    const limiter = new RequestLimiter(redis, '{a}', limits);
    const waits: number[] = [];
    // reserve() hands out the schedule without sleeping it.
    for (let i = 0; i < 7; i++) waits.push(await limiter.reserve('upload'));
    expect(waits.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(waits[5]).toBeGreaterThan(11_000); // the 6th waits about one interval (12 s)
    expect(waits[6]! - waits[5]!).toBeGreaterThan(11_000);
    expect(await limiter.reserve('read')).toBe(0); // classes are separate
  });

  it('shares one budget between limiter instances (processes) on the same Redis', async () => {
    const a = new RequestLimiter(redis, '{b}', limits);
    const b = new RequestLimiter(redis, '{b}', limits);
    expect(await a.reserve('create')).toBe(0);
    expect(await b.reserve('create')).toBe(0);
    expect(await a.reserve('create')).toBeGreaterThan(25_000);
  });

  it('closes a class for everyone for the Retry-After of a 429', async () => {
    const limiter = new RequestLimiter(redis, '{c}', limits);
    await limiter.penalize('read', 5_000);
    const wait = await limiter.reserve('read');
    expect(wait).toBeGreaterThan(4_000);
    expect(wait).toBeLessThanOrEqual(5_000);
  });
});
