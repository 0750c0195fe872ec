// Side panels from the REST API (src/http/stats-routes.ts, device-routes.ts): statistics,
// refreshed every few seconds while the page is visible, and a device's app inventory. A
// node without history answers 503; the panels then say so and the rest of the page works on.

import { ActionsChart } from './charts.js';
import { stamp } from './clock.js';

const REFRESH_MS = 10_000;
const TOP = 8;

/** Thrown for a 401, so the page can return to the sign-in form. */
export class Unauthorized extends Error {}

/**
 * {status, body}, or on an error {status, body: null, error, message: the API's error code
 * and explanation if any}. With `payload`, a POST of it as JSON.
 */
export async function apiJson(path, payload) {
  const init = { headers: { accept: 'application/json' } };
  if (payload !== undefined) Object.assign(init, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const response = await fetch(path, init);
  if (response.status === 401) throw new Unauthorized();
  if (response.ok) return { status: response.status, body: await response.json() };
  const error = await response.json().catch(() => null);
  return { status: response.status, body: null, error: error?.error, message: error?.message };
}

function noHistoryText(status) {
  return status === 404 || status === 503 ? 'No history: this node keeps none, or it is unavailable.' : `No history (the server answered ${status}).`;
}

function count(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Writes a ranked list with proportional bars; `button(entry)` may make a label clickable. */
function renderBars(list, entries, label, button) {
  const items = (Array.isArray(entries) ? entries : []).slice(0, TOP);
  if (items.length === 0) {
    const none = document.createElement('li');
    none.className = 'none';
    none.textContent = 'none';
    list.replaceChildren(none);
    return;
  }
  const top = Math.max(1, ...items.map((entry) => count(entry.count)));
  list.replaceChildren(
    ...items.map((entry) => {
      const item = document.createElement('li');
      const name = button ? button(entry) : document.createElement('span');
      if (!button) name.textContent = label(entry);
      name.classList.add('label');
      name.title = label(entry);
      const number = document.createElement('span');
      number.className = 'count';
      number.textContent = count(entry.count).toLocaleString();
      const bar = document.createElement('span');
      bar.className = 'bar';
      // CSSOM, not a style attribute: the policy allows no inline styles.
      bar.style.width = `${(100 * count(entry.count)) / top}%`;
      item.append(name, number, bar);
      return item;
    }),
  );
}

/**
 * A panel that refreshes itself every `refreshMs` while signed in and the page is visible
 * (and at once when it becomes visible again). `generation` grows with every refresh and
 * stop, so an answer that arrives after a newer request or a sign-out is dropped.
 */
export class RefreshingPanel {
  constructor(refreshMs) {
    this.refreshMs = refreshMs;
    this.timer = 0;
    this.generation = 0;
    document.addEventListener('visibilitychange', () => {
      if (this.timer !== 0 && !document.hidden) this.refresh();
    });
  }

  /** Whether the timer may redraw now; a panel with a form says no while it is in use. */
  mayRefresh() {
    return !document.hidden;
  }

  start() {
    this.stop();
    this.timer = setInterval(() => {
      if (this.mayRefresh()) this.refresh();
    }, this.refreshMs);
    this.refresh();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    this.generation++;
  }

  /**
   * The API's answer for a refresh, or null when there is nothing to draw: a newer refresh
   * or a sign-out came meanwhile, the session ended (onUnauthorized), or the server cannot
   * be reached (`unreachable` shown with showNote).
   */
  fetchFresh(path, unreachable) {
    return fetchLatest(this, path, () => this.showNote(unreachable));
  }
}

/**
 * The API's answer for the newest request of `panel` (which has `generation` and
 * `onUnauthorized`), or null when there is nothing to draw: a newer request or a sign-out
 * came meanwhile, the session ended (onUnauthorized), or the server cannot be reached
 * (`unreachable()`).
 */
export async function fetchLatest(panel, path, unreachable) {
  const generation = ++panel.generation;
  let result;
  try {
    result = await apiJson(path);
  } catch (error) {
    if (generation !== panel.generation) return null;
    if (error instanceof Unauthorized) panel.onUnauthorized();
    else unreachable();
    return null;
  }
  return generation === panel.generation ? result : null;
}

/**
 * A hidden table of class "inventory" with an empty caption, one header row and an empty
 * body; a column is [label] or [label, 'num'] for right-aligned figures. Panels build their
 * tables with it, so a page holds only the place they go.
 */
export function inventoryTable(id, columns) {
  const table = document.createElement('table');
  table.id = id;
  table.className = 'inventory';
  table.hidden = true;
  table.createCaption();
  const row = table.createTHead().insertRow();
  for (const [label, kind] of columns) {
    const cell = document.createElement('th');
    cell.scope = 'col';
    cell.textContent = label;
    if (kind === 'num') cell.className = 'num';
    row.append(cell);
  }
  table.createTBody();
  return table;
}

/** A label that drills down: a link-styled button with a spoken purpose. */
function drillButton(text, purpose, click) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = text;
  button.setAttribute('aria-label', `${text}: ${purpose}`);
  button.addEventListener('click', click);
  return button;
}

export class StatsPanel extends RefreshingPanel {
  /**
   * onClient(client): a device was chosen; onDrill(fields): an app, a country or an hour was
   * chosen, to search the history for; onUnauthorized(): the session ended.
   */
  constructor({ onClient, onDrill, onUnauthorized }) {
    super(REFRESH_MS);
    this.onClient = onClient;
    this.onDrill = onDrill;
    this.onUnauthorized = onUnauthorized;
    this.chart = new ActionsChart(document.getElementById('stats-chart'), {
      title: 'Queries per hour by action',
      onBucket: (since, until) => onDrill({ since, until }),
    });
    this.window = document.getElementById('stats-window');
    this.note = document.getElementById('stats-note');
    this.body = document.getElementById('stats-body');
    this.window.addEventListener('change', () => this.refresh());
  }

  clear() {
    this.body.hidden = true;
    this.note.hidden = false;
    this.note.textContent = 'Loading…';
    this.chart.clear();
    for (const id of ['stats-apps', 'stats-owners', 'stats-hosting', 'stats-devices']) document.getElementById(id).replaceChildren();
    document.getElementById('stats-blocked').textContent = '0';
  }

  async refresh() {
    const result = await this.fetchFresh(`/api/stats?window=${encodeURIComponent(this.window.value)}`, 'Statistics unavailable: the server cannot be reached.');
    if (result === null) return;
    if (result.body === null || typeof result.body !== 'object') this.showNote(noHistoryText(result.status));
    else this.render(result.body);
  }

  showNote(text) {
    this.body.hidden = true;
    this.note.hidden = false;
    this.note.textContent = text;
  }

  render(stats) {
    // The refresh replaces the device buttons: a keyboard user's focus must not fall out.
    const focused = this.body.contains(document.activeElement) ? document.activeElement.textContent : null;
    this.note.hidden = true;
    this.body.hidden = false;
    document.getElementById('stats-blocked').textContent = count(stats.actions?.block).toLocaleString();
    // Drawn once the body is shown, so the chart can take the panel's width.
    this.chart.update(stats.actions_per_hour);
    const search = (field, value) => () => this.onDrill({ [field]: value });
    renderBars(document.getElementById('stats-apps'), stats.top_apps, (entry) => entry.name ?? entry.id ?? '?', (entry) =>
      drillButton(entry.name ?? entry.id ?? '?', 'search the history', search('app', String(entry.id))),
    );
    renderBars(document.getElementById('stats-owners'), stats.top_owner_countries, (entry) => entry.country ?? '?', (entry) =>
      drillButton(entry.country ?? '?', "search the history for this owners' country", search('owner_country', String(entry.country))),
    );
    renderBars(document.getElementById('stats-hosting'), stats.top_hosting_countries, (entry) => entry.country ?? '?', (entry) =>
      drillButton(entry.country ?? '?', 'search the history for this hosting country', search('hosting_country', String(entry.country))),
    );
    renderBars(
      document.getElementById('stats-devices'),
      stats.top_devices,
      (entry) => String(entry.client ?? '?'),
      (entry) => {
        const button = drillButton(String(entry.client ?? '?'), 'show its apps', () => this.onClient(String(entry.client)));
        button.className = 'client';
        return button;
      },
    );
    if (focused !== null) [...this.body.querySelectorAll('.bars button')].find((button) => button.textContent === focused)?.focus();
  }
}

/** A date cell's content: written by the page's clock. */
function when(value) {
  return typeof value === 'number' && Number.isFinite(value) ? { ts: value } : '';
}

export class InventoryPanel {
  constructor({ onUnauthorized }) {
    this.onUnauthorized = onUnauthorized;
    this.note = document.getElementById('device-note');
    this.table = inventoryTable('device-apps', [['App'], ['Owner'], ['First seen'], ['Last seen'], ['Queries', 'num']]);
    this.caption = this.table.caption;
    this.addresses = inventoryTable('device-addresses', [['Address'], ['First seen'], ['Last seen'], ['Queries', 'num']]);
    this.addressesCaption = this.addresses.caption;
    document.getElementById('device-tables').replaceChildren(this.table, this.addresses);
    /** The link to the device's own page (absent on that page). */
    this.pageLink = document.getElementById('device-page');
    this.generation = 0;
  }

  clear() {
    this.generation++;
    this.table.hidden = true;
    this.table.tBodies[0].replaceChildren();
    this.addresses.hidden = true;
    this.addresses.tBodies[0].replaceChildren();
    this.note.hidden = false;
    this.note.textContent = 'Choose a client in the table or under Top devices to see which apps it has used.';
    if (this.pageLink !== null) this.pageLink.hidden = true;
  }

  async show(client) {
    this.addresses.hidden = true;
    this.note.hidden = false;
    this.note.textContent = `Loading the apps of ${client}…`;
    if (this.pageLink !== null) {
      this.pageLink.href = `/dashboard/device.html?device=${encodeURIComponent(client)}`;
      this.pageLink.textContent = `Open the device page of ${client}`;
      this.pageLink.hidden = false;
    }
    const result = await fetchLatest(this, `/api/devices/${encodeURIComponent(client)}/apps`, () => {
      this.note.textContent = 'Device inventory unavailable: the server cannot be reached.';
    });
    if (result === null) return;
    const generation = this.generation;
    const apps = result.body?.apps;
    if (!Array.isArray(apps)) {
      this.table.hidden = true;
      this.note.textContent =
        result.error === 'unknown_device'
          ? `No catalogued app has been seen on ${client} within the retention period.`
          : `${client}: ${noHistoryText(result.status)}`;
      return this.showAddresses(client, generation);
    }
    this.caption.textContent = `Apps seen on ${client}`;
    fillRows(this.table, apps, (app) => [app.name ?? app.id ?? '?', `${app.owner ?? ''} (${app.owner_country ?? '??'})`, when(app.first_seen), when(app.last_seen), count(app.count).toLocaleString()], (row, app) => {
      row.cells[0].title = String(app.id ?? '');
    });
    this.note.hidden = apps.length > 0;
    if (apps.length === 0) this.note.textContent = `No catalogued app seen on ${client}.`;
    this.table.hidden = apps.length === 0;
    await this.showAddresses(client, generation);
  }

  /** The addresses an identified device asked from (VPN sessions, mobile networks); nothing for an address. */
  async showAddresses(client, generation) {
    let result;
    try {
      result = await apiJson(`/api/devices/${encodeURIComponent(client)}/addresses`);
    } catch {
      return;
    }
    const addresses = result.body?.addresses;
    if (generation !== this.generation || !Array.isArray(addresses) || addresses.length === 0) return;
    this.addressesCaption.textContent = `Addresses ${client} asked from`;
    fillRows(this.addresses, addresses, (entry) => [String(entry.address ?? '?'), when(entry.first_seen), when(entry.last_seen), count(entry.count).toLocaleString()]);
    this.addresses.hidden = false;
  }
}

/**
 * Replaces the table's rows, one per item, its last column numeric; a cell is text or
 * {ts} (a time in the page's clock); `decorate` adds to a row.
 */
function fillRows(table, items, cellsOf, decorate = () => {}) {
  table.tBodies[0].replaceChildren(
    ...items.map((item) => {
      const row = document.createElement('tr');
      for (const content of cellsOf(item)) {
        const cell = document.createElement('td');
        if (typeof content === 'object') stamp(cell, content.ts, { seconds: false });
        else cell.textContent = content;
        row.append(cell);
      }
      row.cells[row.cells.length - 1].className = 'num';
      decorate(row, item);
      return row;
    }),
  );
}
