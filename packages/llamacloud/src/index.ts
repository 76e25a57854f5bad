export * from './llamacloud-client.js';
export * from './retry-policy.js';
export * from './schemas.js';
export { type CallOptions, encodeQuery, type RequestEvent, type TransportOptions } from './transport.js';
export * from './upstream-errors.js';
