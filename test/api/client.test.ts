import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DocpipeApiError, DocpipeClient, type Result, verifyCallbackSignature } from '@docpipe/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceSchema, mixedDocuments } from '../support/fixtures.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

const KEY = 'client-test-key-0123456789';
const SECRET = 'callback-secret-0123456789';
let stack: Stack;
let client: DocpipeClient;

beforeAll(async () => {
  stack = await startStack({ env: { TIME_SCALE: '0.001', CALLBACK_SIGNING_SECRET: SECRET } });
  await stack.startWorkerInProcess();
  const api = await stack.startApi({ API_KEYS: KEY });
  client = new DocpipeClient({ baseUrl: api.url, apiKey: KEY });
});
afterAll(async () => {
  await stack?.stop();
});

describe('the client SDK against the API', () => {
  it('enqueues paths, buffers and streams, follows progress and reads every result', async () => {
    const [a, b, c] = mixedDocuments(3);
    const path = join(stack.config.storage.resultDir, '..', a!.name);
    await writeFile(path, a!.bytes);
    const callbacks: { body: string; signature: string | undefined }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        callbacks.push({ body, signature: req.headers['x-docpipe-signature'] as string | undefined });
        res.end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    try {
      const batch = await client.enqueue({
        files: [
          { path, metadata: { source: 'disk' } },
          { buffer: b!.bytes, name: b!.name },
          { stream: Readable.from([c!.bytes]), name: c!.name },
        ],
        extract: [{ name: 'invoice', data_schema: invoiceSchema }],
        callbackUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`,
      });
      expect(batch.counters.total).toBe(3);
      const progress: number[] = [];
      const done = await client.waitForCompletion(batch.id, {
        timeoutMs: 30_000,
        onProgress: (b) => progress.push(b.progress.percent),
      });
      expect(done.status).toBe('completed');
      expect(progress.at(-1)).toBe(100);

      const results: Result[] = [];
      for await (const result of client.results(batch.id)) results.push(result);
      expect(results.map((r) => r.file_name).sort()).toEqual([a!.name, b!.name, c!.name].sort());
      expect(results.every((r) => r.status === 'completed')).toBe(true);
      const files = [];
      for await (const file of client.files(batch.id, { state: 'completed' })) files.push(file);
      expect(files[0]).toMatchObject({ name: a!.name, metadata: { source: 'disk' } });

      for (let i = 0; i < 100 && callbacks.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(verifyCallbackSignature(SECRET, callbacks[0]!.body, callbacks[0]!.signature)).toBe(true);
      expect(verifyCallbackSignature(SECRET, `${callbacks[0]!.body} `, callbacks[0]!.signature)).toBe(false);
      expect(
        verifyCallbackSignature('another-secret-0000000', callbacks[0]!.body, callbacks[0]!.signature),
      ).toBe(false);
    } finally {
      receiver.close();
    }
  });

  it('retries failed files, cancels, and raises API errors with their code', async () => {
    await stack.sim('config', {
      fileRules: [{ pattern: '^poison', status: 'FAILED', message: 'simulated' }],
    });
    const batch = await client.enqueue({
      files: [{ buffer: Buffer.from('Invoice Number: C-1'), name: 'poison.txt' }],
      extract: [{ name: 'invoice', data_schema: invoiceSchema }],
    });
    expect((await client.waitForCompletion(batch.id, { timeoutMs: 30_000 })).status).toBe(
      'completed_with_errors',
    );
    const failedFiles = [];
    for await (const file of client.files(batch.id, { state: 'failed' })) failedFiles.push(file);
    const [failed] = failedFiles;
    expect(failed!.error).toMatchObject({ stage: 'extract', message: expect.stringMatching(/simulated/) });
    await stack.sim('config', { fileRules: [] });
    expect((await client.retryFailed(batch.id)).retried.extract).toBe(1);
    expect((await client.waitForCompletion(batch.id, { timeoutMs: 30_000 })).status).toBe('completed');
    expect((await client.cancel(batch.id)).cancelled).toBe(0);

    const missing = await client.get('bat_missing').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(DocpipeApiError);
    expect(missing).toMatchObject({ status: 404, code: 'batch_not_found' });
    const bad = await client
      .enqueue({ files: [{ buffer: Buffer.from('x'), name: 'x.txt' }], extract: [] })
      .catch((error: unknown) => error);
    expect(bad).toMatchObject({
      status: 400,
      code: 'invalid_request',
      message: expect.stringMatching(/extract/),
    });
  });
});
