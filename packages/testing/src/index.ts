export { freePort, type PrivateRedis, type RedisServerOptions, startRedis } from '@docpipe/core';
export * from './documents.js';
