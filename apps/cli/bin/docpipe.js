#!/usr/bin/env node
// Runs the docpipe CLI from its TypeScript sources (tsx), with the workspace's source condition.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const child = spawn(
  process.execPath,
  ['--conditions=@docpipe/source', '--import', import.meta.resolve('tsx'), main, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
// Ctrl-C reaches the child from the terminal itself; SIGTERM is passed on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
