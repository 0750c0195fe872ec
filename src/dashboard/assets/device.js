// The device page (device.html?device=KEY): one device or client at a glance: how it is
// known, its group, the addresses it asked from, the apps it used with first and last seen,
// its queries per hour by action, and its stored events. It uses the dashboard's session.

import { ActionsChart } from './charts.js';
import { clockSelect, stamp } from './clock.js';
import { HistoryPanel, whoParam } from './history-panel.js';
import { apiJson, InventoryPanel, Unauthorized } from './panels.js';

const $ = (id) => document.getElementById(id);
const note = $('page-note');
const body = $('device-body');

clockSelect($('clock'));

/** Shows only `text` (and a way back to sign in): nothing of the device may stay on screen. */
function stop(text, signIn = false) {
  body.hidden = true;
  note.hidden = false;
  note.textContent = text;
  if (signIn) {
    const link = document.createElement('a');
    link.href = '/';
    link.textContent = 'Sign in on the dashboard';
    note.append(' ', link, '.');
  }
}

const unauthorized = () => stop('Not signed in, or the session has ended.', true);
const key = (new URLSearchParams(location.search).get('device') ?? '').trim().toLowerCase();
const param = whoParam(key);

const inventory = new InventoryPanel({ onUnauthorized: unauthorized });
const history = new HistoryPanel({
  onDevice: (other) => {
    if (other !== key) location.assign(`/dashboard/device.html?device=${encodeURIComponent(other)}`);
  },
  onUnauthorized: unauthorized,
});
const chart = new ActionsChart($('timeline-chart'), {
  title: `Queries per hour by action, ${key}`,
  onBucket: (since, until) => history.drillAll({ since, until }, { fresh: true }),
});
const windowSelect = $('timeline-window');

/** The API's answer, or null after showing why there is none. */
async function load(path) {
  try {
    return await apiJson(path);
  } catch (error) {
    if (error instanceof Unauthorized) unauthorized();
    else stop('The server cannot be reached.');
    return null;
  }
}

async function timeline() {
  const result = await load(`/api/stats?window=${encodeURIComponent(windowSelect.value)}&${param}=${encodeURIComponent(key)}`);
  if (result === null) return;
  const timelineNote = $('timeline-note');
  timelineNote.hidden = result.body !== null;
  if (result.body === null) {
    chart.clear();
    timelineNote.textContent = result.status === 503 ? 'No history: this node keeps none.' : `No timeline: ${result.message ?? result.status}`;
    return;
  }
  chart.update(result.body.actions_per_hour);
}

/** How the device is known, its group and its last query, from its newest stored event. */
async function identity() {
  $('identity-key').textContent = key;
  $('identity-kind').textContent =
    param === 'device' ? 'its device id (encrypted DNS or VPN accounting named it)' : key.startsWith('p:') ? 'a pseudonym of its address' : 'its address only: no device id';
  const result = await load(`/api/events?${param}=${encodeURIComponent(key)}&limit=1`);
  if (result === null) return false;
  const newest = result.body?.events?.[0];
  $('identity-group').textContent = newest?.group ?? (newest ? 'none' : 'unknown: no stored event');
  if (newest) stamp($('identity-last'), newest.ts);
  else $('identity-last').textContent = 'none stored';
  return true;
}

async function start() {
  if (key === '' || key.length > 255) return stop("No device given: open this page from the dashboard's device inventory.");
  document.title = `Wachtpost device ${key}`;
  $('device-heading').textContent = `device ${key}`;
  const session = await load('/api/session');
  if (session === null) return;
  note.hidden = true;
  body.hidden = false;
  // The hidden field keeps the device through the form's reset.
  const who = history.form.elements.namedItem('who');
  who.setAttribute('value', key);
  who.value = key;
  if (!(await identity())) return;
  windowSelect.addEventListener('change', timeline);
  inventory.show(key);
  timeline();
  history.search();
}

start();
