import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalBlobStore } from './blob-store.js';
import { BlobTooLargeError, NotFoundError } from './errors.js';
import { LocalResultStore } from './result-store.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'docpipe-blobs-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('LocalBlobStore', () => {
  it('stores a stream under its sha256 and streams it back', async () => {
    const store = new LocalBlobStore(root, 1024 * 1024);
    const content = randomBytes(300_000);
    const chunks = [content.subarray(0, 100_000), content.subarray(100_000)];
    const stored = await store.put(Readable.from(chunks));
    expect(stored).toEqual({
      sha256: createHash('sha256').update(content).digest('hex'),
      sizeBytes: 300_000,
    });
    expect(await store.has(stored.sha256)).toBe(true);
    expect(await store.size(stored.sha256)).toBe(300_000);
    const back = Buffer.concat(await (await store.get(stored.sha256)).toArray());
    expect(back.equals(content)).toBe(true);
  });

  it('keeps one complete copy when the same content is written concurrently', async () => {
    const store = new LocalBlobStore(root, 1024 * 1024);
    const content = randomBytes(200_000);
    const results = await Promise.all(Array.from({ length: 10 }, () => store.put(content)));
    expect(new Set(results.map((r) => r.sha256)).size).toBe(1);
    const back = Buffer.concat(await (await store.get(results[0]!.sha256)).toArray());
    expect(back.equals(content)).toBe(true);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('rejects content over the limit and leaves nothing behind', async () => {
    const store = new LocalBlobStore(root, 1000);
    await expect(store.put(randomBytes(1001))).rejects.toThrow(BlobTooLargeError);
    await expect(store.put(Readable.from([randomBytes(600), randomBytes(600)]))).rejects.toThrow(
      /limit of 1000 bytes/,
    );
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    expect((await readdir(root)).filter((d) => d !== 'tmp')).toEqual([]);
    expect((await store.put(randomBytes(1000))).sizeBytes).toBe(1000);
  });

  it('says clearly when a blob is missing', async () => {
    const store = new LocalBlobStore(root, 1000);
    await expect(store.get('0'.repeat(64))).rejects.toThrow(NotFoundError);
    await expect(store.get('../../etc/passwd')).rejects.toThrow(/not a hex sha256/);
  });
});

describe('LocalResultStore', () => {
  it('writes one JSON document per file and task, atomically, and lists a batch', async () => {
    const store = new LocalResultStore(root);
    await store.put('bat_1', 'fil_1', 'invoice', { total: 1 });
    await store.put('bat_1', 'fil_1', 'invoice', { total: 2 });
    await store.put('bat_1', 'fil_2', 'invoice', { total: 3 });
    expect(await store.get('bat_1', 'fil_1', 'invoice')).toEqual({ total: 2 });
    expect(await store.get('bat_1', 'fil_9', 'invoice')).toBeUndefined();
    const listed = [];
    for await (const doc of store.list('bat_1')) listed.push(doc);
    expect(listed).toEqual([{ total: 2 }, { total: 3 }]);
    expect(await readdir(join(root, 'bat_1'))).toHaveLength(2);
    await expect(store.put('../x', 'f', 't', {})).rejects.toThrow(/batch id/);
  });
});
