import { defineConfig } from 'vitest/config';

/**
 * One test run for the whole monorepo: a project per package (unit tests beside the code) and
 * one for the cross-package suites in test/. Workspace packages resolve to their TypeScript
 * sources through the `@docpipe/source` export condition, so tests need no build.
 */
const sourceConditions = ['@docpipe/source', 'module', 'node', 'development|production'];

const project = (name: string, include: string[]) => ({
  extends: true as const,
  test: { name, include },
});

export default defineConfig({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions, externalConditions: ['@docpipe/source'] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      project('core', ['packages/core/src/**/*.test.ts']),
      project('testing', ['packages/testing/src/**/*.test.ts']),
      project('llamacloud', ['packages/llamacloud/src/**/*.test.ts']),
      project('pipeline', ['packages/pipeline/src/**/*.test.ts']),
      project('cloud-local', ['apps/cloud-local/src/**/*.test.ts']),
      project('worker', ['apps/worker/src/**/*.test.ts']),
      project('api', ['apps/api/src/**/*.test.ts', 'test/api/**/*.test.ts']),
      project('docs', ['test/docs/**/*.test.ts']),
      project('e2e', ['test/e2e/**/*.test.ts']),
      project('chaos', ['test/chaos/**/*.test.ts']),
      project('load', ['test/load/**/*.test.ts']),
      project('scale', ['test/scale/**/*.test.ts']),
      project('browser', ['test/browser/**/*.test.ts']),
      project('cli', ['apps/cli/src/**/*.test.ts', 'test/cli/**/*.test.ts']),
    ],
  },
});
