import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { SimStats } from '@docpipe/core';
import { invoiceLines, makeDocx, makePdf, makeZipBomb } from '@docpipe/testing';
import LlamaCloud from '@llamaindex/llama-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudLocal, start } from './index.js';

const invoiceSchema = {
  type: 'object',
  properties: {
    invoice_number: { type: 'string' },
    invoice_date: { type: 'string', format: 'date' },
    total_amount: { type: 'number' },
    currency: { type: 'string' },
  },
};

const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];

function sdk(server: CloudLocal, options: { maxRetries?: number; apiKey?: string } = {}) {
  return new LlamaCloud({
    apiKey: options.apiKey ?? server.apiKey,
    baseURL: server.url,
    maxRetries: options.maxRetries ?? 2,
  });
}

async function upload(client: LlamaCloud, name: string, bytes: Buffer) {
  return client.files.create({ file: new File([bytes], name), purpose: 'extract' });
}

async function waitExtract(client: LlamaCloud, id: string) {
  for (;;) {
    const job = await client.extract.get(id, { expand: ['extract_metadata', 'usage', 'configuration'] });
    if (TERMINAL.includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function sim(server: CloudLocal, path: string, body?: unknown) {
  const response = await fetch(`${server.url}/_sim/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json();
}

describe('cloud-local with the official SDK', () => {
  let server: CloudLocal;
  let client: LlamaCloud;

  beforeAll(async () => {
    server = await start({ parseThreads: 2 });
    client = sdk(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('uploads, parses (SDK waitForCompletion) and extracts from the parse job and from the file', async () => {
    const file = await upload(client, 'invoice.pdf', makePdf([invoiceLines('INV-100', '1.234,50')]));
    expect(file.id).toMatch(/^dfl-/);
    expect(file.name).toBe('invoice.pdf');

    const parse = await client.parsing.create({
      tier: 'cost_effective',
      version: 'latest',
      file_id: file.id,
    });
    expect(parse.id).toMatch(/^pjb-/);
    const parsed = await client.parsing.waitForCompletion(
      parse.id,
      { expand: ['text', 'markdown'] },
      {
        pollingInterval: 0.05,
      },
    );
    expect(parsed.job.status).toBe('COMPLETED');
    expect(parsed.text?.pages[0]?.text).toContain('Invoice Number: INV-100');
    expect(parsed.markdown?.pages[0]).toMatchObject({ page_number: 1, success: true });

    for (const fileInput of [parse.id, file.id]) {
      const created = await client.extract.create({
        file_input: fileInput,
        configuration: { data_schema: invoiceSchema, tier: 'agentic' },
      });
      expect(created.id).toMatch(/^ext-/);
      const done = await waitExtract(client, created.id);
      expect(done.status).toBe('COMPLETED');
      expect(done.extract_result).toEqual({
        invoice_number: 'INV-100',
        invoice_date: '2024-03-12',
        total_amount: 1234.5,
        currency: 'EUR',
      });
      expect(done.metadata?.usage).toEqual({ num_pages_extracted: 1, num_pages_billed: 1 });
      expect(done.usage?.credits).toBe(15);
      expect(done.configuration?.tier).toBe('agentic');
      const metadata = done.extract_metadata?.field_metadata?.document_metadata as Record<
        string,
        { citation: unknown }
      >;
      expect(metadata.invoice_number?.citation).toEqual([
        { page: 1, matching_text: 'Invoice Number: INV-100' },
      ]);
    }
  });

  it('accepts the seed-era document_input_value and config.extract_options', async () => {
    const file = await upload(client, 'old.docx', makeDocx(invoiceLines('INV-OLD', '5.00')));
    const job = (await client.post('/api/v2/extract', {
      body: { document_input_value: file.id, config: { extract_options: { data_schema: invoiceSchema } } },
    })) as { id: string };
    const done = await waitExtract(client, job.id);
    expect(done.file_input).toBe(file.id);
    expect(done.extract_result).toMatchObject({ invoice_number: 'INV-OLD', total_amount: 5 });
  });

  it('extracts one object per table row (per_table_row), with row metadata, and generates schemas', async () => {
    const html = Buffer.from(
      '<table><tr><th>Description</th><th>Qty</th><th>Amount</th></tr>' +
        '<tr><td>Desk lamp</td><td>2</td><td>49.00</td></tr><tr><td>Chair</td><td>1</td><td>189.00</td></tr></table>',
    );
    const file = await upload(client, 'items.html', html);
    const row = {
      type: 'object',
      properties: {
        description: { type: 'string' },
        quantity: { type: 'number' },
        amount: { type: 'number' },
      },
    };
    const job = await client.extract.create({
      file_input: file.id,
      configuration: { data_schema: row, extraction_target: 'per_table_row', cite_sources: true },
    });
    const done = await waitExtract(client, job.id);
    expect(done.extract_result).toEqual([
      { description: 'Desk lamp', quantity: 2, amount: 49 },
      { description: 'Chair', quantity: 1, amount: 189 },
    ]);
    const rows = (done.extract_metadata?.field_metadata as { row_metadata?: unknown[] } | undefined)
      ?.row_metadata;
    expect(rows?.[1]).toMatchObject({
      amount: { citation: [{ page: 1, matching_text: 'Chair\t1\t189.00' }] },
    });

    const invoice = await upload(client, 'gen.txt', Buffer.from(invoiceLines('G-1', '10.00').join('\n')));
    const generated = await client.extract.generateSchema({
      file_id: invoice.id,
      prompt: 'also the due date',
    });
    expect(generated.parameters).toMatchObject({ product_type: 'extract_v2' });
    const schema = (
      generated.parameters as unknown as { data_schema: { properties: Record<string, unknown> } }
    ).data_schema;
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['invoice_number', 'invoice_date', 'total_amount', 'currency', 'due_date']),
    );
    expect(schema.properties.total_amount).toEqual({
      type: ['number', 'null'],
      description: expect.any(String),
    });
    await expect(client.extract.generateSchema({})).rejects.toThrow(/prompt, a file_id or a data_schema/);
  });

  it('saves configurations (upsert by name and product), runs jobs from them, and keeps presets read-only', async () => {
    const created = await client.configurations.create({
      name: 'invoices',
      parameters: { product_type: 'extract_v2', data_schema: invoiceSchema, tier: 'agentic' },
    });
    expect(created).toMatchObject({
      id: expect.stringMatching(/^cfg-/),
      name: 'invoices',
      product_type: 'extract_v2',
    });
    const again = await client.configurations.create({
      name: 'invoices',
      parameters: { product_type: 'extract_v2', data_schema: invoiceSchema, tier: 'cost_effective' },
    });
    expect(again.id).toBe(created.id);
    expect((again.parameters as { tier: string }).tier).toBe('cost_effective');

    const file = await upload(client, 'cfg.txt', Buffer.from(invoiceLines('CFG-1', '12.00').join('\n')));
    const job = await client.extract.create({ file_input: file.id, configuration_id: created.id });
    const done = await waitExtract(client, job.id);
    expect(done).toMatchObject({ configuration_id: created.id, extract_result: { invoice_number: 'CFG-1' } });
    const listed = [];
    for await (const config of client.configurations.list({ product_type: ['extract_v2'] }))
      listed.push(config.id);
    expect(listed).toContain(created.id);

    const parse = (await client.post('/api/v2/parse', {
      body: { file_id: file.id, configuration_id: 'cfg-PARSE_AGENTIC' },
    })) as { id: string; tier: string };
    expect(parse.tier).toBe('agentic');
    await expect(
      client.extract.create({ file_input: file.id, configuration_id: 'cfg-PARSE_AGENTIC' }),
    ).rejects.toThrow(/parse_v2 configuration; this job needs extract_v2/);
    await expect(client.configurations.delete('cfg-PARSE_AGENTIC')).rejects.toThrow(/built-in preset/);
    await expect(
      client.configurations.create({
        name: 'bad',
        parameters: { product_type: 'extract_v2', data_schema: { type: 'nope' } },
      }),
    ).rejects.toThrow(/data_schema/);

    const renamed = await client.configurations.update(created.id, { name: 'invoices-v2' });
    expect(renamed).toMatchObject({ id: created.id, name: 'invoices-v2' });
    await client.configurations.delete(created.id);
    await expect(client.configurations.retrieve(created.id)).rejects.toThrow(/not found/);
  });

  it('lists jobs by repeated job_ids, newest first, with paging', async () => {
    const file = await upload(client, 'list.txt', Buffer.from(invoiceLines('L-1', '1').join('\n')));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await client.extract.create({ file_input: file.id, configuration: { data_schema: invoiceSchema } }))
          .id,
      );
    }
    const page = await client.extract.list({ job_ids: ids.slice(0, 3), page_size: 2 });
    expect(page.items.map((job) => job.id)).toEqual([ids[2], ids[1]]);
    const all: string[] = [];
    for await (const job of client.extract.list({ job_ids: ids, page_size: 2 })) all.push(job.id);
    expect(all.sort()).toEqual([...ids].sort());
    const requests = (await sim(server, 'requests?since=0')) as {
      path: string;
      query: Record<string, unknown>;
    }[];
    const listCall = requests.find((r) => r.path === '/api/v2/extract' && Array.isArray(r.query.job_ids));
    expect(listCall?.query.job_ids).toEqual(ids.slice(0, 3));
  });

  it('rejects an invalid schema with a 422 naming the problem', async () => {
    const error = await client.extract
      .validateSchema({ data_schema: { type: 'object', properties: { total: { type: 'money' } } } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlamaCloud.UnprocessableEntityError);
    expect(JSON.stringify((error as { error: unknown }).error)).toMatch(/data_schema.*properties.*total/);
    const ok = await client.extract.validateSchema({ data_schema: invoiceSchema });
    expect(ok.data_schema).toEqual(invoiceSchema);
    const file = await upload(client, 'x.txt', Buffer.from('x'));
    await expect(
      client.extract.create({ file_input: file.id, configuration: { data_schema: { type: 'string' } } }),
    ).rejects.toThrow(/configuration.*data_schema.*root of data_schema must have type/);
  });

  it('answers 401 without the API key and 404 for unknown ids and routes', async () => {
    await expect(sdk(server, { apiKey: 'wrong' }).files.list()).rejects.toBeInstanceOf(
      LlamaCloud.AuthenticationError,
    );
    await expect(client.extract.get('ext-nope')).rejects.toBeInstanceOf(LlamaCloud.NotFoundError);
    await expect(client.parsing.get('pjb-nope')).rejects.toBeInstanceOf(LlamaCloud.NotFoundError);
    const response = await fetch(`${server.url}/api/v1/unknown`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ detail: 'Not Found: GET /api/v1/unknown' });
  });

  it('fails hostile files alone, with clear messages, while serving others', async () => {
    const hostile: [string, Buffer, RegExp][] = [
      ['empty.pdf', Buffer.alloc(0), /empty/],
      ['truncated.pdf', makePdf([invoiceLines('T', '1')]).subarray(0, 200), /corrupt or truncated/],
      ['locked.pdf', makePdf([['x']], { encrypted: true }), /encrypted/],
      ['garbage.pdf', Buffer.from('garbage garbage'), /not a PDF/],
      ['bomb.docx', makeZipBomb(32), /zip bomb/],
    ];
    const good = await upload(client, 'good.pdf', makePdf([invoiceLines('GOOD', '1.00')]));
    const files = [...(await Promise.all(hostile.map(([name, bytes]) => upload(client, name, bytes)))), good];
    const jobs = await Promise.all(
      files.map((file) =>
        client.extract.create({ file_input: file.id, configuration: { data_schema: invoiceSchema } }),
      ),
    );
    const done = await Promise.all(jobs.map((job) => waitExtract(client, job.id)));
    hostile.forEach(([, , reason], i) => {
      expect(done[i]?.status).toBe('FAILED');
      expect(done[i]?.error_message).toMatch(reason);
    });
    expect(done.at(-1)).toMatchObject({ status: 'COMPLETED', extract_result: { invoice_number: 'GOOD' } });
  });

  it('keeps answering while a 100-page PDF is parsed', async () => {
    const pages = Array.from({ length: 100 }, (_, i) => [
      `Page ${i + 1}`,
      ...Array.from({ length: 40 }, (_, j) => `Line ${j} of a long report`),
    ]);
    const file = await upload(client, 'report.pdf', makePdf(pages));
    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const parse = await client.parsing.create({ tier: 'fast', version: 'latest', file_id: file.id });
    let quickAnswers = 0;
    let status = 'PENDING';
    while (!TERMINAL.includes(status)) {
      status = (await client.parsing.get(parse.id)).job.status;
      if (!TERMINAL.includes(status)) quickAnswers++;
    }
    lag.disable();
    expect(status).toBe('COMPLETED');
    // Requests were answered while the parse ran: parsing happens off the event loop.
    expect(quickAnswers).toBeGreaterThan(0);
    const parsed = await client.parsing.get(parse.id, { expand: ['text'] });
    expect(parsed.text?.pages).toHaveLength(100);
    console.info(
      `100-page PDF: ${quickAnswers} status answers during the parse; event-loop lag p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`,
    );
  });
});

describe('cloud-local simulation', () => {
  it('runs at most `capacity` extract jobs and keeps the rest THROTTLED, first in first out', async () => {
    const server = await start({
      // 600 ms per job: far longer than creating five jobs and reading their statuses takes.
      sim: { capacity: 2, timeScale: 0.01, latency: { cost_effective: { baseMs: 60_000, perPageMs: 0 } } },
    });
    try {
      const client = sdk(server);
      const file = await upload(client, 'a.txt', Buffer.from('Invoice Number: 1'));
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          (
            await client.extract.create({
              file_input: file.id,
              configuration: { data_schema: invoiceSchema },
            })
          ).id,
        );
      }
      const statuses = async () => Promise.all(ids.map(async (id) => (await client.extract.get(id)).status));
      expect(await statuses()).toEqual(['RUNNING', 'RUNNING', 'THROTTLED', 'THROTTLED', 'THROTTLED']);
      const throttled = await client.extract.list({ status: 'THROTTLED' });
      expect(throttled.items).toHaveLength(3);
      const finishedOrder: string[] = [];
      while (finishedOrder.length < ids.length) {
        for (const [i, status] of (await statuses()).entries()) {
          if (status === 'COMPLETED' && !finishedOrder.includes(ids[i]!)) finishedOrder.push(ids[i]!);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(finishedOrder.indexOf(ids[2]!)).toBeLessThan(finishedOrder.indexOf(ids[4]!));
      const stats = (await sim(server, 'stats')) as SimStats;
      expect(stats.peakRunning).toBe(2);
      expect(stats.throttledMs).toBeGreaterThan(0);
      expect(stats.jobsCreated.extract).toBe(5);
      expect(stats.duplicateJobs).toBe(4);
    } finally {
      await server.close();
    }
  });

  it('answers 429 with Retry-After past the configured rate, and the SDK waits and retries', async () => {
    const server = await start({ sim: { limits: { read: { max: 5, windowMs: 60_000 } } } });
    try {
      const noRetry = sdk(server, { maxRetries: 0 });
      const results = await Promise.allSettled(Array.from({ length: 12 }, () => noRetry.files.list()));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(7);
      expect(rejected[0]?.reason).toBeInstanceOf(LlamaCloud.RateLimitError);
      const headers = (rejected[0]!.reason as { headers: Headers }).headers;
      expect(Number(headers.get('retry-after-ms'))).toBeGreaterThan(0);
      expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await sim(server, 'stats')) as SimStats).rateLimited).toBe(7);

      // A short window: the SDK's own retries honour retry-after-ms and get through.
      await sim(server, 'config', { limits: { read: { max: 1, windowMs: 200 } } });
      const retrying = sdk(server, { maxRetries: 5 });
      const lists = await Promise.all(Array.from({ length: 3 }, () => retrying.files.list()));
      expect(lists).toHaveLength(3);
      const stats = (await sim(server, 'stats')) as SimStats;
      expect(stats.requests['GET /api/v1/beta/files']?.['429']).toBeGreaterThan(7);
    } finally {
      await server.close();
    }
  });

  it('injects 5xx faults at the configured rate, seeded', async () => {
    const server = await start({ sim: { faults: { http5xxRate: 0.5 }, seed: 7 } });
    try {
      const noRetry = sdk(server, { maxRetries: 0 });
      const results = await Promise.allSettled(Array.from({ length: 40 }, () => noRetry.files.list()));
      const failures = results.filter((r) => r.status === 'rejected');
      expect(failures.length).toBeGreaterThan(8);
      expect(failures.length).toBeLessThan(32);
      expect((failures[0] as PromiseRejectedResult).reason).toBeInstanceOf(LlamaCloud.InternalServerError);
    } finally {
      await server.close();
    }
  });

  it('fails files that match a rule with the rule message', async () => {
    const server = await start({
      sim: { fileRules: [{ pattern: '^poison', status: 'FAILED', message: 'simulated failure' }] },
    });
    try {
      const client = sdk(server);
      const file = await upload(client, 'poison-1.txt', Buffer.from('Invoice Number: 1'));
      const job = await client.extract.create({
        file_input: file.id,
        configuration: { data_schema: invoiceSchema },
      });
      expect(await waitExtract(client, job.id)).toMatchObject({
        status: 'FAILED',
        error_message: 'simulated failure',
      });
    } finally {
      await server.close();
    }
  });
});

describe('cloud-local persistence', () => {
  it('keeps files and jobs across a restart with a data directory; forgets them when ephemeral', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cloud-local-'));
    try {
      const first = await start({ dataDir });
      const client1 = sdk(first);
      const file = await upload(client1, 'keep.pdf', makePdf([invoiceLines('KEEP', '2.00')]));
      const job = await client1.extract.create({
        file_input: file.id,
        configuration: { data_schema: invoiceSchema },
      });
      await waitExtract(client1, job.id);
      await first.close();

      const second = await start({ dataDir });
      try {
        const client2 = sdk(second);
        expect((await client2.files.retrieve(file.id)).name).toBe('keep.pdf');
        expect((await client2.extract.get(job.id)).extract_result).toMatchObject({ invoice_number: 'KEEP' });
        const again = await client2.extract.create({
          file_input: file.id,
          configuration: { data_schema: invoiceSchema },
        });
        expect((await waitExtract(client2, again.id)).status).toBe('COMPLETED');
      } finally {
        await second.close();
      }

      const ephemeral = await start({});
      try {
        await expect(sdk(ephemeral).extract.get(job.id)).rejects.toBeInstanceOf(LlamaCloud.NotFoundError);
      } finally {
        await ephemeral.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('cloud-local surface', () => {
  let server: CloudLocal;
  let client: LlamaCloud;

  beforeAll(async () => {
    server = await start({
      maxUploadBytes: 64 * 1024,
      sim: { timeScale: 0.01, latency: { agentic: { baseMs: 60_000, perPageMs: 0 } } },
    });
    client = sdk(server, { maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('parses an upload in one multipart request (SDK upload_file) and lists parse jobs', async () => {
    const job = await client.parsing.create({
      tier: 'fast',
      version: 'latest',
      upload_file: new File([makePdf([['Hello parse upload']])], 'up.pdf'),
    });
    const done = await client.parsing.waitForCompletion(
      job.id,
      { expand: ['markdown_full', 'text_full'] },
      {
        pollingInterval: 0.05,
      },
    );
    expect(done.markdown_full).toBe('Hello parse upload');
    expect(done.job.usage?.credits).toBe(1);
    const listed = await client.parsing.list({ job_ids: [job.id], status: 'COMPLETED' });
    expect(listed.items.map((item) => item.id)).toEqual([job.id]);
    expect((await client.parsing.listVersions()) as unknown).toMatchObject({ versions: ['latest'] });
  });

  it('parses only the pages page_ranges asks for, and bills only those', async () => {
    const file = await upload(client, 'five.pdf', makePdf([1, 2, 3, 4, 5].map((n) => [`Page ${n}`])));
    const job = await client.parsing.create({
      tier: 'cost_effective',
      version: 'latest',
      file_id: file.id,
      page_ranges: { target_pages: '2,4-5', max_pages: 2 },
    });
    const done = await client.parsing.waitForCompletion(
      job.id,
      { expand: ['text'] },
      { pollingInterval: 0.05 },
    );
    expect(done.text?.pages.map((p) => p.text)).toEqual(['Page 2', 'Page 4']);
    expect(done.job.usage?.credits).toBe(6);
  });

  it('cancels a running extract job and deletes jobs and files', async () => {
    const file = await upload(client, 'slow.txt', Buffer.from('Invoice Number: 9'));
    const job = await client.extract.create({
      file_input: file.id,
      configuration: { data_schema: invoiceSchema, tier: 'agentic' },
    });
    const cancelled = await client.extract.cancel(job.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect((await client.extract.get(job.id)).status).toBe('CANCELLED');
    await client.extract.delete(job.id);
    await expect(client.extract.get(job.id)).rejects.toBeInstanceOf(LlamaCloud.NotFoundError);
    const content = await client.files.content(file.id);
    expect(await (await fetch(content.url)).text()).toBe('Invoice Number: 9');
    await client.files.delete(file.id);
    await expect(client.files.retrieve(file.id)).rejects.toBeInstanceOf(LlamaCloud.NotFoundError);
  });

  it('refuses an upload over the size limit with 413 and keeps nothing', async () => {
    const before = (await client.files.list()).items.length;
    await expect(upload(client, 'big.txt', Buffer.alloc(65 * 1024, 'a'))).rejects.toThrow(
      /413.*upload limit of 65536 bytes/,
    );
    expect((await client.files.list()).items.length).toBe(before);
  });

  it('resets connections when told to, and the SDK reports a connection error', async () => {
    await sim(server, 'config', { faults: { resetRate: 1 } });
    try {
      await expect(client.files.list()).rejects.toBeInstanceOf(LlamaCloud.APIConnectionError);
    } finally {
      await sim(server, 'config', { faults: { resetRate: 0 } });
    }
    expect((await client.files.list()).items).toBeDefined();
  });

  it('rejects a bad simulation update with a 422 and keeps the old config', async () => {
    const response = await fetch(`${server.url}/_sim/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ capacity: -1 }),
    });
    expect(response.status).toBe(422);
    expect(JSON.stringify(await response.json())).toMatch(/capacity/);
    expect(((await sim(server, 'config')) as { capacity: number }).capacity).toBe(0);
    await sim(server, 'reset', {});
    expect(((await sim(server, 'stats')) as SimStats).jobsCreated).toEqual({
      parse: 0,
      extract: 0,
      batch: 0,
    });
  });
});

describe('cloud-local as a process', () => {
  it('starts standalone on PORT, serves the SDK and stops on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const { freePort } = await import('@docpipe/testing');
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--conditions=@docpipe/source',
        '--import',
        'tsx',
        new URL('./main.ts', import.meta.url).pathname,
        '--ephemeral',
      ],
      { env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const client = new LlamaCloud({
        apiKey: 'llx-cloud-local',
        baseURL: `http://127.0.0.1:${port}`,
        maxRetries: 0,
      });
      for (let tries = 0; ; tries++) {
        try {
          await client.files.list();
          break;
        } catch (error) {
          if (tries > 200) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      const file = await upload(client, 'p.txt', Buffer.from('Invoice Number: P-1'));
      expect(file.id).toMatch(/^dfl-/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
