export { collectDocuments, loadSchemas, UsageError } from './inputs.js';
export { EXIT, type RunOptions, runCommand } from './run.js';
