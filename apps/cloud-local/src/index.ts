import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger, type SimConfigUpdate } from '@docpipe/core';
import { Batches } from './batches.js';
import { ParsePool } from './documents/parse-pool.js';
import { JobEngine } from './job-engine.js';
import { createApp } from './server.js';
import { Simulation } from './simulation.js';
import { CloudStore } from './store.js';
import { WebhookDelivery } from './webhook-delivery.js';

export { parseDocument } from './documents/parse-document.js';
export type { ParsedDocument, ParsedPage } from './documents/parsed-document.js';

export const DEFAULT_API_KEY = 'llx-cloud-local';

export interface CloudLocalOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Where files and jobs persist; undefined keeps them in memory only (`--ephemeral`). */
  dataDir?: string | undefined;
  /** The bearer key clients must send. */
  apiKey?: string;
  sim?: SimConfigUpdate;
  maxUploadBytes?: number;
  parseTimeoutMs?: number;
  parseThreads?: number;
  logger?: Logger;
}

export interface CloudLocal {
  url: string;
  apiKey: string;
  sim: Simulation;
  close(): Promise<void>;
}

/**
 * Starts cloud-local: a LlamaCloud-compatible server that really parses and extracts documents
 * on this machine and can simulate latency, THROTTLED jobs, 429s and outages.
 */
export async function start(options: CloudLocalOptions = {}): Promise<CloudLocal> {
  const log = options.logger ?? createLogger({ name: 'cloud-local', level: 'warn' });
  const store = await CloudStore.open(options.dataDir);
  const sim = new Simulation(options.sim);
  const pool = new ParsePool(options.parseTimeoutMs, options.parseThreads);
  const webhooks = new WebhookDelivery(log, () => sim.webhookPlan());
  const engine = new JobEngine(store, sim, pool, log, webhooks);
  const batches = new Batches(store, engine, webhooks, log);
  const apiKey = options.apiKey ?? DEFAULT_API_KEY;
  const app = createApp({
    store,
    engine,
    batches,
    sim,
    log,
    apiKey,
    maxUploadBytes: options.maxUploadBytes ?? 100 * 1024 * 1024,
  });
  engine.resume();
  batches.resume();

  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(options.port ?? 0, options.host ?? '127.0.0.1', (error?: Error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  log.info({ url, persistent: store.persistent }, 'cloud-local listening');

  return {
    url,
    apiKey,
    sim,
    async close() {
      engine.close();
      await webhooks.drain();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await pool.close();
    },
  };
}
