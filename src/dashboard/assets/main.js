// The analysts' dashboard: sign-in, the live table, filter, counters and side panels.
// The page itself holds no data; everything comes from the session-authenticated API and feed.

import { clockSelect, formatTime } from './clock.js';
import { FeedConnection, queryCount } from './feed.js';
import { LiveTable } from './live-table.js';
import { DiscoveryPanel } from './discovery-panel.js';
import { ExposurePanel } from './exposure-panel.js';
import { HistoryPanel } from './history-panel.js';
import { apiJson, InventoryPanel, StatsPanel, Unauthorized } from './panels.js';

const FILTER_KEYS = ['app', 'action', 'kind', 'attribution', 'group', 'owner_country', 'hosting_country', 'client'];
const ACTIONS = ['allow', 'monitor', 'block', 'exempt'];
/** Events one download holds at most (the API's bound). */
const EXPORT_LIMIT = 100_000;
/** Stored events the live table starts with, so a restart or a new page does not start empty. */
const STORED_START = 100;
/** The feed's own rules for typed values, so a typo is explained here instead of refused there. */
const TEXT_FIELDS = {
  app: { normalise: (value) => value.toLowerCase(), valid: /^[a-z0-9][a-z0-9-]*$/, expects: 'an app id such as tiktok' },
  group: { normalise: (value) => value, valid: /^[A-Za-z0-9_.-]+$/, expects: 'a group name' },
  owner_country: { normalise: (value) => value.toUpperCase(), valid: /^[A-Z]{2}$/, expects: 'a two-letter country code' },
  hosting_country: { normalise: (value) => value.toUpperCase(), valid: /^[A-Z]{2}$/, expects: 'a two-letter country code' },
  client: {
    normalise: (value) => value.toLowerCase(),
    valid: /^(p:[0-9a-f]{24}|\d{1,3}(\.\d{1,3}){3}|[0-9a-f.]*:[0-9a-f:.]*)$/,
    expects: 'an IP address or a pseudonym (p: and 24 hex digits)',
  },
};

const $ = (id) => document.getElementById(id);

clockSelect($('clock'));

const statusLine = $('status');
const statusText = $('status-text');
const signIn = $('sign-in');
const signInForm = $('sign-in-form');
const signInError = $('sign-in-error');
const tokenInput = $('token');
const workspace = $('workspace');
const filterForm = $('filter');
const filterError = $('filter-error');
const exportBox = $('export');
const exportNote = $('export-note');
const exportCsv = $('export-csv');
const exportJsonl = $('export-jsonl');
const pauseButton = $('pause');
const notice = $('notice');
const empty = $('empty');
const counterCells = Object.fromEntries(ACTIONS.map((action) => [action, document.querySelector(`#counters dd[data-action="${action}"]`)]));

let counts = Object.fromEntries(ACTIONS.map((action) => [action, 0]));
let feedState = 'offline';
let feedText = '';
let filterText = '';

function setStatus(state, text) {
  statusLine.dataset.state = state;
  // The region is aria-live: only real changes are announced.
  if (statusText.textContent !== text) statusText.textContent = text;
}

function showFeedStatus() {
  const paused = feedState === 'live' && table.paused;
  setStatus(paused ? 'paused' : feedState, (paused ? 'Live, display paused' : feedText) + filterText);
}

/** Counters, the empty-table note and the pause button: redrawn with the table. */
function renderChrome() {
  for (const action of ACTIONS) counterCells[action].textContent = counts[action].toLocaleString();
  empty.hidden = table.rowCount > 0;
  pauseButton.textContent = table.paused ? `Resume (${table.held.toLocaleString()} new)` : 'Pause';
}

const table = new LiveTable($('events').tBodies[0], { maxRows: 500, onRender: renderChrome });

let chromeFrame = 0;
function chromeChanged() {
  // While paused the table does not render, but counters and the held count still move.
  if (chromeFrame === 0) {
    chromeFrame = requestAnimationFrame(() => {
      chromeFrame = 0;
      renderChrome();
    });
  }
}

const feed = new FeedConnection({
  onEvent(event, backlog) {
    if (!backlog && event.action in counts) counts[event.action] += queryCount(event);
    table.add(event);
    if (table.paused) chromeChanged();
  },
  onGap(missed) {
    table.addGap(missed);
    notice.textContent = `${missed.toLocaleString()} event${missed === 1 ? ' was' : 's were'} not delivered at ${formatTime(Date.now())} (the feed moved on faster than this view could follow); the table marks the spot.`;
    notice.hidden = false;
  },
  onState(state, text) {
    feedState = state;
    feedText = text;
    showFeedStatus();
  },
  onRejected(message) {
    filterError.textContent = `The feed refused the filter: ${message}`;
  },
  onUnauthorized: () => signedOut('Your session has ended. Sign in again.'),
});

const inventory = new InventoryPanel({ onUnauthorized: () => signedOut('Your session has ended. Sign in again.') });
const discovery = new DiscoveryPanel({ onUnauthorized: () => signedOut('Your session has ended. Sign in again.') });
const exposure = new ExposurePanel({ onUnauthorized: () => signedOut('Your session has ended. Sign in again.') });
const historyPanel = new HistoryPanel({
  onDevice: (key) => inventory.show(key),
  onUnauthorized: () => signedOut('Your session has ended. Sign in again.'),
});
const stats = new StatsPanel({
  onClient: (client) => inventory.show(client),
  onDrill: (fields) => historyPanel.drillAll(fields, { fresh: true }),
  onUnauthorized: () => signedOut('Your session has ended. Sign in again.'),
});

/** The form's filter, or null after marking the first invalid field. */
function currentFilter() {
  const data = new FormData(filterForm);
  const filter = { action: data.getAll('action').map(String), kind: data.getAll('kind').map(String), attribution: data.getAll('attribution').map(String) };
  filterError.textContent = '';
  for (const [key, rule] of Object.entries(TEXT_FIELDS)) {
    const input = filterForm.elements.namedItem(key);
    const values = [...new Set(String(data.get(key) ?? '').split(',').map((part) => rule.normalise(part.trim())).filter((part) => part !== ''))];
    const bad = values.find((value) => !rule.valid.test(value));
    input.setAttribute('aria-invalid', String(bad !== undefined));
    if (bad !== undefined) {
      filterError.textContent = `${input.labels[0].firstChild.textContent.trim()}: "${bad}" is not ${rule.expects}.`;
      input.focus();
      return null;
    }
    filter[key] = values;
  }
  return filter;
}

function describeFilter(filter) {
  const active = FILTER_KEYS.filter((key) => filter[key].length > 0);
  filterText = active.length === 0 ? '' : ` (filtered: ${active.map((key) => `${key.replace('_', ' ')} ${filter[key].join(', ')}`).join('; ')})`;
  exportLinks(filter);
}

/** The history API's query for the filter, or null: it takes one value per field. */
function historyParams(filter) {
  if (FILTER_KEYS.some((key) => filter[key].length > 1)) return null;
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) if (filter[key].length === 1) params.set(key, filter[key][0]);
  return params;
}

/** The history's export (src/http/export-routes.ts) for the filter. */
function exportLinks(filter) {
  const params = historyParams(filter);
  exportBox.hidden = params === null;
  exportNote.hidden = params !== null;
  exportNote.textContent = `The download takes one value per field; ${FILTER_KEYS.filter((key) => filter[key].length > 1).map((key) => key.replace('_', ' ')).join(', ')} has several.`;
  if (params === null) return;
  params.set('limit', String(EXPORT_LIMIT));
  exportCsv.href = `/api/events.csv?${params}`;
  exportJsonl.href = `/api/events.jsonl?${params}`;
}

function applyFilter() {
  const filter = currentFilter();
  if (filter === null) return;
  table.retain(filter);
  feed.setFilter(filter);
  describeFilter(filter);
  showFeedStatus();
}

filterForm.addEventListener('submit', (event) => {
  event.preventDefault();
  applyFilter();
});
// A reset clears the fields only after this event, so apply on the next turn.
filterForm.addEventListener('reset', () => {
  if (!workspace.hidden) setTimeout(applyFilter);
});

pauseButton.addEventListener('click', () => {
  if (table.paused) table.resume();
  else table.pause();
  pauseButton.setAttribute('aria-pressed', String(table.paused));
  showFeedStatus();
});

$('events').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-client]');
  if (button !== null) inventory.show(button.dataset.client);
});

function signedIn(principal) {
  signIn.hidden = true;
  workspace.hidden = false;
  $('who-name').textContent = `${principal.name} (${principal.role})`;
  $('who').hidden = false;
  // A browser may restore the form after a reload; an invalid leftover is simply not applied.
  const filter = currentFilter() ?? Object.fromEntries(FILTER_KEYS.map((key) => [key, []]));
  describeFilter(filter);
  startLive(filter);
  stats.start();
  exposure.start();
  // What was stored before this page (or the server) started, newest first.
  historyPanel.search();
  discovery.start(principal.role === 'admin');
}

let liveGeneration = 0;

/**
 * Fills the table with the newest stored events the filter selects, then follows the feed
 * from there (its backlog up to them skipped): after a restart the table continues where the
 * history ends instead of starting empty. Without history, or for a filter the API cannot
 * take, the feed's own backlog starts it.
 */
async function startLive(filter) {
  const generation = ++liveGeneration;
  const params = historyParams(filter);
  let stored = null;
  if (params !== null) {
    params.set('limit', String(STORED_START));
    try {
      stored = (await apiJson(`/api/events?${params}`)).body?.events ?? null;
    } catch (error) {
      if (generation !== liveGeneration) return;
      if (error instanceof Unauthorized) return signedOut('Your session has ended. Sign in again.');
    }
  }
  if (generation !== liveGeneration) return;
  if (!Array.isArray(stored) || stored.length === 0) return feed.start(filter);
  for (const event of [...stored].reverse()) table.add(event);
  feed.start(filter, stored[0].id);
}

function signedOut(message, status = 'Signed out') {
  liveGeneration++;
  feed.stop();
  stats.stop();
  exposure.stop();
  discovery.stop();
  // Nothing seen while signed in may stay on screen.
  stats.clear();
  exposure.clear();
  historyPanel.clear();
  inventory.clear();
  discovery.clear();
  table.clear();
  counts = Object.fromEntries(ACTIONS.map((action) => [action, 0]));
  renderChrome();
  notice.hidden = true;
  workspace.hidden = true;
  // The next analyst at this screen starts unfiltered.
  filterForm.reset();
  filterText = '';
  filterError.textContent = '';
  $('who').hidden = true;
  signIn.hidden = false;
  signInError.textContent = message ?? '';
  setStatus('offline', status);
  tokenInput.focus();
}

signInForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = tokenInput.value;
  // The field is emptied at once: the token lives only in this request.
  tokenInput.value = '';
  signInError.textContent = '';
  let response;
  try {
    response = await fetch('/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ token }),
    });
  } catch {
    signInError.textContent = 'The server cannot be reached.';
    return;
  }
  if (response.ok) signedIn(await response.json());
  else {
    signInError.textContent = response.status === 401 ? 'That token was not accepted.' : `Sign-in failed (${response.status}).`;
    tokenInput.focus();
  }
});

$('sign-out').addEventListener('click', async () => {
  const response = await fetch('/api/session', { method: 'DELETE' }).catch(() => null);
  // The cookie is HttpOnly: only the server can end the session.
  signedOut(response !== null && response.ok ? 'Signed out.' : 'This page is cleared, but the server could not be told: the session may still be open.');
});

async function start() {
  const response = await fetch('/api/session', { headers: { accept: 'application/json' } }).catch(() => null);
  if (response !== null && response.ok) signedIn(await response.json());
  else if (response !== null && response.status === 401) signedOut('', 'Not signed in');
  else {
    setStatus('offline', 'The server cannot be reached; retrying');
    setTimeout(start, 5000);
  }
}

start();
