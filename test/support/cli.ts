import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'apps/cli/bin/docpipe.js');
/** The README's main job: the example documents with both example schemas. */
export const RUN = [
  'run',
  join(ROOT, 'examples/documents'),
  '--schema',
  join(ROOT, 'examples/schemas/invoice.json'),
  '--schema',
  join(ROOT, 'examples/schemas/contract.json'),
];

export interface Run {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exit: Promise<number | null>;
}

/** The CLI as a user runs it, in `cwd`, with no REDIS_URL and nothing answering on the probe. */
export function docpipe(args: string[], cwd: string, env: Record<string, string>): Run {
  const clean = { ...process.env };
  for (const name of ['REDIS_URL', 'LLAMA_CLOUD_BASE_URL', 'LLAMA_CLOUD_API_KEY', 'PUBLIC_URL'])
    delete clean[name];
  // A process group of its own, as in a terminal: Ctrl-C reaches every process of the group.
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    err += chunk;
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
}
