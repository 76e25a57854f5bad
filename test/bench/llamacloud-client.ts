/**
 * Benchmark: docpipe's LlamaCloud client against the official SDK, side by side in one run, on
 * one cloud-local with zero latency. Measures requests/s and p50/p99 latency of `extract.get`
 * and `extract.list` (100 job ids) at a fixed concurrency. `npm run bench:client [-- --requests N]`
 */
import { start } from '@docpipe/cloud-local';
import { LlamaCloudClient } from '@docpipe/llamacloud';
import LlamaCloud from '@llamaindex/llama-cloud';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const REQUESTS = arg('requests', 4000);
const CONCURRENCY = arg('concurrency', 16);
const ROUNDS = arg('rounds', 3);

const server = await start({ parseThreads: 1 });
const ours = new LlamaCloudClient({ baseUrl: server.url, apiKey: server.apiKey, connections: CONCURRENCY });
const sdk = new LlamaCloud({ apiKey: server.apiKey, baseURL: server.url, maxRetries: 0 });

const file = await ours.files.upload({
  file: Buffer.from('Invoice Number: B-1\nTotal Amount: 1.00'),
  name: 'b.txt',
});
const schema = { type: 'object', properties: { invoice_number: { type: 'string' } } };
const jobIds: string[] = [];
for (let i = 0; i < 100; i++)
  jobIds.push((await ours.extract.create({ fileInput: file.id, configuration: { data_schema: schema } })).id);
for (;;) {
  const page = await ours.extract.list({ jobIds, pageSize: 100 });
  if (page.items.every((job) => job.status === 'COMPLETED')) break;
}

async function measure(call: () => Promise<unknown>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
  return { rps: latencies.length / seconds, p50: pct(50), p99: pct(99) };
}

const cases = {
  'extract.get': {
    ours: () => ours.extract.get(jobIds[0]!, { expand: ['extract_metadata', 'usage'] }),
    sdk: () => sdk.extract.get(jobIds[0]!, { expand: ['extract_metadata', 'usage'] }),
  },
  'extract.list (100 ids)': {
    ours: () => ours.extract.list({ jobIds, pageSize: 100 }),
    sdk: () => sdk.extract.list({ job_ids: jobIds, page_size: 100 }),
  },
};

console.log(
  `LlamaCloud client benchmark: ${REQUESTS} requests per run, concurrency ${CONCURRENCY}, best of ${ROUNDS} rounds (alternating)`,
);
console.log('| call | client | req/s | p50 ms | p99 ms |');
console.log('| --- | --- | ---: | ---: | ---: |');
const ratios: string[] = [];
for (const [name, pair] of Object.entries(cases)) {
  const best = { ours: { rps: 0, p50: 0, p99: 0 }, sdk: { rps: 0, p50: 0, p99: 0 } };
  await measure(pair.ours); // warm-up
  await measure(pair.sdk);
  for (let round = 0; round < ROUNDS; round++) {
    for (const who of round % 2 === 0 ? (['ours', 'sdk'] as const) : (['sdk', 'ours'] as const)) {
      const result = await measure(pair[who]);
      if (result.rps > best[who].rps) best[who] = result;
    }
  }
  for (const who of ['ours', 'sdk'] as const) {
    const r = best[who];
    console.log(
      `| ${name} | ${who === 'ours' ? 'docpipe (undici pool)' : 'official SDK 2.16'} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`,
    );
  }
  ratios.push(
    `${name}: docpipe/SDK throughput ${(best.ours.rps / best.sdk.rps).toFixed(2)}×, p99 ${(best.ours.p99 / best.sdk.p99).toFixed(2)}×`,
  );
}
console.log(`\n${ratios.join('\n')}`);
await ours.close();
await server.close();
