import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { jobId, newId } from './ids.js';
import { defaultJobOptions, parsePayload } from './job-catalog.js';

describe('job ids', () => {
  it('are deterministic and carry the retry round', () => {
    const parts = { batchId: 'bat_1', fileId: 'fil_2', stage: 'extract', task: 'invoice' };
    expect(jobId(parts)).toBe('bat_1.fil_2.extract.invoice');
    expect(jobId({ ...parts, round: 1 })).toBe('bat_1.fil_2.extract.invoice');
    expect(jobId({ ...parts, round: 2 })).toBe('bat_1.fil_2.extract.invoice.r2');
  });

  it('reject parts that BullMQ or Redis keys cannot hold', () => {
    expect(() => jobId({ batchId: 'bat:1', fileId: 'f', stage: 'upload' })).toThrow(/batch id "bat:1"/);
    expect(() => jobId({ batchId: 'b', fileId: 'f.1', stage: 'upload' })).toThrow(/file id/);
  });

  it('new ids sort by creation time and are unique', () => {
    const ids = Array.from({ length: 1000 }, () => newId('fil'));
    expect(new Set(ids).size).toBe(1000);
    expect(ids[0]).toMatch(/^fil_[0-9a-z]{19}$/);
  });
});

describe('job payloads', () => {
  it('parse with defaults and reject bad fields by name', () => {
    expect(parsePayload('upload', { batchId: 'bat_1', fileId: 'fil_1' })).toEqual({
      batchId: 'bat_1',
      fileId: 'fil_1',
      round: 1,
    });
    expect(() => parsePayload('extract', { batchId: 'bat_1', fileId: 'fil_1' })).toThrow(
      /invalid extract job payload: .*task.*fileInput/,
    );
  });

  it('default options retry with exponential backoff and bounded retention', () => {
    const options = defaultJobOptions(loadConfig({ STAGE_ATTEMPTS: '3' }), 'upload');
    expect(options.attempts).toBe(3);
    expect(options.backoff).toMatchObject({ type: 'exponential', delay: 2000 });
    expect(options.removeOnComplete).toMatchObject({ age: 86_400 });
  });
});
