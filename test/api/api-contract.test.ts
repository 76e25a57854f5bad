import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { signBody } from '@docpipe/pipeline';
import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceSchema, mixedDocuments } from '../support/fixtures.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

const KEY = 'test-api-key-0123456789';
const WEBHOOK_SECRET = 'webhook-secret-0123456789';
let stack: Stack;
let base: string;
let docServer: Server;
let docUrl: string;
let pathRoot: string;

const doc = mixedDocuments(1)[0]!;
const extract = [{ name: 'invoice', data_schema: invoiceSchema }];
const auth = { authorization: `Bearer ${KEY}` };

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = auth) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const json = parseOrText(text);
  return { status: response.status, body: json, headers: response.headers };
}

// biome-ignore lint/suspicious/noExplicitAny: test reads of JSON answers
const json = async (response: Response): Promise<any> => response.json();

// biome-ignore lint/suspicious/noExplicitAny: test reads of JSON answers
function parseOrText(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Nothing of a rejected request may remain: no batch in Redis, no blob on disk. */
async function expectNothingCreated() {
  expect(await stack.redis.zcard(`${stack.config.redis.keyPrefix}:batches`)).toBe(0);
  expect(await stack.redis.keys(`${stack.config.redis.keyPrefix}:file:*`)).toEqual([]);
  const blobs = await readdir(stack.config.storage.blobDir, { recursive: true }).catch(() => [] as string[]);
  const files = [];
  for (const entry of blobs) if (/[0-9a-f]{64}$/.test(entry) || entry.startsWith('tmp/')) files.push(entry);
  expect(files).toEqual([]);
}

beforeAll(async () => {
  stack = await startStack({ env: { TIME_SCALE: '0.001', WEBHOOK_SIGNING_SECRET: WEBHOOK_SECRET } });
  pathRoot = join(stack.config.storage.blobDir, '..', 'inbox');
  await mkdir(pathRoot, { recursive: true });
  await writeFile(join(pathRoot, doc.name), doc.bytes);
  const api = await stack.startApi({
    API_KEYS: KEY,
    API_MAX_FILES: '3',
    BLOB_MAX_BYTES: '20000',
    API_PATH_ROOTS: pathRoot,
  });
  base = api.url;
  docServer = createServer((_req, res) => res.end(doc.bytes));
  await new Promise<void>((resolve) => docServer.listen(0, '127.0.0.1', resolve));
  docUrl = `http://127.0.0.1:${(docServer.address() as AddressInfo).port}/${doc.name}`;
});
afterAll(async () => {
  docServer?.close();
  await stack?.stop();
});

describe('POST /v1/batches rejects bad input with a clear error and creates nothing', () => {
  const good = { files: [{ name: doc.name, content_base64: doc.bytes.toString('base64') }], extract };
  const cases: [string, () => unknown, number, RegExp, string?][] = [
    ['missing extract', () => ({ files: good.files }), 400, /extract/],
    ['no files', () => ({ files: [], extract }), 400, /files: give at least one file/],
    ['files of the wrong type', () => ({ files: 'a.pdf', extract }), 400, /files: /],
    [
      'a file with two sources',
      () => ({ files: [{ url: docUrl, content_base64: 'AA==' }], extract }),
      400,
      /files\.0: give exactly one/,
    ],
    ['an unknown field', () => ({ ...good, colour: 'red' }), 400, /colour/],
    [
      'a tier that does not exist',
      () => ({ ...good, extract: [{ ...extract[0], tier: 'premium' }] }),
      400,
      /extract\.0\.tier/,
    ],
    [
      'an invalid JSON Schema',
      () => ({
        ...good,
        extract: [{ name: 'x', data_schema: { type: 'object', properties: { a: { type: 'strin' } } } }],
      }),
      400,
      /extract\.0\.data_schema/,
      'invalid_schema',
    ],
    [
      'a schema that is not an object',
      () => ({ ...good, extract: [{ name: 'x', data_schema: { type: 'array' } }] }),
      400,
      /"type": "object"/,
    ],
    ['too many files', () => ({ files: Array(4).fill(good.files[0]), extract }), 400, /at most 3 files/],
    [
      'an oversized file',
      () => ({
        files: [{ name: 'big.txt', content_base64: Buffer.alloc(30_000, 65).toString('base64') }],
        extract,
      }),
      413,
      /files\.0 \(big\.txt\).*larger than the limit of 20000 bytes/,
      'file_too_large',
    ],
    [
      'a loopback URL',
      () => ({ files: [{ url: docUrl }], extract }),
      400,
      /files\.0\.url: 127\.0\.0\.1 resolves to 127\.0\.0\.1, a loopback/,
      'url_rejected',
    ],
    [
      'a private URL',
      () => ({ files: [{ url: 'http://10.1.2.3/a.pdf' }], extract }),
      400,
      /10\.1\.2\.3.*private/,
    ],
    [
      'a link-local URL',
      () => ({ files: [{ url: 'http://169.254.169.254/latest' }], extract }),
      400,
      /link-local/,
    ],
    ['a file: URL', () => ({ files: [{ url: 'file:///etc/passwd' }], extract }), 400, /only http and https/],
    [
      'a path outside the roots',
      () => ({ files: [{ path: '/etc/passwd' }], extract }),
      400,
      /outside the allowed roots/,
      'path_rejected',
    ],
    ['a relative path', () => ({ files: [{ path: '../x.pdf' }], extract }), 400, /absolute path/],
    [
      'a priority out of range',
      () => ({ ...good, priority: 0 }),
      400,
      /priority: use 1 \(most urgent\) to 10/,
    ],
    ['a budget of zero', () => ({ ...good, budget_credits: 0 }), 400, /budget_credits/],
    ['a bad callback URL', () => ({ ...good, callback_url: 'ftp://x' }), 400, /callback_url/],
  ];
  for (const [what, body, status, message, code] of cases) {
    it(`${what} → ${status}`, async () => {
      const answer = await call('POST', '/v1/batches', body());
      expect(answer.status).toBe(status);
      expect(answer.body.error.message).toMatch(message);
      if (code) expect(answer.body.error.code).toBe(code);
      await expectNothingCreated();
    });
  }

  it('a valid file next to a bad one stores neither', async () => {
    const good = { files: [{ name: doc.name, content_base64: doc.bytes.toString('base64') }] };
    const answer = await call('POST', '/v1/batches', {
      files: [good.files[0], { url: 'http://192.168.0.1/x.pdf' }],
      extract,
    });
    expect(answer.status).toBe(400);
    await expectNothingCreated();
  });

  it('malformed JSON, a wrong content type, and multipart trouble', async () => {
    const malformed = await call('POST', '/v1/batches', '{"files": [', auth);
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    const text = await fetch(`${base}/v1/batches`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(text.status).toBe(415);
    expect((await json(text)).error.message).toMatch(/application\/json or multipart\/form-data/);

    const form = (files: number, size: number, spec: unknown = { extract }) => {
      // spec null: no spec part at all
      const data = new FormData();
      if (spec !== null) data.append('spec', JSON.stringify(spec));
      for (let i = 0; i < files; i++) data.append('file', new Blob([Buffer.alloc(size, 66)]), `f${i}.txt`);
      return fetch(`${base}/v1/batches`, { method: 'POST', headers: auth, body: data });
    };
    const tooBig = await form(1, 30_000);
    expect(tooBig.status).toBe(413);
    expect((await json(tooBig)).error.message).toMatch(/files\.0 \(f0\.txt\) is larger than the limit/);
    const tooMany = await form(4, 10);
    expect(tooMany.status).toBe(413);
    expect((await json(tooMany)).error.message).toMatch(/at most 3 files/);
    const noSpec = await form(1, 10, null);
    expect(noSpec.status).toBe(400);
    expect((await json(noSpec)).error.message).toMatch(/"spec" part/);
    const badSpec = await form(1, 10, { extract: [{ name: 'bad name!' }] });
    expect(badSpec.status).toBe(400);
    expect((await json(badSpec)).error.message).toMatch(/extract\.0\.name/);
    await expectNothingCreated();
  });

  it('bad or missing API keys → 401, and nothing else answers', async () => {
    expect((await call('POST', '/v1/batches', good, {})).status).toBe(401);
    const wrong = await call('GET', '/v1/batches', undefined, {
      authorization: 'Bearer nope-nope-nope-nope',
    });
    expect(wrong).toMatchObject({ status: 401, body: { error: { message: 'the API key is not valid' } } });
    const page = await fetch(`${base}/batches`);
    expect(page.status).toBe(401);
    expect(page.headers.get('www-authenticate')).toMatch(/Basic/);
    expect((await fetch(`${base}/admin/queues`)).status).toBe(401);
    await expectNothingCreated();
  });

  it('webhooks authenticate by signature: a bad one → 401', async () => {
    const event = JSON.stringify({ event: 'extract.success', job_id: 'ext-x', status: 'COMPLETED' });
    expect((await call('POST', '/v1/webhooks/llamacloud', event, {})).status).toBe(401);
    expect(
      (
        await call('POST', '/v1/webhooks/llamacloud', event, {
          'lc-signature': signBody('wrong-secret-000000000', event),
        })
      ).status,
    ).toBe(401);
    const good = await call('POST', '/v1/webhooks/llamacloud', event, {
      'lc-signature': signBody(WEBHOOK_SECRET, event),
    });
    expect(good).toMatchObject({ status: 202, body: { ignored: 'not in flight' } });
  });

  it('unknown ids and routes → 404; health before any worker', async () => {
    expect((await call('GET', '/v1/batches/bat_nope')).body.error.code).toBe('batch_not_found');
    expect((await call('GET', '/v1/files/fil_nope')).status).toBe(404);
    expect((await call('GET', '/v1/nothing')).status).toBe(404);
    expect((await call('GET', '/v1/batches?limit=0')).body.error.message).toMatch(/limit/);
    expect((await call('GET', '/healthz', undefined, {})).status).toBe(200);
    const ready = await call('GET', '/readyz', undefined, {});
    expect(ready).toMatchObject({ status: 503, body: { ready: false } });
    expect(ready.body.reason).toMatch(/start docpipe-worker/);
  });
});

describe('batches through the API', () => {
  it('accepts JSON, multipart, URL and path files, runs them and serves every view of the result', async () => {
    await stack.startWorkerInProcess();
    const spec = { extract, idempotency_key: 'order-42', callback_url: docUrl, budget_credits: 1000 };
    const created = await call('POST', '/v1/batches', {
      ...spec,
      files: [
        { name: doc.name, content_base64: doc.bytes.toString('base64'), metadata: { customer: 7 } },
        { path: join(pathRoot, doc.name) },
      ],
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/batches/${created.body.id}`);
    expect(created.body).toMatchObject({ status: 'running', counters: { total: 2, queued: 2 } });
    const again = await call('POST', '/v1/batches', { ...spec, files: [{ content_base64: 'AA==' }] });
    expect(again).toMatchObject({ status: 200, body: { id: created.body.id } });

    const form = new FormData();
    form.append('spec', JSON.stringify({ extract, files: [{ metadata: { from: 'form' } }] }));
    form.append('document', new Blob([doc.bytes]), doc.name);
    const multipart = await fetch(`${base}/v1/batches`, { method: 'POST', headers: auth, body: form });
    expect(multipart.status).toBe(201);
    const multipartId = (await json(multipart)).id;

    const byUrl = await startStackApiWithPrivateUrls();
    const fromUrl = await fetch(`${byUrl}/v1/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ url: docUrl }], extract }),
    });
    expect(fromUrl.status).toBe(201);
    const urlBatch = await json(fromUrl);

    for (const id of [created.body.id, multipartId, urlBatch.id]) {
      const done = await stack.waitForBatch(id);
      expect(done.status).toBe('completed');
    }
    const batch = await call('GET', `/v1/batches/${created.body.id}`);
    expect(batch.body).toMatchObject({
      status: 'completed',
      progress: { finished: 2, percent: 100 },
      eta_seconds: 0,
      counters: { completed: 2 },
      idempotency_key: 'order-42',
      budget_credits: 1000,
      credits_reserved: 0,
    });
    expect(batch.body.credits_used).toBeGreaterThan(0);

    const files = await call('GET', `/v1/batches/${created.body.id}/files?state=completed&limit=1`);
    expect(files.body.items).toHaveLength(1);
    expect(files.body.items[0]).toMatchObject({
      name: doc.name,
      state: 'completed',
      metadata: { customer: 7 },
    });
    const rest = await call(
      'GET',
      `/v1/batches/${created.body.id}/files?state=completed&limit=1&cursor=${files.body.next_cursor}`,
    );
    expect(rest.body.items[0].ordinal).toBe(1);
    expect(rest.body.next_cursor).toBeNull();
    const file = await call('GET', `/v1/files/${files.body.items[0].id}`);
    expect(file.body.remote.file_id).toMatch(/^dfl-/);

    const results = await fetch(`${base}/v1/batches/${created.body.id}/results`, { headers: auth });
    expect(results.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await results.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ batch_id: created.body.id, schema: 'invoice', status: 'completed' });
    expect(lines[0].data.invoice_number).toBe('INV-0000');
    const fromForm = await call('GET', `/v1/batches/${multipartId}/files`);
    expect(fromForm.body.items[0].metadata).toEqual({ from: 'form' });

    const list = await call('GET', '/v1/batches?limit=2');
    expect(list.body.items.map((b: { id: string }) => b.id)).toEqual([urlBatch.id, multipartId]);
    expect(list.body.next_cursor).not.toBeNull();

    const ready = await call('GET', '/readyz', undefined, {});
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/docpipe_queue_jobs\{queue="upload",state="completed"\} [1-9]/);
  });

  it('streams progress and file transitions over SSE, and resumes after Last-Event-ID', async () => {
    const created = await call('POST', '/v1/batches', {
      files: mixedDocuments(3).map((d) => ({ name: d.name, content_base64: d.bytes.toString('base64') })),
      extract,
    });
    const events = await readEvents(`/v1/batches/${created.body.id}/events?last_event_id=0`, (seen) =>
      seen.some((e) => e.event === 'progress' && JSON.parse(e.data).status === 'completed'),
    );
    const transitions = events.filter((e) => e.event === 'file');
    expect(events[0]!.event).toBe('progress');
    // queued → uploading → extracting → completed for each of 3 files
    expect(transitions.map((e) => JSON.parse(e.data).to).filter((to) => to === 'completed')).toHaveLength(3);
    expect(transitions).toHaveLength(9);
    const middle = transitions[4]!.id!;
    const resumed = await readEvents(
      `/v1/batches/${created.body.id}/events`,
      (seen) => seen.filter((e) => e.event === 'file').length >= 4,
      { 'last-event-id': middle },
    );
    expect(resumed.filter((e) => e.event === 'file').map((e) => e.id)).toEqual(
      transitions.slice(5).map((e) => e.id),
    );
  });

  it('retries failed files and cancels a running batch through the API', async () => {
    await stack.sim('config', {
      fileRules: [{ pattern: '^poison', status: 'FAILED', message: 'simulated' }],
    });
    const created = await call('POST', '/v1/batches', {
      // Bytes of its own: an upload of known bytes reuses the cached file under its first name.
      files: [{ name: 'poison.txt', content_base64: Buffer.from('Invoice Number: P-1').toString('base64') }],
      extract,
    });
    const failed = await stack.waitForBatch(created.body.id);
    expect(failed.status).toBe('completed_with_errors');
    await stack.sim('config', { fileRules: [] });
    const retried = await call('POST', `/v1/batches/${created.body.id}/retry-failed`, {});
    expect(retried).toMatchObject({
      status: 202,
      body: { retried: { extract: 1 }, batch: { status: 'running' } },
    });
    expect((await stack.waitForBatch(created.body.id)).status).toBe('completed');

    // A slow upstream keeps the next batch running while it is cancelled.
    await stack.sim('config', {
      latency: { cost_effective: { baseMs: 60_000, perPageMs: 0 } },
      timeScale: 1,
    });
    const slow = await call('POST', '/v1/batches', {
      files: mixedDocuments(2).map((d) => ({ name: d.name, content_base64: d.bytes.toString('base64') })),
      extract,
    });
    for (let i = 0; i < 200; i++) {
      const files = await call('GET', `/v1/batches/${slow.body.id}/files?state=extracting`);
      if (files.body.items.length === 2) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 200)); // let both extract jobs create their remote jobs
    const cancelled = await call('POST', `/v1/batches/${slow.body.id}/cancel`, {});
    expect(cancelled).toMatchObject({ status: 202, body: { cancelled: 2, batch: { status: 'cancelled' } } });
    expect(cancelled.body.remote_cancelled).toBe(2);
    const stats = await stack.sim<{ requests: Record<string, Record<string, number>> }>('stats');
    expect(stats.requests['POST /api/v2/extract/:id/cancel']?.['200']).toBe(2);
    await stack.sim('config', { latency: { cost_effective: { baseMs: 0, perPageMs: 0 } } });
  });
});

async function startStackApiWithPrivateUrls() {
  const api = await stack.startApi({ API_ALLOW_PRIVATE_URLS: 'true' });
  return api.url;
}

/** Reads an SSE stream until `enough` says so (or 20 s pass), then closes it. */
async function readEvents(
  path: string,
  enough: (events: EventSourceMessage[]) => boolean,
  headers: Record<string, string> = {},
) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 20_000);
  const response = await fetch(`${base}${path}`, {
    headers: { ...auth, ...headers },
    signal: controller.signal,
  });
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  const events: EventSourceMessage[] = [];
  const stream = response
    .body!.pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>)
    .pipeThrough(new EventSourceParserStream());
  try {
    for await (const event of stream as unknown as AsyncIterable<EventSourceMessage>) {
      events.push(event);
      if (enough(events)) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}
