import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedis } from './redis-server.js';

describe('startRedis', () => {
  it('starts a private server that keeps its data across kill and restart with AOF', async () => {
    const server = await startRedis({ appendonly: true });
    expect(server.port).not.toBe(6379);
    const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.set('survives', 'yes');
      await client.rpush('list', 'a', 'b', 'c');
      await server.kill();
      await server.restart();
      // ioredis reconnects by itself once the server is back.
      expect(await client.get('survives')).toBe('yes');
      expect(await client.lrange('list', 0, -1)).toEqual(['a', 'b', 'c']);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('without AOF a restart starts empty', async () => {
    const server = await startRedis();
    const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.set('gone', 'yes');
      await server.restart();
      expect(await client.get('gone')).toBeNull();
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});
