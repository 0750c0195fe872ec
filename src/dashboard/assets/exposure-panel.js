// Exposure per group (src/http/exposure-routes.ts): which devices used watch-listed apps over
// the last days, what was blocked, and whether it went up or down against the days before.

import { RefreshingPanel } from './panels.js';

const REFRESH_MS = 60_000;

function number(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Watch-listed queries now against the period before, in words a manager reads at a glance. */
export function trendText(now, before) {
  if (before === 0) return now === 0 ? 'none either period' : 'new this period';
  const change = Math.round((100 * (now - before)) / before);
  if (change === 0) return 'unchanged';
  return change < 0 ? `down ${-change} %` : `up ${change} %`;
}

export class ExposurePanel extends RefreshingPanel {
  constructor({ onUnauthorized }) {
    super(REFRESH_MS);
    this.onUnauthorized = onUnauthorized;
    this.days = document.getElementById('exposure-days');
    this.note = document.getElementById('exposure-note');
    this.table = document.getElementById('exposure-table');
    this.report = document.getElementById('exposure-report');
    this.days.addEventListener('change', () => {
      this.report.href = `/dashboard/report.html?days=${encodeURIComponent(this.days.value)}`;
      this.refresh();
    });
  }

  clear() {
    this.table.hidden = true;
    this.table.tBodies[0].replaceChildren();
    this.note.hidden = false;
    this.note.textContent = 'Loading…';
  }

  async refresh() {
    const result = await this.fetchFresh(`/api/exposure?days=${encodeURIComponent(this.days.value)}`, 'Exposure unavailable: the server cannot be reached.');
    if (result === null) return;
    const groups = result.body?.groups;
    if (!Array.isArray(groups)) return this.showNote(result.status === 503 ? 'No history: this node keeps none.' : `Exposure unavailable (the server answered ${result.status}).`);
    if (groups.length === 0) return this.showNote('No recorded queries in this period.');
    this.render(groups);
  }

  showNote(text) {
    this.table.hidden = true;
    this.note.hidden = false;
    this.note.textContent = text;
  }

  render(groups) {
    this.table.tBodies[0].replaceChildren(
      ...groups.map((group) => {
        const row = document.createElement('tr');
        const apps = (group.top_apps ?? []).map((app) => `${app.name} (${app.owner_country}): ${number(app.devices)} devices`).join('; ');
        const cells = [
          group.group === null || group.group === undefined ? 'no group' : group.organisation ? `${group.group} (${group.organisation})` : group.group,
          number(group.devices).toLocaleString(),
          number(group.devices_watchlisted).toLocaleString(),
          number(group.queries?.block).toLocaleString(),
          number(group.queries?.exempt).toLocaleString(),
          trendText(number(group.queries_watchlisted), number(group.previous?.queries_watchlisted)),
        ];
        for (const [i, text] of cells.entries()) {
          const cell = document.createElement(i === 0 ? 'th' : 'td');
          if (i === 0) cell.scope = 'row';
          cell.textContent = text;
          if (i > 0 && i < 5) cell.className = 'num';
          row.append(cell);
        }
        row.cells[2].title = apps === '' ? 'No watch-listed app' : apps;
        row.cells[5].title = `${number(group.queries_watchlisted).toLocaleString()} watch-listed queries, ${number(group.previous?.queries_watchlisted).toLocaleString()} in the period before`;
        return row;
      }),
    );
    this.note.hidden = true;
    this.table.hidden = false;
  }
}
