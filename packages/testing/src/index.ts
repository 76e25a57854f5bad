export * from './documents.js';
export * from './free-port.js';
export * from './redis-server.js';
