import { openAsBlob } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CloudLocal, start } from '@docpipe/cloud-local';
import {
  AmbiguousCreateError,
  ContractError,
  isTransient,
  type SimRequestRecord,
  type SimStats,
} from '@docpipe/core';
import { freePort } from '@docpipe/testing';
import LlamaCloud from '@llamaindex/llama-cloud';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LlamaCloudClient } from './llamacloud-client.js';
import type { RequestEvent } from './transport.js';
import {
  UpstreamAuthError,
  UpstreamNetworkError,
  UpstreamNotFoundError,
  UpstreamRateLimitedError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from './upstream-errors.js';

const schema = {
  type: 'object',
  properties: { invoice_number: { type: 'string' }, total_amount: { type: 'number' } },
};
const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 20 };

let server: CloudLocal;
const clients: LlamaCloudClient[] = [];

function client(options: Partial<ConstructorParameters<typeof LlamaCloudClient>[0]> = {}) {
  const created = new LlamaCloudClient({
    baseUrl: server.url,
    apiKey: server.apiKey,
    retry: FAST_RETRY,
    ...options,
  });
  clients.push(created);
  return created;
}

async function sim(path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${server.url}/_sim/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}

const NO_FAULTS = {
  faults: { http5xxRate: 0, resetRate: 0, slowRate: 0, slowMs: 0 },
  limits: { upload: null, create: null, read: null },
};

beforeAll(async () => {
  server = await start({ parseThreads: 1 });
});
afterEach(async () => {
  await sim('config', NO_FAULTS);
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await server?.close();
});

async function uploadText(c: LlamaCloudClient, name: string, text: string) {
  return c.files.upload({ file: Buffer.from(text), name });
}

describe('LlamaCloudClient against cloud-local', () => {
  it('streams an upload from disk, parses, extracts and lists by job ids', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llc-'));
    try {
      const path = join(dir, 'invoice.txt');
      await writeFile(path, 'Invoice Number: A-1\nTotal Amount: 12,50');
      const c = client();
      const file = await c.files.upload({
        file: await openAsBlob(path),
        name: 'invoice.txt',
        externalFileId: 'ext-1',
      });
      expect(file).toMatchObject({ name: 'invoice.txt', external_file_id: 'ext-1' });
      expect((await c.files.get(file.id)).id).toBe(file.id);
      expect((await c.files.list({ fileIds: [file.id] })).items.map((f) => f.id)).toEqual([file.id]);

      const parse = await c.parse.create({ fileId: file.id, tier: 'fast' });
      let parsed = await c.parse.get(parse.id, { expand: ['text'] });
      while (parsed.job.status !== 'COMPLETED') parsed = await c.parse.get(parse.id, { expand: ['text'] });
      expect(parsed.text?.pages[0]?.text).toContain('Invoice Number: A-1');

      const job = await c.extract.create({ fileInput: parse.id, configuration: { data_schema: schema } });
      let done = await c.extract.get(job.id, { expand: ['usage', 'extract_metadata'] });
      while (done.status !== 'COMPLETED')
        done = await c.extract.get(job.id, { expand: ['usage', 'extract_metadata'] });
      expect(done.extract_result).toEqual({ invoice_number: 'A-1', total_amount: 12.5 });
      expect(done.usage?.credits).toBe(5);
      expect(done.metadata?.usage?.num_pages_billed).toBe(1);

      const listed = await c.extract.list({ jobIds: [job.id], status: 'COMPLETED' });
      expect(listed.items.map((j) => j.id)).toEqual([job.id]);
      expect(listed.nextPageToken).toBeUndefined();
      expect(await c.extract.validateSchema(schema)).toEqual(schema);
      const saved = await c.configurations.create({
        name: 'client-test',
        parameters: { product_type: 'extract_v2', data_schema: schema },
      });
      expect((await c.configurations.get(saved.id)).name).toBe('client-test');
      expect((await c.configurations.list({ productType: ['extract_v2'] })).items.map((x) => x.id)).toContain(
        saved.id,
      );
      const fromSaved = await c.extract.create({ fileInput: parse.id, configurationId: saved.id });
      expect(fromSaved.configuration_id).toBe(saved.id);
      const directory = await c.directories.create({ name: 'client-batch', type: 'ephemeral' });
      expect((await c.directories.list({ name: 'client-batch' })).items.map((d) => d.id)).toEqual([
        directory.id,
      ]);
      await c.directories.uploadFile(directory.id, {
        file: Buffer.from('Invoice Number: D-1\nTotal: 3'),
        name: 'd1.txt',
      });
      const uploaded = await c.files.upload({
        file: Buffer.from('Invoice Number: D-2\nTotal: 4'),
        name: 'd2.txt',
      });
      await c.directories.addFile(directory.id, { fileId: uploaded.id });
      expect((await c.directories.listFiles(directory.id)).items.map((f) => f.display_name)).toEqual([
        'd1.txt',
        'd2.txt',
      ]);
      let batch = await c.batches.create({
        sourceDirectoryId: directory.id,
        type: 'extract_v2',
        configurationId: saved.id,
      });
      while (batch.status !== 'COMPLETED') batch = await c.batches.get(batch.id);
      const withResults = await c.batches.get(batch.id, { expand: ['results'] });
      expect(withResults.results?.map((r) => r.job_reference?.type)).toEqual(['extract_v2', 'extract_v2']);
      expect((await c.batches.list({ sourceDirectoryId: directory.id })).items.map((b) => b.id)).toEqual([
        batch.id,
      ]);
      expect((await c.batches.cancel(batch.id)).status).toBe('COMPLETED'); // finished batches stay finished
      await c.directories.delete(directory.id);
      expect((await c.configurations.update(saved.id, { name: 'client-test-2' })).name).toBe('client-test-2');
      await c.configurations.delete(saved.id);
      const generated = await c.extract.generateSchema({ prompt: 'the invoice number and the total' });
      expect(generated.parameters.product_type).toBe('extract_v2');
      expect(Object.keys(generated.parameters.data_schema?.properties as object)).toEqual([
        'invoice_number',
        'total_amount',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('honours Retry-After through a burst of 429s', async () => {
    const events: RequestEvent[] = [];
    const c = client({ retry: { ...FAST_RETRY, maxRetries: 10 }, onRequest: (event) => events.push(event) });
    await sim('config', { limits: { read: { max: 2, windowMs: 300 } } });
    const before = ((await sim('stats')) as SimStats).rateLimited;
    const results = await Promise.all(Array.from({ length: 6 }, () => c.files.list({ pageSize: 1 })));
    expect(results).toHaveLength(6);
    expect(((await sim('stats')) as SimStats).rateLimited).toBeGreaterThan(before);
    // Every 429 was followed by a wait of at least what the server asked for, never a hammering:
    // 6 requests at 2 per 300 ms need about 3 windows, so few attempts beyond the 6.
    expect(events.filter((e) => e.status === 200)).toHaveLength(6);
    expect(events.filter((e) => e.status === 429).length).toBeLessThan(20);
  });

  it('with retries off, a 429 surfaces at once as RateLimitedError carrying the wait', async () => {
    const c = client();
    await sim('config', { limits: { read: { max: 1, windowMs: 60_000 } } });
    await c.files.list();
    const error = await c.files.list({}, { retries: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamRateLimitedError);
    expect((error as UpstreamRateLimitedError).retryAfterMs).toBeGreaterThan(50_000);
    expect(isTransient(error)).toBe(true);
  });

  it('does not sleep in-process past the cap on Retry-After; the wait goes to the caller', async () => {
    const c = client({ retry: { ...FAST_RETRY, maxRetryAfterMs: 100 } });
    await sim('config', { limits: { read: { max: 1, windowMs: 60_000 } } });
    await c.files.list();
    await expect(c.files.list()).rejects.toBeInstanceOf(UpstreamRateLimitedError);
  });

  it('retries 5xx, then surfaces them as transient with the status and body', async () => {
    const events: RequestEvent[] = [];
    const c = client({ onRequest: (event) => events.push(event) });
    await sim('config', { faults: { http5xxRate: 1 } });
    const error = await c.files.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as Error).message).toMatch(/GET \/api\/v1\/beta\/files → 503: .*Simulated server error/);
    expect(events.map((e) => `${e.route} ${e.status}`)).toEqual(Array(3).fill('GET /api/v1/beta/files 503'));
    await sim('config', { faults: { http5xxRate: 0.5 }, seed: 3 });
    const c2 = client({ retry: { ...FAST_RETRY, maxRetries: 10 } });
    for (let i = 0; i < 5; i++) expect((await c2.files.list()).items).toBeDefined();
  });

  it('times out slow responses: reads retry, creates become ambiguous', async () => {
    const c = client({ headersTimeoutMs: 100 });
    const file = await uploadText(c, 'slow.txt', 'Invoice Number: S');
    await sim('config', { faults: { slowRate: 1, slowMs: 1000 } });
    const read = await c.files.get(file.id).catch((e: unknown) => e);
    expect(read).toBeInstanceOf(UpstreamNetworkError);
    expect((read as Error).message).toMatch(/Headers Timeout/i);
    const create = await c.extract
      .create({ fileInput: file.id, configuration: { data_schema: schema } })
      .catch((e: unknown) => e);
    expect(create).toBeInstanceOf(AmbiguousCreateError);
    expect((create as Error).message).toMatch(/may have reached LlamaCloud.*look the job up/);
  });

  it('on connection resets, retries reads and refuses to resend a create', async () => {
    const c = client();
    const file = await uploadText(c, 'reset.txt', 'Invoice Number: R');
    await sim('config', { faults: { resetRate: 1 } });
    const events: RequestEvent[] = [];
    const watched = client({ onRequest: (event) => events.push(event) });
    await expect(watched.extract.get('ext-x')).rejects.toBeInstanceOf(UpstreamNetworkError);
    expect(events).toHaveLength(3);
    const before = ((await sim('stats')) as SimStats).jobsCreated.extract;
    await expect(
      watched.extract.create({ fileInput: file.id, configuration: { data_schema: schema } }),
    ).rejects.toBeInstanceOf(AmbiguousCreateError);
    expect(events).toHaveLength(4);
    expect(((await sim('stats')) as SimStats).jobsCreated.extract).toBe(before);
  });

  it('retries a create that could not have been sent (connection refused)', async () => {
    const port = await freePort();
    const events: RequestEvent[] = [];
    const c = new LlamaCloudClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: 'k',
      retry: FAST_RETRY,
      onRequest: (e) => events.push(e),
    });
    clients.push(c);
    const error = await c.extract
      .create({ fileInput: 'dfl-1', configuration: { data_schema: schema } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamNetworkError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect(events).toHaveLength(3);
  });

  it('classifies 401, 404 and 422 as permanent, with the reason', async () => {
    const wrongKey = client({ apiKey: 'wrong-key-123' });
    const auth = await wrongKey.files.list().catch((e: unknown) => e);
    expect(auth).toBeInstanceOf(UpstreamAuthError);
    expect((auth as Error).message).toMatch(/LLAMA_CLOUD_API_KEY/);
    expect((auth as Error).message).not.toContain('wrong-key-123');
    const c = client();
    const missing = await c.extract.get('ext-missing').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UpstreamNotFoundError);
    expect(isTransient(missing)).toBe(false);
    const invalid = await c.extract
      .validateSchema({ type: 'object', properties: { a: { type: 'nope' } } })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(UpstreamRejectedError);
    expect((invalid as Error).message).toMatch(/422.*data_schema/);
  });

  it('stops waiting when the caller aborts', async () => {
    const c = client();
    await sim('config', { faults: { slowRate: 1, slowMs: 5000 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller gave up')), 50);
    await expect(c.files.list({}, { signal: controller.signal })).rejects.toThrow(/caller gave up|aborted/);
  });
});

describe('contract checks', () => {
  let bad: Server;
  let url: string;
  let reply = '';
  beforeAll(async () => {
    bad = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(reply);
    });
    await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => bad.close(() => resolve())));

  it('names the path of a field that breaks the contract, and tolerates unknown fields', async () => {
    const c = new LlamaCloudClient({ baseUrl: url, apiKey: 'k' });
    clients.push(c);
    const job = {
      id: 'ext-1',
      status: 'SOMETHING_NEW',
      file_input: 'dfl-1',
      project_id: 'p',
      created_at: 'x',
      updated_at: 'x',
    };
    reply = JSON.stringify({ ...job, brand_new_field: { nested: true } });
    expect(await c.extract.get('ext-1')).toMatchObject({
      status: 'SOMETHING_NEW',
      brand_new_field: { nested: true },
    });
    reply = JSON.stringify({ items: [job, { ...job, status: 7 }], next_page_token: null });
    const error = await c.extract.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).path).toBe('items.1.status');
    reply = '<html>oops</html>';
    await expect(c.extract.get('ext-1')).rejects.toThrow(/not JSON/);
  });
});

describe('requests match the official SDK', () => {
  it('sends the same method, path, query and body for the same calls', async () => {
    const ours = client();
    const sdk = new LlamaCloud({ apiKey: server.apiKey, baseURL: server.url, maxRetries: 0 });
    const file = await uploadText(ours, 'same.txt', 'Invoice Number: SAME');
    const parse = await ours.parse.create({ fileId: file.id, tier: 'fast' });
    const extract = await ours.extract.create({ fileInput: file.id, configuration: { data_schema: schema } });

    const pairs: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
      [
        'upload',
        () => ours.files.upload({ file: Buffer.from('x'), name: 'a.txt' }),
        () => sdk.files.create({ file: new File(['x'], 'a.txt'), purpose: 'extract' }),
      ],
      [
        'files.list',
        () => ours.files.list({ fileIds: [file.id, 'dfl-2'] }),
        () => sdk.files.list({ file_ids: [file.id, 'dfl-2'] }),
      ],
      [
        'parse.create',
        () => ours.parse.create({ fileId: file.id, tier: 'fast' }),
        () => sdk.parsing.create({ file_id: file.id, tier: 'fast', version: 'latest' }),
      ],
      [
        'parse.get',
        () => ours.parse.get(parse.id, { expand: ['text', 'markdown'] }),
        () => sdk.parsing.get(parse.id, { expand: ['text', 'markdown'] }),
      ],
      [
        'parse.list',
        () => ours.parse.list({ jobIds: [parse.id, 'pjb-2'] }),
        () => sdk.parsing.list({ job_ids: [parse.id, 'pjb-2'] }),
      ],
      [
        'extract.create',
        () =>
          ours.extract.create({
            fileInput: file.id,
            configuration: { data_schema: schema, tier: 'agentic' },
          }),
        () =>
          sdk.extract.create({
            file_input: file.id,
            configuration: { data_schema: schema, tier: 'agentic' },
          }),
      ],
      [
        'extract.get',
        () => ours.extract.get(extract.id, { expand: ['extract_metadata', 'usage'] }),
        () => sdk.extract.get(extract.id, { expand: ['extract_metadata', 'usage'] }),
      ],
      [
        'extract.list',
        () => ours.extract.list({ jobIds: [extract.id, 'ext-2'], status: 'COMPLETED', pageSize: 100 }),
        () => sdk.extract.list({ job_ids: [extract.id, 'ext-2'], status: 'COMPLETED', page_size: 100 }),
      ],
      ['extract.cancel', () => ours.extract.cancel(extract.id), () => sdk.extract.cancel(extract.id)],
      [
        'validateSchema',
        () => ours.extract.validateSchema(schema),
        () => sdk.extract.validateSchema({ data_schema: schema }),
      ],
    ];
    for (const [name, viaOurs, viaSdk] of pairs) {
      const since = await lastSeq();
      await viaOurs();
      await viaSdk();
      const [a, b] = ((await sim(`requests?since=${since}`)) as SimRequestRecord[])
        .filter((record) => record.path.startsWith('/api/'))
        .map(({ method, path, query, body }) => ({ method, path, query, body }));
      expect(a, name).toEqual(b);
    }
  });
});

async function lastSeq(): Promise<number> {
  const all = (await sim('requests?since=0')) as SimRequestRecord[];
  return all.at(-1)?.seq ?? 0;
}
