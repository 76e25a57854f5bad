/**
 * Prints the configuration table, or with `--write README.md` replaces the block between
 * `<!-- config:start -->` and `<!-- config:end -->` in that file. `npm run docs:config`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configTable } from './config.js';

export const CONFIG_START = '<!-- config:start -->';
export const CONFIG_END = '<!-- config:end -->';

export function replaceConfigBlock(markdown: string, table: string): string {
  const start = markdown.indexOf(CONFIG_START);
  const end = markdown.indexOf(CONFIG_END);
  if (start < 0 || end < start) throw new Error(`README has no ${CONFIG_START} … ${CONFIG_END} block`);
  return `${markdown.slice(0, start + CONFIG_START.length)}\n${table}\n${markdown.slice(end)}`;
}

const target = process.argv.indexOf('--write');
if (import.meta.url === `file://${process.argv[1]}`) {
  if (target > 0) {
    const file = process.argv[target + 1] ?? 'README.md';
    writeFileSync(file, replaceConfigBlock(readFileSync(file, 'utf8'), configTable()));
  } else {
    process.stdout.write(`${configTable()}\n`);
  }
}
