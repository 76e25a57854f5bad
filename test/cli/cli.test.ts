import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, LocalResultStore } from '@docpipe/core';
import { afterEach, describe, expect, it } from 'vitest';
import { docpipe, ROOT, RUN } from '../support/cli.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('docpipe run (the embedded default)', () => {
  it('starts its own Redis, is interrupted, and resumes the same batch without redoing finished documents', async () => {
    dir = await mkdtemp(join(tmpdir(), 'docpipe-cli-'));
    const env = {
      DOCPIPE_REDIS_PROBE: `redis://127.0.0.1:${await freePort()}`, // nothing answers there
      CLOUD_LOCAL_TIME_SCALE: '0.5', // seed 000's latencies at 1/2: seconds per job
      TIME_SCALE: '0.5',
    };
    const first = docpipe(RUN, dir, env);
    // Interrupt once some results are written and most are not.
    for (let i = 0; i < 600 && first.child.exitCode === null; i++) {
      const results = await readdir(join(dir, '.docpipe/results'), { recursive: true }).catch(() => []);
      if (results.filter((f) => f.endsWith('.json')).length >= 3) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    process.kill(-first.child.pid!, 'SIGINT'); // Ctrl-C
    expect(await first.exit, first.stderr()).toBe(130);
    expect(first.stderr()).toMatch(
      /redis: redis:\/\/127\.0\.0\.1:\d+ \(started, data in .*\.docpipe\/redis\)/,
    );
    expect(first.stderr()).toMatch(
      /interrupted: \d+ of 22 documents done; run the same command to resume batch bat_/,
    );
    const batchId = /batch (bat_\w+):/.exec(first.stderr())![1]!;

    // What was finished before the interruption, with its remote extract job.
    const store = new LocalResultStore(join(dir, '.docpipe/results'));
    const before = new Map<string, string>();
    for await (const doc of store.list(batchId)) {
      const result = doc as {
        file_name: string;
        schema: string;
        status: string;
        remote: { extract_job_id: string };
      };
      if (result.status === 'completed')
        before.set(`${result.file_name}.${result.schema}`, result.remote.extract_job_id);
    }
    expect(before.size).toBeGreaterThan(0);
    expect(before.size).toBeLessThan(44);

    const second = docpipe(RUN, dir, env);
    expect(await second.exit, `${second.stderr()}\n${second.stdout()}`).toBe(0);
    expect(second.stderr()).toContain(`resuming batch ${batchId}`);
    expect(second.stdout()).toMatch(/Completed\s*│\s*22/);

    const out = join(dir, 'out', batchId);
    const files = await readdir(out);
    expect(files.filter((f) => f.endsWith('.json') && f !== 'summary.json')).toHaveLength(44);
    const lines = (await readFile(join(out, 'results.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(44);
    for (const line of lines) {
      const earlier = before.get(`${line.file_name}.${line.schema}`);
      if (earlier) expect(line.remote.extract_job_id, `${line.file_name} was redone`).toBe(earlier);
    }
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ batch_id: batchId, status: 'completed', counters: { total: 22 } });
    // The second run's cloud-local created extract jobs only for what was left.
    expect(summary.upstream_requests['POST /api/v2/extract'] ?? 0).toBeLessThanOrEqual(44 - before.size);
    const invoice = JSON.parse(await readFile(join(out, 'invoice-INV-2026-0101.pdf.invoice.json'), 'utf8'));
    expect(invoice.data).toMatchObject({
      invoice_number: 'INV-2026-0101',
      seller: 'Northwind Traders',
      total_amount: 4.9,
    });
    const contract = JSON.parse(
      await readFile(join(out, 'contract-contoso-lease.docx.contract.json'), 'utf8'),
    );
    expect(contract.data).toMatchObject({ party_b: 'Litware Inc.', contract_value: 12500 });
    console.info(
      `CLI resume: ${before.size} of 44 results done before Ctrl-C; second run created ${summary.upstream_requests['POST /api/v2/extract'] ?? 0} extract jobs (jobs in flight at the interruption were resumed, not created again)`,
    );
  }, 120_000);

  it('explains bad usage with exit code 2', async () => {
    dir = await mkdtemp(join(tmpdir(), 'docpipe-cli-'));
    const noSchema = docpipe(['run', join(ROOT, 'examples/documents')], dir, {});
    expect(await noSchema.exit).toBe(2);
    expect(noSchema.stderr()).toMatch(/give at least one --schema/);
    const missing = docpipe(
      ['run', join(dir, 'nope'), '--schema', join(ROOT, 'examples/schemas/invoice.json')],
      dir,
      {},
    );
    expect(await missing.exit).toBe(2);
    expect(missing.stderr()).toMatch(/nope: no such file or folder/);
    const help = docpipe(['run', '--help'], dir, {});
    expect(await help.exit).toBe(0);
    expect(help.stdout()).toMatch(/resumes the same batch/);
  });
});
