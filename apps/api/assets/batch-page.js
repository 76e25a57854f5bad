// The live batch page: counters from the SSE stream, the file table from /v1, retry and cancel.
const batch = window.DOCPIPE_BATCH;
const $ = (selector) => document.querySelector(selector);
const api = (path, init) => fetch(`/v1/batches/${batch.id}${path}`, { credentials: 'same-origin', ...init });

const text = (tag, value, className) => {
  const el = document.createElement(tag);
  el.textContent = value ?? '';
  if (className) el.className = className;
  return el;
};

function jobLinks(file) {
  const round = file.round > 1 ? `.r${file.round}` : '';
  const id = (stage, task) => [batch.id, file.id, stage, ...(task ? [task] : [])].join('.') + round;
  const links = [['upload', id('upload')]];
  if (batch.stagesWithParse) links.push(['parse', id('parse')]);
  for (const task of batch.tasks) links.push([`extract ${task}`, id('extract', task)]);
  const cell = document.createElement('td');
  for (const [label, jobId] of links) {
    const a = text('a', label);
    const stage = label.split(' ')[0];
    const queue = batch.queueFamilies > 1 ? `family${file.queue_family}-${stage}` : stage;
    a.href = `/admin/queues/queue/${queue}/${encodeURIComponent(jobId)}`;
    cell.append(a, ' ');
  }
  return cell;
}

function row(file) {
  const tr = document.createElement('tr');
  tr.dataset.fileId = file.id;
  tr.append(text('td', String(file.ordinal + 1), 'num'), text('td', file.name));
  const state = text('td', '');
  state.append(text('span', file.state, `state state-${file.state}`));
  tr.append(state, text('td', String(file.round), 'num'));
  const failure = file.error
    ? `${file.error.stage}: ${file.error.message}${file.error.attempt ? ` (attempt ${file.error.attempt})` : ''}`
    : '';
  tr.append(text('td', failure, 'failure'));
  const remote = [file.remote.file_id, file.remote.parse_job_id, file.error?.remote_id].filter(Boolean);
  tr.append(text('td', remote.join(' '), 'mono'), jobLinks(file));
  return tr;
}

let nextCursor = null;
async function loadFiles(append = false) {
  const params = new URLSearchParams({ limit: '200' });
  const state = $('#state-filter').value;
  if (state) params.set('state', state);
  if (append && nextCursor) params.set('cursor', nextCursor);
  const response = await api(`/files?${params}`);
  if (!response.ok) return;
  const page = await response.json();
  const body = $('#files tbody');
  if (!append) body.replaceChildren();
  for (const file of page.items) body.append(row(file));
  nextCursor = page.next_cursor;
  $('#more').hidden = !nextCursor;
}

let reload;
function scheduleReload() {
  // Transitions arrive in bursts: refresh the table at most twice a second.
  if (reload) return;
  reload = setTimeout(() => {
    reload = undefined;
    loadFiles();
  }, 500);
}

function showProgress(view) {
  $('#status').textContent = view.status.replaceAll('_', ' ');
  $('#status').className = `status status-${view.status}`;
  $('#percent').textContent = `${view.progress.percent}%`;
  $('#progress').value = view.progress.percent;
  $('#credits').textContent = String(view.credits_used);
  $('#total').textContent = String(view.counters.total);
  $('#eta').textContent =
    view.status === 'running' && view.eta_seconds !== null ? `about ${view.eta_seconds} s left` : '';
  for (const el of document.querySelectorAll('[data-counter]'))
    el.textContent = String(view.counters[el.dataset.counter]);
}

const events = new EventSource(`/v1/batches/${batch.id}/events`);
events.addEventListener('progress', (event) => {
  showProgress(JSON.parse(event.data));
  scheduleReload();
});

async function act(path, label) {
  const message = $('#action-message');
  message.textContent = `${label}…`;
  const response = await api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const body = await response.json();
  if (!response.ok) {
    message.textContent = `${label} failed: ${body.error?.message ?? response.status}`;
    return;
  }
  message.textContent =
    path === '/retry-failed'
      ? `Retrying ${Object.values(body.retried).reduce((a, b) => a + b, 0)} files`
      : `Cancelled ${body.cancelled} files`;
  showProgress(body.batch);
  loadFiles();
}

$('#retry-failed')?.addEventListener('click', () => act('/retry-failed', 'Retry'));
$('#cancel')?.addEventListener('click', () => {
  if (confirm('Cancel every file of this batch that is not finished?')) act('/cancel', 'Cancel');
});
$('#state-filter').addEventListener('change', () => loadFiles());
$('#more').addEventListener('click', () => loadFiles(true));
loadFiles();
