// The printable exposure report (report.html?days=N): what GET /api/exposure says, laid out for
// a memo. It uses the dashboard's session; without one it says where to sign in.

import { trendText } from './exposure-panel.js';
import { apiJson, Unauthorized } from './panels.js';

const $ = (id) => document.getElementById(id);

function number(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function day(ms) {
  return new Date(ms).toLocaleDateString([], { year: 'numeric', month: 'long', day: 'numeric' });
}

function cell(row, text, className) {
  const element = document.createElement('td');
  element.textContent = text;
  if (className) element.className = className;
  row.append(element);
  return element;
}

function render(report) {
  $('report-title').textContent = `Exposure to apps of watch-listed owners, last ${report.days} days`;
  $('report-period').textContent = `${day(report.since)} to ${day(report.until)}, against ${day(report.previous_since)} to ${day(report.since)}. Generated ${new Date().toLocaleString()}.`;
  const groups = Array.isArray(report.groups) ? report.groups : [];
  const total = (pick) => groups.reduce((sum, group) => sum + number(pick(group)), 0);
  const [devices, exposed, now, before] = [total((g) => g.devices), total((g) => g.devices_watchlisted), total((g) => g.queries_watchlisted), total((g) => g.previous?.queries_watchlisted)];
  $('summary').textContent =
    `${exposed.toLocaleString()} of ${devices.toLocaleString()} devices used apps of watch-listed owners; ` +
    `${total((g) => g.queries?.block).toLocaleString()} such queries were blocked and ${total((g) => g.queries?.exempt).toLocaleString()} exempted. ` +
    `Watch-listed queries: ${now.toLocaleString()}, ${trendText(now, before)} against the period before (${before.toLocaleString()}).`;
  $('report-groups').tBodies[0].replaceChildren(
    ...groups.map((group) => {
      const row = document.createElement('tr');
      const name = document.createElement('th');
      name.scope = 'row';
      name.textContent = group.group ?? 'no group';
      row.append(name);
      cell(row, group.organisation ?? '');
      cell(row, number(group.devices).toLocaleString(), 'num');
      cell(row, number(group.devices_watchlisted).toLocaleString(), 'num');
      cell(row, number(group.queries?.block).toLocaleString(), 'num');
      cell(row, number(group.queries?.exempt).toLocaleString(), 'num');
      cell(row, number(group.queries_watchlisted).toLocaleString(), 'num');
      cell(row, number(group.previous?.queries_watchlisted).toLocaleString(), 'num');
      const trend = trendText(number(group.queries_watchlisted), number(group.previous?.queries_watchlisted));
      cell(row, trend, trend.startsWith('down') ? 'down' : trend.startsWith('up') || trend.startsWith('new') ? 'up' : '');
      cell(row, (group.top_apps ?? []).map((app) => `${app.name} (${app.owner_country}): ${number(app.devices)}`).join(', ') || 'none');
      return row;
    }),
  );
  $('report-note').hidden = true;
  $('report-body').hidden = false;
}

async function load() {
  const requested = Number(new URLSearchParams(location.search).get('days') ?? 7);
  const days = Number.isInteger(requested) && requested >= 1 && requested <= 90 ? requested : 7;
  try {
    const result = await apiJson(`/api/exposure?days=${days}`);
    if (result.body === null) $('report-note').textContent = `No report: the server answered ${result.status}${result.message ? ` (${result.message})` : ''}.`;
    else render(result.body);
  } catch (error) {
    $('report-note').textContent = error instanceof Unauthorized ? 'Sign in on the dashboard first, then open this report again.' : 'The server cannot be reached.';
  }
}

$('print').addEventListener('click', () => window.print());
load();
