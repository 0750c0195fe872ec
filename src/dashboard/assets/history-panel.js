// The history (GET /api/events): what the live table cannot show, such as everything before
// the page was opened or the server restarted. Search by name (the name and every name below
// it), app, device or client, group, owner and hosting country, action and time range;
// newest first, 50 at a time, with older pages on request. An app or a device in a row, and
// the statistics' apps, countries and hours, narrow the search to it (drill-down).

import { fromInputValue, inputValue, stamp } from './clock.js';
import { fetchLatest, inventoryTable } from './panels.js';

const PAGE = 50;
const DEVICE_ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The API parameter a device or client key goes in: one label is a device id, else an address or pseudonym. */
export function whoParam(key) {
  return DEVICE_ID.test(key) && !/^\d+$/.test(key) ? 'device' : 'client';
}

export class HistoryPanel {
  /** onDevice(key): a device or client was chosen; onUnauthorized(): the session ended. */
  constructor({ onDevice, onUnauthorized }) {
    this.onDevice = onDevice;
    this.onUnauthorized = onUnauthorized;
    this.form = document.getElementById('history-form');
    this.status = document.getElementById('history-status');
    this.table = inventoryTable('history-table', [['Time'], ['Device or client'], ['Group'], ['Name'], ['App or owner (country)'], ['Action']]);
    const results = document.getElementById('history-results');
    this.table.caption.textContent = results.dataset.caption;
    results.replaceChildren(this.table);
    this.older = document.getElementById('history-older');
    this.generation = 0;
    this.query = null;
    this.before = null;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.search();
    });
    this.older.addEventListener('click', () => this.load(false));
  }

  clear() {
    this.generation++;
    this.form.reset();
    this.table.hidden = true;
    this.older.hidden = true;
    this.table.tBodies[0].replaceChildren();
    this.status.textContent = '';
  }

  /** The API's query for the form, or null after saying what is wrong. */
  params() {
    const data = new FormData(this.form);
    const params = new URLSearchParams({ limit: String(PAGE) });
    const text = (name) => String(data.get(name) ?? '').trim();
    if (text('qname') !== '') params.set('qname', text('qname').toLowerCase().replace(/\.$/, ''));
    if (text('app') !== '') params.set('app', text('app').toLowerCase());
    if (text('action') !== '') params.set('action', text('action'));
    const who = text('who').toLowerCase();
    if (who !== '') params.set(whoParam(who), who);
    if (text('group') !== '') params.set('group', text('group'));
    for (const name of ['owner_country', 'hosting_country']) {
      if (text(name) === '') continue;
      if (!/^[A-Za-z]{2}$/.test(text(name))) {
        this.status.textContent = `${name === 'owner_country' ? 'Owner' : 'Hosting'} country: two letters, such as CN.`;
        return null;
      }
      params.set(name, text(name).toUpperCase());
    }
    for (const name of ['since', 'until']) {
      if (text(name) === '') continue;
      const ms = fromInputValue(text(name));
      if (Number.isNaN(ms)) {
        this.status.textContent = `${name === 'since' ? 'From' : 'To'}: not a date and time.`;
        return null;
      }
      params.set(name, String(ms));
    }
    return params;
  }

  search() {
    const params = this.params();
    if (params === null) return;
    this.query = params;
    this.before = null;
    this.table.tBodies[0].replaceChildren();
    this.load(true);
  }

  /** Narrows the search to one field's value and runs it (a click on an app or a device). */
  drill(field, value) {
    this.drillAll({ [field]: value });
  }

  /**
   * Sets the given fields (since and until as epoch ms) and runs the search, bringing the
   * results into view. `fresh` clears the other fields first: a drill-down from the
   * statistics or a chart asks its own question, one from a row narrows the current one.
   */
  drillAll(fields, { fresh = false } = {}) {
    if (fresh) this.form.reset();
    for (const [field, value] of Object.entries(fields)) {
      const input = this.form.elements.namedItem(field);
      if (input !== null) input.value = field === 'since' || field === 'until' ? inputValue(value) : String(value);
    }
    this.search();
    this.form.scrollIntoView({ block: 'nearest' });
  }

  async load(first) {
    const params = new URLSearchParams(this.query);
    if (!first && this.before !== null) params.set('before_id', String(this.before));
    this.status.textContent = 'Searching…';
    const result = await fetchLatest(this, `/api/events?${params}`, () => {
      this.status.textContent = 'History unavailable: the server cannot be reached.';
    });
    if (result === null) return;
    const events = result.body?.events;
    if (!Array.isArray(events)) {
      this.status.textContent = result.status === 503 ? 'No history: this node keeps none.' : `The search was refused: ${result.message ?? result.status}`;
      return;
    }
    this.before = result.body.next_before_id ?? null;
    this.table.tBodies[0].append(...events.map((event) => this.row(event)));
    const shown = this.table.tBodies[0].rows.length;
    this.table.hidden = shown === 0;
    this.older.hidden = this.before === null;
    this.status.textContent = shown === 0 ? 'No stored events match.' : `${shown.toLocaleString()} stored events shown, newest first${this.before === null ? '' : '; Older shows more'}.`;
  }

  row(event) {
    const row = document.createElement('tr');
    const add = (content, title) => {
      const cell = document.createElement('td');
      if (typeof content === 'string') cell.textContent = content;
      else if (content) cell.append(content);
      if (title) cell.title = title;
      row.append(cell);
    };
    const button = (text, label, click) => {
      const element = document.createElement('button');
      element.type = 'button';
      element.className = 'client';
      element.textContent = text;
      element.setAttribute('aria-label', label);
      element.addEventListener('click', click);
      return element;
    };
    add(stamp(document.createElement('span'), event.ts));
    const who = String(event.device ?? event.client ?? '');
    add(
      button(who, `Search the history of ${who}`, () => {
        this.drill('who', who);
        this.onDevice(who);
      }),
      event.device ? `${event.device} at ${event.client}` : who,
    );
    add(event.group ?? '', event.group ?? '');
    add(String(event.qname ?? ''), String(event.qname ?? ''));
    const app = event.app;
    add(app ? button(`${app.name} (${app.owner_country})`, `Search the history of ${app.name}`, () => this.drill('app', app.id)) : event.owner ? `≈ ${event.owner.name} (${event.owner.country})` : '');
    add(event.kind === 'detection' ? String(event.action ?? '') : `${event.action} (${event.kind})`);
    return row;
  }
}
