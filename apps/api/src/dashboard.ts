import { readFileSync } from 'node:fs';
import { type Config, type Dispatcher, FILE_STATES, type StateStore } from '@docpipe/core';
import express from 'express';
import { asyncRoute } from './api-errors.js';
import { batchView, tenantView } from './views.js';

const asset = (name: string) => readFileSync(new URL(`../assets/${name}`, import.meta.url), 'utf8');
const SCRIPT = asset('batch-page.js');
const STYLE = asset('dashboard.css');

const html = (value: unknown) =>
  String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function page(title: string, body: string, script = '') {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(title)} · docpipe</title>
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header class="top"><a href="/batches" class="brand">docpipe</a><nav><a href="/batches">Batches</a><a href="/admin/queues">Queues (Bull Board)</a></nav></header>
<main>
${body}
</main>
${script}
</body>
</html>`;
}

/** The counters shown, in pipeline order. */
const STAGES = FILE_STATES;

/**
 * The batch pages: `/batches` (every batch with a progress bar) and `/batches/:id` (live counters
 * over SSE, credits, a per-file table with state, round, failure and remote ids, filter, retry
 * and cancel). Plain HTML and one small script, served by the API itself: no build step.
 */
export function dashboardRouter(deps: { state: StateStore; config: Config; dispatcher: Dispatcher }) {
  const router = express.Router();
  router.get('/assets/dashboard.css', (_req, res) => {
    res.type('text/css').set('cache-control', 'no-cache').send(STYLE);
  });
  router.get('/assets/batch-page.js', (_req, res) => {
    res.type('text/javascript').set('cache-control', 'no-cache').send(SCRIPT);
  });
  router.get('/', (_req, res) => res.redirect('/batches'));

  router.get(
    '/batches',
    asyncRoute(async (_req, res) => {
      const { items } = await deps.state.listBatches({ limit: 100 });
      const tenants = (await deps.dispatcher.status()).map(tenantView);
      const tenantRows = tenants
        .map(
          (
            t,
          ) => `<tr><td>${html(t.tenant)}</td><td class="num">${t.weight}</td><td class="num">${t.ready}</td>
<td class="num">${t.in_flight}${t.max_in_flight === null ? '' : ` / ${t.max_in_flight}`}</td><td class="num">${t.admitted}</td>
<td class="num">${t.credits_today}${t.credits_per_day === null ? '' : ` / ${t.credits_per_day}`}</td></tr>`,
        )
        .join('\n');
      const rows = items
        .map((batch) => {
          const view = batchView(batch);
          return `<tr>
<td><a href="/batches/${html(view.id)}">${html(view.id)}</a></td>
<td><span class="status status-${html(view.status)}">${html(view.status.replaceAll('_', ' '))}</span></td>
<td><progress max="100" value="${view.progress.percent}" aria-label="progress of ${html(view.id)}"></progress> ${view.progress.percent}%</td>
<td class="num">${view.counters.total}</td><td class="num">${view.counters.completed}</td><td class="num">${view.counters.failed}</td>
<td class="num">${view.credits_used}</td><td>${html(view.created_at)}</td></tr>`;
        })
        .join('\n');
      res.type('html').send(
        page(
          'Batches',
          `<h1>Batches</h1>
${
  items.length === 0
    ? '<p class="empty">No batches yet. Enqueue one with <code>POST /v1/batches</code> or <code>docpipe run</code>.</p>'
    : `<table class="grid"><caption class="sr-only">Batches, newest first</caption>
<thead><tr><th scope="col">Batch</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Files</th><th scope="col">Completed</th><th scope="col">Failed</th><th scope="col">Credits</th><th scope="col">Created</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
${
  tenants.length === 0
    ? ''
    : `<h2>Tenants</h2>
<table class="grid" id="tenants"><caption class="sr-only">Tenants: shares, waiting and admitted files, credits today</caption>
<thead><tr><th scope="col">Tenant</th><th scope="col">Weight</th><th scope="col">Waiting</th><th scope="col">In flight</th><th scope="col">Admitted</th><th scope="col">Credits today</th></tr></thead>
<tbody>${tenantRows}</tbody></table>`
}`,
        ),
      );
    }),
  );

  router.get(
    '/batches/:id',
    asyncRoute(async (req, res) => {
      const batch = batchView(await deps.state.getBatch(String(req.params.id)));
      const counters = STAGES.map(
        (state) =>
          `<div class="counter counter-${state}"><dt>${state}</dt><dd data-counter="${state}">${batch.counters[state]}</dd></div>`,
      ).join('');
      const options = ['', ...FILE_STATES]
        .map((state) => `<option value="${state}">${state || 'all states'}</option>`)
        .join('');
      const actions = deps.config.api.readOnly
        ? ''
        : `<div class="actions">
<button type="button" id="retry-failed">Retry failed files</button>
<button type="button" id="cancel" class="danger">Cancel batch</button>
<span id="action-message" role="status" aria-live="polite"></span></div>`;
      res.type('html').send(
        page(
          `Batch ${batch.id}`,
          `<h1>Batch <code>${html(batch.id)}</code></h1>
<section aria-labelledby="progress-heading" class="panel">
<h2 id="progress-heading">Progress</h2>
<p><span id="status" class="status status-${html(batch.status)}">${html(batch.status.replaceAll('_', ' '))}</span>
<span id="percent">${batch.progress.percent}%</span> of <span id="total">${batch.counters.total}</span> files ·
credits <span id="credits">${batch.credits_used}</span> · <span id="eta"></span></p>
<progress id="progress" max="100" value="${batch.progress.percent}" aria-label="batch progress"></progress>
<dl class="counters">${counters}</dl>
${actions}
</section>
<section aria-labelledby="files-heading" class="panel">
<h2 id="files-heading">Files</h2>
<label>Show <select id="state-filter">${options}</select></label>
<table class="grid" id="files"><caption class="sr-only">Files of the batch</caption>
<thead><tr><th scope="col">#</th><th scope="col">File</th><th scope="col">State</th><th scope="col">Round</th><th scope="col">Failure</th><th scope="col">Remote ids</th><th scope="col">Jobs</th></tr></thead>
<tbody></tbody></table>
<p><button type="button" id="more" hidden>Show more</button></p>
</section>`,
          `<script>window.DOCPIPE_BATCH = ${JSON.stringify({ id: batch.id, stagesWithParse: batch.spec.parse !== undefined || batch.spec.extract.length > 1, tasks: batch.spec.extract.map((e) => e.name), queueFamilies: deps.config.redis.queueFamilies }).replace(/</g, '\\u003c')};</script>
<script src="/assets/batch-page.js" defer></script>`,
        ),
      );
    }),
  );
  return router;
}
