import keySlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { newId } from './ids.js';
import { checkQueueFamilies, familyOf, familyPrefixes } from './queues.js';
import { connectRedis, type Redis } from './redis.js';
import { type PrivateRedis, startRedis } from './redis-server.js';

const tagOf = (prefix: string) => /\{([^{}]+)\}/.exec(prefix)![1]!;

describe('queue families', () => {
  it('keeps the configured prefix when there is one family', () => {
    expect(familyPrefixes('{docpipe}', 1)).toEqual(['{docpipe}']);
  });

  it('gives family k a hash tag inside the k-th of n equal slot ranges, around the prefix tag', () => {
    for (const n of [2, 3, 5, 8]) {
      const prefixes = familyPrefixes('app{docpipe}x', n);
      expect(prefixes).toHaveLength(n);
      prefixes.forEach((prefix, k) => {
        expect(prefix).toMatch(/^app\{docpipe-q\d+(\.\d+)?\}x$/);
        const slot = keySlot(tagOf(prefix));
        expect(slot).toBeGreaterThanOrEqual((k * 16384) / n);
        expect(slot).toBeLessThan(((k + 1) * 16384) / n);
      });
    }
    expect(familyPrefixes('{docpipe}', 3)).toEqual(familyPrefixes('{docpipe}', 3));
  });

  it('spreads file ids evenly over the families, the same way every time', () => {
    const ids = Array.from({ length: 3000 }, () => newId('fil'));
    const counts = [0, 0, 0];
    for (const id of ids) counts[familyOf(id, 3)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(800);
    expect(ids.map((id) => familyOf(id, 3))).toEqual(ids.map((id) => familyOf(id, 3)));
    expect(familyOf(ids[0]!, 1)).toBe(0);
  });
});

describe('checkQueueFamilies', () => {
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

  it('records the family count, and refuses another one while it is recorded', async () => {
    const config = (families: number) => loadConfig({ REDIS_QUEUE_FAMILIES: String(families) });
    await checkQueueFamilies(redis, config(3));
    await checkQueueFamilies(redis, config(3));
    const refused = await checkQueueFamilies(redis, config(1)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(String((refused as Error).message)).toMatch(
      /REDIS_QUEUE_FAMILIES.*is 1, but the queues in this Redis were made with 3.*\{docpipe\}:queue-families/s,
    );
  });
});
