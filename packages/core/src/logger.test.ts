import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, forWork, redactUrl } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logger: createLogger({ destination, pretty: false, level: 'debug' }) };
}

describe('logger', () => {
  it('redacts authorization headers, API keys and webhook secrets', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        headers: { authorization: 'Bearer llx-secret', 'lc-signature': 'sha256=abc' },
        config: { apiKey: 'llx-secret', webhookSigningSecret: 'whsec' },
        api_key: 'llx-secret',
      },
      'request',
    );
    const text = JSON.stringify(lines);
    expect(text).not.toContain('llx-secret');
    expect(text).not.toContain('whsec');
    expect(text).not.toContain('sha256=abc');
    expect(lines[0]?.msg).toBe('request');
  });

  it('removes signatures from presigned URLs but keeps them readable', () => {
    const url = 'https://bucket.s3.amazonaws.com/a.pdf?X-Amz-Signature=deadbeef&X-Amz-Expires=60&part=1';
    const redacted = redactUrl(url);
    expect(redacted).not.toContain('deadbeef');
    expect(redacted).toContain('bucket.s3.amazonaws.com/a.pdf');
    expect(redacted).toContain('part=1');
    expect(redactUrl('redis://user:hunter2@host:6379')).not.toContain('hunter2');
    const { lines, logger } = capture();
    logger.info({ url }, 'fetch');
    expect(JSON.stringify(lines)).not.toContain('deadbeef');
  });

  it('binds batch, file and job ids on child loggers', () => {
    const { lines, logger } = capture();
    forWork(logger, { batchId: 'bat_1', fileId: 'fil_1', jobId: 'bat_1.fil_1.upload' }).info('uploaded');
    expect(lines[0]).toMatchObject({ batchId: 'bat_1', fileId: 'fil_1', jobId: 'bat_1.fil_1.upload' });
  });
});
