import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { COOKBOOK_LATENCY } from '@docpipe/core';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceSchema, mixedDocuments } from '../support/fixtures.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

/** Debian's Chromium (apt-get install chromium); CHROMIUM_PATH overrides. Missing → the test fails. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const KEY = 'browser-test-key-0123456789';
/** Where the screenshot goes; set DOCPIPE_SCREENSHOT to refresh the README's image. */
const SCREENSHOT = process.env.DOCPIPE_SCREENSHOT ?? join(tmpdir(), 'docpipe-dashboard.png');

let stack: Stack;
let browser: Browser;
let base: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  // Seed 000's latencies at 1/50: a batch of 24 takes a few seconds, long enough to watch.
  stack = await startStack({
    sim: {
      timeScale: 0.02,
      latency: COOKBOOK_LATENCY,
      capacity: 6,
      fileRules: [{ pattern: '^damaged', status: 'FAILED', message: 'simulated: the scan is unreadable' }],
    },
    env: { TIME_SCALE: '0.02' },
  });
  await stack.startWorkerInProcess();
  base = (await stack.startApi({ API_KEYS: KEY })).url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('the batch dashboard in Chromium', () => {
  it('shows live progress and failure reasons, retries failed files, and links to Bull Board', async () => {
    // The last two fail until the retry: cloud-local's file rule matches their names.
    const documents = mixedDocuments(24).map((d, i) => (i >= 22 ? { ...d, name: `damaged-${d.name}` } : d));
    const created = await fetch(`${base}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        files: documents.map((d) => ({ name: d.name, content_base64: d.bytes.toString('base64') })),
        extract: [{ name: 'invoice', data_schema: invoiceSchema }],
      }),
    });
    expect(created.status).toBe(201);
    const batchId = ((await created.json()) as { id: string }).id;

    const context = await browser.newContext({
      httpCredentials: { username: 'docpipe', password: KEY },
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));

    await page.goto(`${base}/batches`);
    await expect.poll(() => page.locator(`a[href="/batches/${batchId}"]`).count()).toBe(1);

    await page.goto(`${base}/batches/${batchId}`);
    const percent = async () => Number((await page.locator('#percent').textContent())?.replace('%', ''));
    const first = await percent();
    expect(first).toBeLessThan(100);
    // Progress advances live (SSE), without reloading the page.
    await expect.poll(percent, { timeout: 30_000 }).toBeGreaterThan(first);
    await page.locator('#status', { hasText: 'completed with errors' }).waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-counter="completed"]').textContent()).toBe('22');
    expect(await page.locator('[data-counter="failed"]').textContent()).toBe('2');

    await page.locator('#state-filter').selectOption('failed');
    await expect.poll(() => page.locator('#files tbody tr').count()).toBe(2);
    const failure = await page.locator('#files tbody tr').first().locator('.failure').textContent();
    expect(failure).toMatch(/extract: .*simulated: the scan is unreadable \(attempt 1\)/);
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: false });
    await page.locator('#state-filter').selectOption('');

    await stack.sim('config', { fileRules: [] });
    await page.locator('#retry-failed').click();
    await page.locator('#action-message', { hasText: 'Retrying 2 files' }).waitFor();
    await page.locator('#status', { hasText: /^completed$/ }).waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-counter="completed"]').textContent()).toBe('24');
    expect(await page.locator('[data-counter="failed"]').textContent()).toBe('0');

    // The file's job in Bull Board, and the queues page.
    const jobLink = page.locator('#files tbody tr').first().locator('a', { hasText: 'upload' });
    const href = (await jobLink.getAttribute('href'))!;
    expect(href).toMatch(new RegExp(`^/admin/queues/queue/upload/${batchId}\\.`));
    await page.goto(`${base}${href}`);
    await page
      .getByText(decodeURIComponent(href.split('/').pop()!))
      .first()
      .waitFor({ timeout: 15_000 });
    await page.goto(`${base}/admin/queues`);
    for (const queue of ['upload', 'extract', 'poll'])
      await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 });
    expect(problems).toEqual([]);
    await context.close();
  }, 120_000);
});
