/**
 * Queue families on one Redis, through the API: a batch's files spread over the families, each
 * file view names its family, and Bull Board shows every family's queues under its own name.
 */
import { familyOf } from '@docpipe/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mixedDocuments, twoSchemas } from '../support/fixtures.js';
import { type Stack, startStack } from '../support/pipeline-stack.js';

const KEY = 'families-test-key-0123456789';
const auth = { authorization: `Bearer ${KEY}` };
let stack: Stack;
let base: string;

beforeAll(async () => {
  stack = await startStack({ env: { TIME_SCALE: '0.001', REDIS_QUEUE_FAMILIES: '3' } });
  await stack.startWorkerInProcess();
  base = (await stack.startApi({ API_KEYS: KEY })).url;
});
afterAll(async () => {
  await stack?.stop();
});

describe('queue families', () => {
  it("spread a batch over 3 families, name each file's family, and show them in Bull Board", async () => {
    const { batch } = await stack.enqueue(mixedDocuments(12), twoSchemas);
    expect((await stack.waitForBatch(batch.id)).status).toBe('completed');

    const files = (await (await fetch(`${base}/v1/batches/${batch.id}/files`, { headers: auth })).json()) as {
      items: { id: string; queue_family: number }[];
    };
    expect(files.items).toHaveLength(12);
    for (const file of files.items) expect(file.queue_family).toBe(familyOf(file.id, 3));
    expect(new Set(files.items.map((f) => f.queue_family)).size).toBeGreaterThan(1);

    const board = (await (await fetch(`${base}/admin/queues/api/queues`, { headers: auth })).json()) as {
      queues: { name: string }[];
    };
    expect(board.queues.map((q) => q.name).sort()).toEqual(
      [0, 1, 2]
        .flatMap((k) => ['upload', 'parse', 'extract'].map((s) => `family${k}-${s}`))
        .concat('notify', 'poll')
        .sort(),
    );
    // A file's upload job is where its view says.
    const [file] = files.items;
    const job = await fetch(
      `${base}/admin/queues/api/queues/family${file!.queue_family}-upload/${batch.id}.${file!.id}.upload`,
      { headers: auth },
    );
    expect(job.status).toBe(200);
    expect(((await job.json()) as { job: { id: string } }).job.id).toBe(`${batch.id}.${file!.id}.upload`);
  });
});
