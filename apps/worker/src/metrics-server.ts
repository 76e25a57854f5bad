import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '@docpipe/core';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A worker process's own HTTP endpoint: `/metrics` (Prometheus text) and `/healthz` (200 while
 * the process's Redis connection is ready and it is not shutting down). Two fixed routes need no
 * framework.
 */
export async function startMetricsServer(
  metrics: Metrics,
  health: () => { ok: boolean; detail: string },
  options: { host: string; port: number },
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(`metrics failed: ${String(error)}\n`),
      );
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      const { ok, detail } = health();
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok, detail }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
