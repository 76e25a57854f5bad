import { Redis, type RedisOptions } from 'ioredis';
import { RedisUnavailableError } from './errors.js';
import { redactUrl } from './logger.js';

export type { Redis } from 'ioredis';

/**
 * `worker`: long-lived connections for BullMQ workers; commands wait for a reconnect instead of
 * failing (`maxRetriesPerRequest: null`, as BullMQ requires).
 * `producer`: connections of request handlers and CLIs; a command fails at once while Redis is
 * away, so an API request gets an error instead of hanging.
 */
export type RedisRole = 'worker' | 'producer';

export interface RedisConnectionOptions {
  role: RedisRole;
  connectTimeoutMs?: number;
  /** Connection name shown by `CLIENT LIST`. */
  name?: string;
}

export function createRedis(url: string, options: RedisConnectionOptions): Redis {
  const common: RedisOptions = {
    connectTimeout: options.connectTimeoutMs ?? 5000,
    lazyConnect: true,
    ...(options.name ? { connectionName: options.name } : {}),
  };
  const byRole: RedisOptions =
    options.role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          retryStrategy: (times) => Math.min(times * 200, 2000),
        };
  return new Redis(url, { ...common, ...byRole });
}

/**
 * Opens a connection and waits until Redis answers, or throws a RedisUnavailableError that
 * names the address and what to do, after `connectTimeoutMs`.
 */
export async function connectRedis(url: string, options: RedisConnectionOptions): Promise<Redis> {
  const redis = createRedis(url, options);
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  let lastError: Error | undefined;
  const onError = (error: Error) => {
    lastError = error;
  };
  redis.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        redis.off('ready', onReady);
        reject(new Error('timed out'));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      redis.once('ready', onReady);
      // The first failed attempt rejects connect(); the retry strategy keeps trying until the
      // timer gives up, so the rejection itself is only remembered.
      redis.connect().catch((error: unknown) => {
        lastError = error instanceof Error ? error : new Error(String(error));
      });
    });
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    const reason = lastError?.message ?? (error instanceof Error ? error.message : String(error));
    throw new RedisUnavailableError(
      `Cannot reach Redis at ${redactUrl(url)} within ${timeoutMs} ms (${reason}). ` +
        'Start one (`redis-server`, or `docker compose up -d redis`) or point REDIS_URL at one.',
      { code: 'redis_unavailable', cause: lastError ?? error },
    );
  } finally {
    redis.off('error', onError);
  }
}

export interface RedisServerReport {
  version: string;
  maxmemoryPolicy: string;
  appendonly: boolean;
  /** What an operator should change; empty when the server is set up for durable queues. */
  warnings: string[];
}

/**
 * Reads the server settings that decide whether queued work survives: an evicting
 * maxmemory-policy silently deletes jobs, and without AOF a Redis restart loses them.
 * Uses INFO, which managed services allow where CONFIG GET is disabled.
 */
export async function checkRedisServer(redis: Redis): Promise<RedisServerReport> {
  const info = parseInfo(await redis.info());
  const version = info.redis_version ?? 'unknown';
  const maxmemoryPolicy = info.maxmemory_policy ?? 'unknown';
  const appendonly = info.aof_enabled === '1';
  const warnings: string[] = [];
  if (maxmemoryPolicy !== 'noeviction') {
    warnings.push(
      `Redis maxmemory-policy is "${maxmemoryPolicy}": Redis may evict queued jobs under memory pressure. ` +
        'Set `maxmemory-policy noeviction` (redis.conf or CONFIG SET).',
    );
  }
  if (!appendonly) {
    warnings.push(
      'Redis AOF persistence is off: a Redis restart loses queued work. Set `appendonly yes` and `appendfsync everysec`.',
    );
  }
  return { version, maxmemoryPolicy, appendonly, warnings };
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}
