import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';

describe('loadConfig', () => {
  it('works on a laptop with no variables set', () => {
    const config = loadConfig({});
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.redis.keyPrefix).toBe('{docpipe}');
    expect(config.llamaCloud.baseUrl).toBeUndefined();
    expect(config.stages.concurrency.extract).toBe(16);
    expect(config.limits.upload).toEqual({ max: 50, windowMs: 10_000 });
    expect(config.api.keys).toEqual([]);
  });

  it('lists every bad variable in one error, each with what was expected', () => {
    let error: unknown;
    try {
      loadConfig({
        REDIS_URL: 'http://nope',
        UPLOAD_CONCURRENCY: 'lots',
        LOG_LEVEL: 'loud',
        API_PORT: '70000',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.variable).sort();
    expect(problems).toEqual(['API_PORT', 'LOG_LEVEL', 'REDIS_URL', 'UPLOAD_CONCURRENCY']);
    const message = (error as ConfigError).message;
    expect(message).toContain('4 problems');
    expect(message).toMatch(/UPLOAD_CONCURRENCY: .*number.*"lots"/);
    expect(message).toMatch(/LOG_LEVEL: .*"info".*"loud"/);
  });

  it('never echoes the value of a secret in its error', () => {
    expect(() => loadConfig({ API_KEYS: 'short-secret-1' })).toThrow(
      /API_KEYS: each API key needs at least 16/,
    );
    try {
      loadConfig({ API_KEYS: 'short-secret-1' });
    } catch (error) {
      expect((error as Error).message).not.toContain('short-secret-1');
    }
  });

  it('requires an API key when a real LlamaCloud URL is set', () => {
    expect(() => loadConfig({ LLAMA_CLOUD_BASE_URL: 'https://api.cloud.llamaindex.ai' })).toThrow(
      /LLAMA_CLOUD_API_KEY: required when LLAMA_CLOUD_BASE_URL is set/,
    );
    const config = loadConfig({
      LLAMA_CLOUD_BASE_URL: 'https://api.cloud.llamaindex.ai',
      LLAMA_CLOUD_API_KEY: 'llx-1',
    });
    expect(config.llamaCloud.apiKey).toBe('llx-1');
  });

  it('checks settings that depend on each other', () => {
    expect(() => loadConfig({ INFLIGHT_MIN: '5', INFLIGHT_INITIAL: '2' })).toThrow(
      /INFLIGHT_INITIAL: must lie between/,
    );
    expect(() => loadConfig({ PUBLIC_URL: 'https://docpipe.example.com' })).toThrow(
      /WEBHOOK_SIGNING_SECRET: required/,
    );
  });

  it('rejects a key prefix without a hash tag, which would break Redis Cluster', () => {
    expect(() => loadConfig({ REDIS_KEY_PREFIX: 'docpipe' })).toThrow(
      /REDIS_KEY_PREFIX: must contain a hash tag/,
    );
    expect(loadConfig({ REDIS_KEY_PREFIX: 'app{docpipe}' }).redis.keyPrefix).toBe('app{docpipe}');
  });

  it('reads cluster seeds and Sentinels as lists of redis URLs, and refuses both at once', () => {
    const cluster = loadConfig({
      REDIS_CLUSTER_NODES: 'redis://a:7000, redis://b:7001',
      REDIS_QUEUE_FAMILIES: '2',
    });
    expect(cluster.redis.clusterNodes).toEqual(['redis://a:7000', 'redis://b:7001']);
    expect(cluster.redis.queueFamilies).toBe(2);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:7000' })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_QUEUE_FAMILIES: '0' })).toThrow(/REDIS_QUEUE_FAMILIES/);
    expect(() =>
      loadConfig({ REDIS_CLUSTER_NODES: 'redis://a:7000', REDIS_SENTINELS: 'redis://s:26379' }),
    ).toThrow(/REDIS_SENTINELS: set it or REDIS_CLUSTER_NODES, not both/);
    expect(() => loadConfig({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '9000' })).toThrow(
      /REDIS_WAIT_TIMEOUT_MS: must be at most a quarter of WORKER_LOCK_MS/,
    );
    expect(loadConfig({ REDIS_SENTINELS: 'redis://s:26379' }).redis).toMatchObject({
      sentinels: ['redis://s:26379'],
      sentinelName: 'mymaster',
    });
  });

  it('scales simulated durations by TIME_SCALE but not network timeouts', () => {
    const config = loadConfig({ TIME_SCALE: '0.01' });
    expect(config.stages.pollIntervalMs).toBe(20);
    expect(config.limits.upload.windowMs).toBe(100);
    expect(config.stages.deadlineMs.extract).toBe(36_000);
    expect(config.llamaCloud.connectTimeoutMs).toBe(10_000);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ LLAMA_CLOUD_BASE_URL: '', UPLOAD_CONCURRENCY: '' }).stages.concurrency.upload).toBe(
      8,
    );
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits.upload)).toBe(true);
    expect(() => {
      (config.redis as { url: string }).url = 'redis://elsewhere';
    }).toThrow(TypeError);
  });

  it('reads the tenant of each API key (tenant=key, or a bare key for the default tenant)', () => {
    const config = loadConfig({
      API_KEYS: 'billing=sk-billing-0123456789ab, sk-bare-0123456789abcd, admin=sk-admin-0123456789abc',
    });
    expect(config.api.keys).toEqual([
      'sk-billing-0123456789ab',
      'sk-bare-0123456789abcd',
      'sk-admin-0123456789abc',
    ]);
    expect(config.api.tenants).toEqual({
      'sk-billing-0123456789ab': 'billing',
      'sk-bare-0123456789abcd': 'default',
      'sk-admin-0123456789abc': 'admin',
    });
    expect(() => loadConfig({ API_KEYS: 'billing=short' })).toThrow(/at least 16 characters/);
  });
});
