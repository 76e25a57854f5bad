/**
 * No secret reaches a log line: a whole batch through the API, a worker process and cloud-local,
 * every component logging at debug, with LlamaCloud webhooks, a signed completion callback and a
 * request with a wrong key; then every line of every log is searched for each secret.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COOKBOOK_LATENCY, createLogger } from '@docpipe/core';
import { afterEach, describe, expect, it } from 'vitest';
import { mixedDocuments, twoSchemas } from '../support/fixtures.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

let stack: Stack | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await stack?.stop();
  stack = undefined;
});

describe('secrets in logs', () => {
  it('finds no API key, upstream key or signing secret in any log line of a full batch', async () => {
    const secrets = {
      apiKey: 'sk-docpipe-3f9a7c1e5b2d4f60',
      wrongKey: 'sk-wrong-8d2e6a0c4b1f3e57',
      webhookSecret: 'whsec-5e1c9a3f7b2d6e40',
      callbackSecret: 'cbsec-2a6f0e4c8d1b5a39',
      upstreamKey: 'llx-upstream-7c3e9b1f5a0d2e48',
    };
    const lines: string[] = [];
    const capture = { write: (line: string) => void lines.push(line) };
    const logger = (name: string) =>
      createLogger({ name, level: 'debug', pretty: false, destination: capture });

    const callbacks: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        callbacks.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    closers.push(() => receiver.close());

    stack = await startStack({
      sim: { timeScale: 0.001, latency: COOKBOOK_LATENCY },
      env: {
        TIME_SCALE: '0.001',
        LOG_LEVEL: 'debug',
        WEBHOOK_SIGNING_SECRET: secrets.webhookSecret,
        CALLBACK_SIGNING_SECRET: secrets.callbackSecret,
      },
      cloudLogger: logger('cloud-local'),
    });
    // The upstream key: cloud-local is restarted with it, and the workers send it.
    const s = stack;
    await s.restartCloud({ apiKey: secrets.upstreamKey });
    const api = await s.startApi(
      { API_KEYS: secrets.apiKey, LLAMA_CLOUD_API_KEY: secrets.upstreamKey },
      logger('api'),
    );
    s.spawnWorker({
      env: { PUBLIC_URL: api.url, LLAMA_CLOUD_API_KEY: secrets.upstreamKey },
      output: (chunk) => lines.push(...chunk.toString().split('\n')),
    });

    const refused = await fetch(`${api.url}/v1/batches`, {
      headers: { authorization: `Bearer ${secrets.wrongKey}` },
    });
    expect(refused.status).toBe(401);
    const docs = mixedDocuments(6);
    const created = await fetch(`${api.url}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        ...twoSchemas,
        callback_url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`,
        files: docs.map((d) => ({ name: d.name, content_base64: d.bytes.toString('base64') })),
      }),
    });
    expect(created.status).toBe(201);
    const batch = (await created.json()) as { id: string };
    const done = await s.waitForBatch(batch.id, 60_000);
    expect(done.counters.byState.completed).toBe(6);
    for (let i = 0; i < 100 && callbacks.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(callbacks.length).toBeGreaterThan(0);

    // The logs are not empty (debug lines from every component), and none holds a secret.
    const all = lines.join('\n');
    for (const name of ['api', 'worker', 'cloud-local']) expect(all).toContain(`"name":"${name}"`);
    expect(lines.length).toBeGreaterThan(50);
    for (const [name, secret] of Object.entries(secrets)) {
      const leaks = lines.filter((line) => line.includes(secret));
      expect(leaks, `${name} appears in ${leaks.length} log lines`).toEqual([]);
    }
    console.info(
      `secrets in logs: ${lines.length} lines from the API, a worker and cloud-local; no secret found`,
    );
  }, 90_000);
});
