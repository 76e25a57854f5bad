import { readFileSync } from 'node:fs';
import { configTable, settings } from '@docpipe/core';
import { describe, expect, it } from 'vitest';
import { CONFIG_END, CONFIG_START } from '../../packages/core/src/config-table.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('starts with the install-and-run and the test command', () => {
    const firstBlock = readme.split('```')[1] ?? '';
    expect(firstBlock).toContain('npm install && npm start');
    expect(firstBlock).toContain('npm test');
    const scripts = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts;
    expect(scripts.start).toMatch(/docpipe\.js run examples\/documents/);
  });

  it('documents every setting exactly as the config schema defines it', () => {
    const block = readme
      .slice(readme.indexOf(CONFIG_START) + CONFIG_START.length, readme.indexOf(CONFIG_END))
      .trim();
    expect(block, 'run `npm run docs:config` to regenerate the table').toBe(configTable());
    for (const name of Object.keys(settings)) expect(block).toContain(`\`${name}\``);
  });
});
