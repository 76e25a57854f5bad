import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invoiceLines, makePdf } from '@docpipe/testing';
import LlamaCloud from '@llamaindex/llama-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudLocal, start } from './index.js';

const invoiceSchema = {
  type: 'object',
  properties: { invoice_number: { type: 'string' }, total_amount: { type: 'number' } },
};
const SECRET = 'batch-webhook-secret-0123';

async function sim(server: CloudLocal, body: unknown) {
  await fetch(`${server.url}/_sim/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A webhook receiver that answers 500 to the first delivery, then 200, and checks signatures. */
function receiver() {
  const events: { event: string; batch_id?: string; status: string; signed: boolean }[] = [];
  let calls = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls += 1;
      if (calls === 1) return res.writeHead(500).end();
      const body = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
      const given = Buffer.from(String(req.headers['lc-signature'] ?? ''));
      const signed = given.length === expected.length && timingSafeEqual(given, expected);
      events.push({ ...JSON.parse(body.toString()), signed });
      res.writeHead(200).end();
    });
  });
  return { server, events };
}

describe('directories and batches with the official SDK (seed 001)', () => {
  let server: CloudLocal;
  let client: LlamaCloud;
  const hook = receiver();

  beforeAll(async () => {
    server = await start({ parseThreads: 2 });
    client = new LlamaCloud({ apiKey: server.apiKey, baseURL: server.url, maxRetries: 0 });
    await new Promise<void>((resolve) => hook.server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await server?.close();
    hook.server.close();
  });

  async function directoryOf(count: number, hostile = 0) {
    const directory = await client.beta.directories.create({
      name: `invoices-${count}`,
      type: 'ephemeral',
      // Seed 001 passes an expiry; the SDK types do not list it, the service takes it.
      ...({ expires_at: new Date(Date.now() + 2 * 86_400_000).toISOString() } as object),
    });
    for (let i = 0; i < count; i++) {
      const name = i < hostile ? `broken-${i}.pdf` : `invoice-${i}.pdf`;
      const bytes =
        i < hostile ? Buffer.from('%PDF-1.7 truncated') : makePdf([invoiceLines(`B-${i}`, `${i}.50`)]);
      await client.beta.directories.files.upload(directory.id, {
        upload_file: new File([bytes], name),
        display_name: name,
      });
    }
    return directory;
  }

  it('runs a saved extract configuration over a directory: one result per file, failures per file', async () => {
    const directory = await directoryOf(20, 1);
    expect(directory).toMatchObject({ type: 'ephemeral', expires_at: expect.any(String) });
    const files = [];
    for await (const file of client.beta.directories.files.list(directory.id)) files.push(file);
    expect(files).toHaveLength(20);
    expect(files[1]).toMatchObject({ directory_id: directory.id, display_name: 'invoice-1.pdf' });

    const configuration = await client.configurations.create({
      name: 'batch-invoices',
      parameters: { product_type: 'extract_v2', data_schema: invoiceSchema },
    });
    const url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hook`;
    let batch = await client.batches.create({
      source_directory_id: directory.id,
      config: { job: { type: 'extract_v2', configuration_id: configuration.id } },
      webhook_configurations: [
        {
          webhook_url: url,
          webhook_signing_secret: SECRET,
          webhook_output_format: 'json',
          webhook_events: ['batch.success', 'batch.running'],
        },
      ],
    });
    expect(batch.status).toBe('PENDING');
    while (!['COMPLETED', 'FAILED', 'CANCELLED'].includes(batch.status)) {
      await new Promise((r) => setTimeout(r, 20));
      batch = await client.batches.get(batch.id);
    }
    expect(batch.status).toBe('COMPLETED');
    expect(batch.results).toBeNull();

    const full = await client.batches.get(batch.id, { expand: ['results'] });
    expect(full.results).toHaveLength(20);
    const statuses = await Promise.all(
      (full.results ?? []).map(async (result) => {
        expect(result.job_reference?.type).toBe('extract_v2');
        const job = await client.extract.get(result.job_reference!.id);
        return [job.status, job.extract_result, job.error_message] as const;
      }),
    );
    expect(statuses.filter(([status]) => status === 'COMPLETED')).toHaveLength(19);
    const [broken] = statuses.filter(([status]) => status === 'FAILED');
    expect(broken?.[2]).toMatch(/corrupt or truncated|not a PDF/);
    expect(statuses[5]?.[1]).toMatchObject({ invoice_number: 'B-5', total_amount: 5.5 });

    const listed = [];
    for await (const item of client.batches.list({ status: 'COMPLETED', source_directory_id: directory.id }))
      listed.push(item.id);
    expect(listed).toEqual([batch.id]);

    // The first delivery got a 500 and was retried; every event is signed.
    for (let i = 0; i < 100 && !hook.events.some((e) => e.event === 'batch.success'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(hook.events.filter((e) => e.event === 'batch.success')).toEqual([
      {
        event: 'batch.success',
        batch_id: batch.id,
        status: 'COMPLETED',
        created_at: expect.any(String),
        error_message: null,
        signed: true,
      },
    ]);
    expect(hook.events.every((e) => e.signed)).toBe(true);
  });

  it('delays and duplicates webhook deliveries under simulation', async () => {
    const seen: string[] = [];
    const counter = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        seen.push(`${body.job_id} ${body.event}`);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => counter.listen(0, '127.0.0.1', resolve));
    await sim(server, { faults: { webhookDuplicateRate: 1, webhookDelayMs: 200 } });
    try {
      const file = await client.files.create({
        file: new File(['Invoice No: W-1'], 'w.txt'),
        purpose: 'extract',
      });
      const url = `http://127.0.0.1:${(counter.address() as AddressInfo).port}/`;
      const jobs = [];
      for (let i = 0; i < 3; i++)
        jobs.push(
          await client.extract.create({
            file_input: file.id,
            configuration: { data_schema: invoiceSchema },
            webhook_configurations: [
              { webhook_url: url, webhook_output_format: 'json', webhook_events: ['extract.success'] },
            ],
          }),
        );
      for (let i = 0; i < 100 && seen.length < 6; i++) await new Promise((r) => setTimeout(r, 50));
      expect(seen.sort()).toEqual(
        jobs.flatMap((job) => [`${job.id} extract.success`, `${job.id} extract.success`]).sort(),
      );
    } finally {
      await sim(server, { faults: { webhookDuplicateRate: 0, webhookDelayMs: 0 } });
      counter.close();
    }
  });

  it('cancels a running batch: open jobs cancelled, finished ones kept', async () => {
    const directory = await directoryOf(6);
    // Two jobs at a time, each a second: the batch is mid-way when it is cancelled.
    await sim(server, { capacity: 2, latency: { cost_effective: { baseMs: 1000, perPageMs: 0 } } });
    try {
      const batch = await client.batches.create({
        source_directory_id: directory.id,
        config: { job: { type: 'parse_v2', configuration_id: 'cfg-PARSE_COST_EFFECTIVE' } },
      });
      await new Promise((r) => setTimeout(r, 300));
      const cancelled = await client.batches.cancel(batch.id);
      expect(cancelled.status).toBe('CANCELLED');
      const full = await client.batches.get(batch.id, { expand: ['results'] });
      const jobs = await Promise.all(
        (full.results ?? [])
          .filter((r) => r.job_reference)
          .map((r) => client.parsing.get(r.job_reference!.id).then((j) => j.job.status)),
      );
      expect(jobs.length).toBeGreaterThan(0);
      expect(jobs.every((status) => status === 'CANCELLED' || status === 'COMPLETED')).toBe(true);
      expect(full.results).toHaveLength(6);
      const listed = [];
      for await (const item of client.batches.list({ status: 'CANCELLED' })) listed.push(item.id);
      expect(listed).toContain(batch.id);
    } finally {
      await sim(server, { capacity: 0, latency: { cost_effective: { baseMs: 0, perPageMs: 0 } } });
    }
  });

  it('refuses more than 1,000 source files, unknown directories and configurations of another product', async () => {
    const directory = await client.beta.directories.create({ name: 'too-many' });
    const file = await client.files.create({
      file: new File(['Invoice No: 1'], 'one.txt'),
      purpose: 'extract',
    });
    for (let i = 0; i < 1001; i++)
      await client.beta.directories.files.add(directory.id, { file_id: file.id });
    const create = (
      source: string,
      configuration_id = 'cfg-PARSE_FAST',
      type: 'parse_v2' | 'extract_v2' = 'parse_v2',
    ) => client.batches.create({ source_directory_id: source, config: { job: { type, configuration_id } } });
    await expect(create(directory.id)).rejects.toThrow(
      /limited to 1,000 source files; directory dir-\S+ has 1001/,
    );
    await expect(create('dir-nope')).rejects.toThrow(/Directory dir-nope not found/);
    await expect(create(directory.id, 'cfg-PARSE_FAST', 'extract_v2')).rejects.toThrow(
      /parse_v2 configuration; this job needs extract_v2/,
    );

    await client.beta.directories.delete(directory.id);
    await expect(client.beta.directories.get(directory.id)).rejects.toThrow(/not found/);
    const deleted = [];
    for await (const d of client.beta.directories.list({ include_deleted: true })) deleted.push(d.id);
    expect(deleted).toContain(directory.id);
  }, 60_000);
});
