// The live table. Events arrive far faster than anyone reads, so they are queued and written
// once per animation frame, newest first, and the table never holds more than `maxRows` rows.
// Every value goes in through textContent or a property, never through HTML parsing.

import { stamp } from './clock.js';
import { matches, queryCount } from './feed.js';

const COLUMNS = 11;
/** Group, type, app, hosting, action and rule: cells that wrap instead of cutting their text. */
const WRAPPING = [2, 4, 5, 6, 7, 8];

function latencyText(ms) {
  if (typeof ms !== 'number') return '';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** One entry per distinct (country, ASN): a CDN answer lists many addresses of one network. */
function hostingText(hosting) {
  const seen = new Set();
  for (const host of hosting ?? []) {
    const parts = [host.country ?? '??'];
    if (host.asn !== null && host.asn !== undefined) parts.push(`AS${host.asn}`);
    if (host.org) parts.push(host.org);
    seen.add(parts.join(' '));
  }
  return [...seen].join('; ');
}

/** The name with "×N" kept in view beside it; screen readers hear "N identical queries" instead. */
function folded(qname, count) {
  const wrapper = document.createElement('span');
  wrapper.className = 'folded';
  const name = document.createElement('span');
  name.className = 'qname';
  name.textContent = qname;
  const fold = document.createElement('span');
  fold.className = 'fold';
  fold.title = `${count.toLocaleString()} identical queries`;
  const mark = document.createElement('span');
  mark.setAttribute('aria-hidden', 'true');
  mark.textContent = `×${count.toLocaleString()}`;
  const spoken = document.createElement('span');
  spoken.className = 'visually-hidden';
  spoken.textContent = ` (${fold.title})`;
  fold.append(mark, spoken);
  wrapper.append(name, fold);
  return wrapper;
}

export class LiveTable {
  /** onRender(): called whenever the rows or the paused state changed. */
  constructor(tbody, { maxRows = 500, onRender = () => {} } = {}) {
    this.body = tbody;
    this.maxRows = maxRows;
    this.onRender = onRender;
    this.pending = [];
    this.frame = 0;
    this.paused = false;
    /** Events that arrived while paused (all of them, though at most maxRows are kept). */
    this.held = 0;
    this.events = new WeakMap();
    this.template = document.createElement('tr');
    for (let i = 0; i < COLUMNS; i++) this.template.append(document.createElement('td'));
    this.template.cells[9].className = 'num';
    for (const index of WRAPPING) this.template.cells[index].className = 'wrap';
  }

  get rowCount() {
    return this.body.rows.length;
  }

  add(event) {
    this.queue({ event });
    if (this.paused) this.held++;
  }

  /** A marker where `missed` events are missing from the stream. */
  addGap(missed) {
    this.queue({ gap: missed });
  }

  queue(item) {
    this.pending.push(item);
    // Only the newest maxRows can ever be shown: bound the queue while hidden or paused.
    if (this.pending.length > 2 * this.maxRows) this.pending.splice(0, this.pending.length - this.maxRows);
    this.schedule();
  }

  schedule() {
    if (this.frame === 0 && !this.paused) this.frame = requestAnimationFrame(() => this.render());
  }

  pause() {
    this.paused = true;
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.onRender();
  }

  resume() {
    this.paused = false;
    this.held = 0;
    if (this.pending.length > 0) this.schedule();
    this.onRender();
  }

  clear() {
    this.pending = [];
    this.held = 0;
    this.body.replaceChildren();
    this.onRender();
  }

  /** Drops rows (and queued events) the new filter no longer admits. */
  retain(filter) {
    this.pending = this.pending.filter((item) => item.event === undefined || matches(item.event, filter));
    for (const row of [...this.body.rows]) {
      const event = this.events.get(row);
      if (event !== undefined && !matches(event, filter)) row.remove();
    }
    this.onRender();
  }

  render() {
    this.frame = 0;
    const items = this.pending;
    this.pending = [];
    const fragment = document.createDocumentFragment();
    for (let i = items.length - 1; i >= Math.max(0, items.length - this.maxRows); i--) {
      const item = items[i];
      fragment.append(item.event === undefined ? this.gapRow(item.gap) : this.row(item.event));
    }
    this.body.prepend(fragment);
    for (let excess = this.body.rows.length - this.maxRows; excess > 0; excess--) this.body.lastElementChild.remove();
    this.onRender();
  }

  row(event) {
    const row = this.template.cloneNode(true);
    const cells = row.cells;
    stamp(cells[0], event.ts, { year: false });

    const client = document.createElement('button');
    client.type = 'button';
    client.className = 'client';
    // An identified device is shown (and its inventory kept) by its id; the address is in the title.
    const key = String(event.device ?? event.client ?? '');
    client.textContent = key;
    client.title = event.device ? `${event.device} at ${event.client}` : key;
    client.dataset.client = key;
    cells[1].append(client);

    cells[2].textContent = cells[2].title = event.group ?? '';
    cells[3].title = String(event.qname ?? '');
    const count = queryCount(event);
    if (count > 1) cells[3].append(folded(cells[3].title, count));
    else cells[3].textContent = cells[3].title;
    cells[4].textContent = cells[4].title = event.rcode && event.rcode !== 'NOERROR' ? `${event.qtype} ${event.rcode}` : String(event.qtype ?? '');

    const app = event.app;
    const owner = event.owner;
    if (app) {
      cells[5].append(`${app.name} `);
      const country = document.createElement(event.owner_watchlisted ? 'mark' : 'span');
      country.textContent = `(${app.owner_country})`;
      cells[5].append(country);
      cells[5].title = `${app.name}: ${app.owner}, ${app.owner_country}${event.owner_watchlisted ? ', watch-listed' : ''}` +
        (event.matched_name && event.matched_name !== event.qname ? `; matched ${event.matched_name}` : '');
    } else if (event.attribution === 'network' && owner) {
      // Likely, not certain: the network is the owner's, the name is in no catalogue rule.
      const likely = document.createElement('span');
      likely.className = 'attribution-network';
      likely.textContent = '≈ ';
      likely.setAttribute('aria-label', 'likely: ');
      cells[5].append(likely, `${owner.name} `);
      const country = document.createElement(event.owner_watchlisted ? 'mark' : 'span');
      country.textContent = `(${owner.country})`;
      cells[5].append(country);
      cells[5].title = `Attributed by network: an answer address lies in a network ${owner.name} (${owner.country}) operates; no catalogue rule names ${event.qname}`;
    }

    const hosting = hostingText(event.hosting);
    if (event.hosting_watchlisted && hosting !== '') {
      const mark = document.createElement('mark');
      mark.textContent = hosting;
      cells[6].append(mark);
    } else {
      cells[6].textContent = hosting;
    }
    cells[6].title = (event.hosting ?? []).map((host) => host.ip).join(', ') + (event.hosting_watchlisted ? ' (watch-listed)' : '');

    const action = document.createElement('span');
    action.className = `badge action-${event.action}`;
    action.textContent = String(event.action ?? '');
    cells[7].append(action);
    if (event.kind && event.kind !== 'detection') {
      const kind = document.createElement('span');
      kind.className = 'kind';
      kind.textContent = String(event.kind);
      cells[7].append(kind);
    }

    cells[8].textContent = cells[8].title = event.exemption ? `exempt: ${event.exemption}` : (event.rule ?? '');
    cells[9].textContent = latencyText(event.latency_ms);
    cells[10].textContent = event.cached ? 'yes' : 'no';
    this.events.set(row, event);
    return row;
  }

  gapRow(missed) {
    const row = document.createElement('tr');
    row.className = 'gap';
    const cell = document.createElement('td');
    cell.colSpan = COLUMNS;
    cell.textContent = `${missed} event${missed === 1 ? '' : 's'} missed here`;
    row.append(cell);
    return row;
  }
}
