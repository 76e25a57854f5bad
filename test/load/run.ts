/**
 * `npm run load`: 20 producers enqueue 50 batches of 100 documents each through one API process
 * while 2 worker processes drain them (issue 15's load scenario). `-- --quick` for a small run.
 */
import { loadSummary, runApiLoad } from './api-load.js';

const quick = process.argv.includes('--quick');
const report = await runApiLoad(
  quick
    ? { producers: 5, batchesPerProducer: 4, docsPerBatch: 20, workers: 1 }
    : { producers: 20, batchesPerProducer: 50, docsPerBatch: 100, workers: 2 },
);
console.info(loadSummary(report));
process.exit(report.errors === 0 ? 0 : 1);
