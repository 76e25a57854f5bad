import { describe, expect, it } from 'vitest';
import { RedisUnavailableError } from './errors.js';
import { freePort } from './free-port.js';
import { checkRedisServer, connectRedis } from './redis.js';
import { startRedis } from './redis-server.js';

describe('Redis connections', () => {
  it('a producer fails fast with a clear error when Redis is down', async () => {
    const port = await freePort();
    const started = Date.now();
    const attempt = connectRedis(`redis://127.0.0.1:${port}`, { role: 'producer', connectTimeoutMs: 500 });
    await expect(attempt).rejects.toThrow(RedisUnavailableError);
    await expect(
      connectRedis(`redis://127.0.0.1:${port}`, { role: 'producer', connectTimeoutMs: 300 }),
    ).rejects.toThrow(
      new RegExp(
        `Cannot reach Redis at redis://127.0.0.1:${port}/? within 300 ms \\(.*ECONNREFUSED.*REDIS_URL`,
      ),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a producer command fails at once while Redis is away instead of hanging', async () => {
    const server = await startRedis();
    const redis = await connectRedis(server.url, { role: 'producer' });
    try {
      await server.kill();
      await expect(redis.get('x')).rejects.toThrow();
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });

  it('the startup check names an evicting policy and missing AOF', async () => {
    const server = await startRedis({ maxmemoryPolicy: 'allkeys-lru' });
    const redis = await connectRedis(server.url, { role: 'worker' });
    try {
      const report = await checkRedisServer(redis);
      expect(report.maxmemoryPolicy).toBe('allkeys-lru');
      expect(report.warnings.join('\n')).toMatch(/maxmemory-policy is "allkeys-lru".*noeviction/);
      expect(report.warnings.join('\n')).toMatch(/AOF persistence is off/);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });

  it('the startup check is quiet for a durable setup', async () => {
    const server = await startRedis({ appendonly: true });
    const redis = await connectRedis(server.url, { role: 'worker' });
    try {
      expect(await checkRedisServer(redis)).toMatchObject({
        maxmemoryPolicy: 'noeviction',
        appendonly: true,
        warnings: [],
      });
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
