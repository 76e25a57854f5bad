import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IllegalTransitionError, NotFoundError } from './errors.js';
import type { BatchSpec, FileState, NewFile } from './records.js';
import type { Redis } from './redis.js';
import { connectRedis } from './redis.js';
import { type PrivateRedis, startRedis } from './redis-server.js';
import { StateStore } from './state-store.js';

let server: PrivateRedis;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = await connectRedis(server.url, { role: 'producer' });
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const spec: BatchSpec = {
  extract: [
    {
      name: 'invoice',
      data_schema: { type: 'object', properties: {} },
      tier: 'cost_effective',
      extraction_target: 'per_doc',
      cite_sources: true,
      confidence_scores: true,
    },
  ],
};

/** Each test gets its own key prefix, so tests never see each other's records. */
function freshStore() {
  return new StateStore(redis, `{t${randomBytes(4).toString('hex')}}`);
}

function files(count: number): NewFile[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `doc-${i}.pdf`,
    sha256: randomBytes(32).toString('hex'),
    sizeBytes: 100 + i,
  }));
}

async function walk(store: StateStore, fileId: string, states: FileState[]) {
  for (const state of states) await store.transition(fileId, state);
}

describe('StateStore', () => {
  it('creates a batch with every file queued', async () => {
    const store = freshStore();
    const { batch, files: created, created: isNew } = await store.createBatch({ spec, files: files(3) });
    expect(isNew).toBe(true);
    expect(batch.status).toBe('running');
    expect(batch.counters.total).toBe(3);
    expect(batch.counters.byState.queued).toBe(3);
    expect(batch.spec).toEqual(spec);
    expect(created.map((f) => f.name)).toEqual(['doc-0.pdf', 'doc-1.pdf', 'doc-2.pdf']);
    expect(created.every((f) => f.state === 'queued' && f.batchId === batch.id)).toBe(true);
  });

  it('returns the same batch for the same idempotency key, even when producers race', async () => {
    const store = freshStore();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        store.createBatch({ spec, files: files(2), idempotencyKey: 'order-42' }),
      ),
    );
    const ids = new Set(results.map((r) => r.batch.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await redis.zcard(store.keys.batches())).toBe(1);
  });

  it('moves a file along the pipeline and records remote ids, errors and times', async () => {
    const store = freshStore();
    const {
      files: [file],
    } = await store.createBatch({ spec, files: files(1) });
    await store.transition(file!.id, 'uploading');
    await store.transition(file!.id, 'parsing', { remoteFileId: 'dfl-1' });
    await store.transition(file!.id, 'extracting', { parseJobId: 'pjb-1' });
    const result = await store.transition(file!.id, 'completed');
    expect(result).toEqual({ outcome: 'ok', from: 'extracting', batchDone: true, batchStatus: 'completed' });
    const record = await store.getFile(file!.id);
    expect(record).toMatchObject({ state: 'completed', remoteFileId: 'dfl-1', parseJobId: 'pjb-1' });
    expect(record.startedAt).toBeGreaterThan(0);
    expect(record.finishedAt).toBeGreaterThanOrEqual(record.startedAt!);
  });

  it('treats a move into the current state as a no-op', async () => {
    const store = freshStore();
    const {
      files: [file],
    } = await store.createBatch({ spec, files: files(1) });
    await store.transition(file!.id, 'uploading');
    expect((await store.transition(file!.id, 'uploading')).outcome).toBe('noop');
    expect((await store.getBatch(file!.batchId)).counters.byState.uploading).toBe(1);
  });

  it('rejects illegal transitions and leaves the record untouched', async () => {
    const store = freshStore();
    const {
      files: [file],
    } = await store.createBatch({ spec, files: files(1) });
    await expect(store.transition(file!.id, 'completed')).rejects.toThrow(IllegalTransitionError);
    await expect(store.transition(file!.id, 'completed')).rejects.toThrow(
      /cannot move from queued to completed/,
    );
    await walk(store, file!.id, ['uploading', 'extracting', 'completed']);
    await expect(store.transition(file!.id, 'uploading')).rejects.toThrow(/from completed to uploading/);
    expect((await store.getFile(file!.id)).state).toBe('completed');
    await expect(store.transition('fil_missing', 'uploading')).rejects.toThrow(NotFoundError);
  });

  it('restarts a file at the upload once per round, and never moves a late upload back', async () => {
    const store = freshStore();
    const {
      files: [file],
    } = await store.createBatch({ spec, files: files(1) });
    await walk(store, file!.id, ['uploading', 'parsing']);
    // An upload that runs again late cannot move the file back.
    await expect(store.transition(file!.id, 'uploading')).rejects.toThrow(/from parsing to uploading/);
    expect(await store.restartAtUpload(file!.id, 1)).toBe(true);
    expect(await store.getFile(file!.id)).toMatchObject({ state: 'uploading', round: 2 });
    // A second run of the same restart finds the file moved on.
    await store.transition(file!.id, 'parsing');
    expect(await store.restartAtUpload(file!.id, 1)).toBe(false);
    expect(await store.getFile(file!.id)).toMatchObject({ state: 'parsing', round: 2 });
  });

  it('keeps counters exact under 100 concurrent transitions and completes the batch exactly once', async () => {
    const store = freshStore();
    const { batch, files: created } = await store.createBatch({ spec, files: files(100) });
    // Every file races through its states; some fail. Concurrent duplicates of each move are
    // sent too, as a retried job would, and must be no-ops.
    const results = await Promise.all(
      created.map(async (file, i) => {
        await Promise.all([store.transition(file.id, 'uploading'), store.transition(file.id, 'uploading')]);
        await store.transition(file.id, 'extracting');
        const end = i % 10 === 0 ? 'failed' : 'completed';
        const [a, b] = await Promise.all([
          store.transition(
            file.id,
            end,
            end === 'failed' ? { error: { stage: 'extract', code: 'remote_failed', message: 'x' } } : {},
          ),
          store.transition(file.id, end),
        ]);
        return [a, b];
      }),
    );
    const done = results.flat().filter((r) => r.batchDone);
    expect(done).toHaveLength(1);
    const final = await store.getBatch(batch.id);
    expect(final.status).toBe('completed_with_errors');
    expect(final.sequence).toBe(1);
    expect(final.counters.byState).toEqual({
      queued: 0,
      uploading: 0,
      parsing: 0,
      extracting: 0,
      completed: 90,
      failed: 10,
      skipped: 0,
      cancelled: 0,
    });
    expect(await redis.zcard(store.keys.batchFiles(batch.id, 'completed'))).toBe(90);
    expect(await redis.zcard(store.keys.batchFiles(batch.id, 'failed'))).toBe(10);
    const failed = await store.listFiles(batch.id, { state: 'failed' });
    expect(failed.items[0]?.error).toEqual({ stage: 'extract', code: 'remote_failed', message: 'x' });
  });

  it('reopens a finished batch when a failed file is retried, and completes it again', async () => {
    const store = freshStore();
    const {
      batch,
      files: [file],
    } = await store.createBatch({ spec, files: files(1) });
    await walk(store, file!.id, ['uploading', 'failed']);
    expect((await store.getBatch(batch.id)).status).toBe('completed_with_errors');
    await store.transition(file!.id, 'queued', { round: 2, error: null });
    const reopened = await store.getBatch(batch.id);
    expect(reopened.status).toBe('running');
    expect(reopened.finishedAt).toBeUndefined();
    expect((await store.getFile(file!.id)).error).toBeUndefined();
    await walk(store, file!.id, ['uploading', 'extracting']);
    const again = await store.transition(file!.id, 'completed');
    expect(again.batchDone).toBe(true);
    const final = await store.getBatch(batch.id);
    expect(final).toMatchObject({ status: 'completed', sequence: 2 });
    expect((await store.getFile(file!.id)).round).toBe(2);
  });

  it('holds credits within the budget, takes billed credits out of the hold, and releases the rest', async () => {
    const store = freshStore();
    const {
      batch,
      files: [a, b, c],
    } = await store.createBatch({ spec, files: files(3), budgetCredits: 20 });
    expect((await store.reserveCredits(a!, 8)).granted).toBe(true);
    expect((await store.reserveCredits(a!, 8)).granted).toBe(true); // a re-delivery holds once
    expect(await store.reserveCredits(b!, 10)).toMatchObject({ granted: true, used: 0, reserved: 18 });
    expect(await store.reserveCredits(c!, 5)).toMatchObject({
      granted: false,
      refusedBy: 'batch',
      used: 0,
      reserved: 18,
    });
    // a is billed 5 of its 8: 5 used, 3 + 10 held; c's 5 still does not fit (5 + 13 + 5 > 20).
    expect(await store.chargeCredits(a!, 5)).toBe(5);
    expect((await store.reserveCredits(c!, 5)).granted).toBe(false);
    // a finishes: the 3 it did not spend go back, and c fits.
    await walk(store, a!.id, ['uploading', 'extracting', 'completed']);
    expect((await store.getBatch(batch.id)).creditsReserved).toBe(10);
    expect(await store.reserveCredits(c!, 5)).toMatchObject({ granted: true, used: 5, reserved: 15 });
    // Lowering a hold always succeeds; a batch without a budget always grants.
    expect((await store.reserveCredits(b!, 2)).reserved).toBe(7);
    const unlimited = await store.createBatch({ spec, files: files(1) });
    expect((await store.reserveCredits(unlimited.files[0]!, 1e9)).granted).toBe(true);
  });

  it('holds and charges every batch against one daily cap', async () => {
    const store = freshStore();
    const first = await store.createBatch({ spec, files: files(2) });
    const second = await store.createBatch({ spec, files: files(1), budgetCredits: 1000 });
    expect((await store.reserveCredits(first.files[0]!, 60, 100)).granted).toBe(true);
    expect(await store.reserveCredits(second.files[0]!, 50, 100)).toMatchObject({
      granted: false,
      refusedBy: 'day',
      day: { used: 0, reserved: 60 },
    });
    await store.chargeCredits(first.files[0]!, 60);
    await walk(store, first.files[0]!.id, ['uploading', 'extracting', 'completed']);
    expect(await store.creditDay()).toEqual({ used: 60, reserved: 0 });
    expect((await store.reserveCredits(second.files[0]!, 40, 100)).granted).toBe(true);
    expect((await store.reserveCredits(first.files[1]!, 1, 100)).granted).toBe(false);
    await store.transition(first.files[1]!.id, 'skipped', { skipReason: 'budget' });
    expect(await store.creditDay()).toEqual({ used: 60, reserved: 40 });
  });

  it('lists files by state with cursor pagination', async () => {
    const store = freshStore();
    const { batch, files: created } = await store.createBatch({ spec, files: files(25) });
    for (const file of created.filter((_, i) => i % 2 === 0)) await store.transition(file.id, 'uploading');
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listFiles(batch.id, {
        state: 'uploading',
        limit: 5,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.items.map((f) => f.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(created.filter((_, i) => i % 2 === 0).map((f) => f.name));
    const all = await store.listFiles(batch.id, { limit: 1000 });
    expect(all.items).toHaveLength(25);
    expect(all.nextCursor).toBeUndefined();
  });

  it('lists batches newest first, without skipping batches created in the same millisecond', async () => {
    const store = freshStore();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await store.createBatch({ spec, files: files(1) })).batch.id);
    // Five of them in one millisecond, as a busy producer can do.
    for (const id of ids.slice(1, 6)) await redis.zadd(store.keys.batches(), 1_000_000, id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listBatches({ limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((b) => b.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(seen[0]).toBe(ids[6]);
  });
});
