// The discovery queue (src/http/discovery-routes.ts): names no rule matches that look like an
// app's, with their evidence, refreshed while the page is visible. Analysts dismiss them;
// administrators promote one into a local rule of an app in one step.

import { formatTime } from './clock.js';
import { apiJson, RefreshingPanel, Unauthorized } from './panels.js';

const REFRESH_MS = 15_000;
const SHOWN = 20;

function evidenceText(candidate) {
  const parts = [];
  const network = candidate.network;
  if (network) parts.push(`network of ${network.owner} (${network.country}${network.asn ? `, AS${network.asn}` : ''})`);
  for (const host of candidate.hosting ?? []) parts.push(`hosted in ${host.country}${host.asn ? ` (AS${host.asn})` : ''}`);
  const follows = (candidate.follows ?? []).map((entry) => `${entry.app} ×${Number(entry.count).toLocaleString()}`);
  if (follows.length > 0) parts.push(`asked after ${follows.join(', ')}`);
  return parts.join(' · ');
}

function countsText(candidate) {
  const devices = Number(candidate.devices);
  const last = formatTime(candidate.last_seen, { seconds: false });
  return `${Number(candidate.queries).toLocaleString()} queries, ${devices >= 64 ? '64+' : devices} device${devices === 1 ? '' : 's'}, last ${last}`;
}

export class DiscoveryPanel extends RefreshingPanel {
  constructor({ onUnauthorized }) {
    super(REFRESH_MS);
    this.onUnauthorized = onUnauthorized;
    this.note = document.getElementById('discovery-note');
    this.list = document.getElementById('discovery-list');
    this.status = document.getElementById('discovery-status');
    this.admin = false;
    document.getElementById('discovery-refresh').addEventListener('click', () => {
      if (this.timer !== 0) this.refresh();
    });
  }

  /** `admin`: the signed-in principal may promote. */
  start(admin) {
    this.admin = admin;
    super.start();
  }

  /** Never redraw under someone typing a promotion. */
  mayRefresh() {
    return super.mayRefresh() && !this.list.contains(document.activeElement);
  }

  clear() {
    this.list.replaceChildren();
    this.list.hidden = true;
    this.status.textContent = '';
    this.note.hidden = false;
    this.note.textContent = 'Loading…';
  }

  async refresh() {
    const result = await this.fetchFresh(`/api/discovery?limit=${SHOWN}`, 'Discovery unavailable: the server cannot be reached.');
    if (result === null) return;
    const candidates = result.body?.candidates;
    if (!Array.isArray(candidates)) this.showNote(result.error === 'discovery_off' ? 'This node keeps no discovery queue.' : `Discovery unavailable (the server answered ${result.status}).`);
    else if (candidates.length === 0) this.showNote('No candidates: every name seen near an app or in a watch-listed network is known.');
    else this.render(candidates);
  }

  showNote(text) {
    this.list.hidden = true;
    this.note.hidden = false;
    this.note.textContent = text;
  }

  render(candidates) {
    this.note.hidden = true;
    this.list.hidden = false;
    this.list.replaceChildren(...candidates.map((candidate) => this.item(candidate)));
  }

  item(candidate) {
    const name = String(candidate.name);
    const item = document.createElement('li');
    item.dataset.name = name;
    const title = document.createElement('span');
    title.className = 'candidate';
    title.textContent = name;
    const counts = document.createElement('span');
    counts.className = 'hint';
    counts.textContent = countsText(candidate);
    const evidence = document.createElement('p');
    evidence.className = 'evidence';
    evidence.textContent = evidenceText(candidate);
    item.append(title, ' ', counts, evidence);

    const actions = document.createElement('form');
    actions.className = 'candidate-actions';
    actions.setAttribute('aria-label', `Promote or dismiss ${name}`);
    if (this.admin) {
      const app = document.createElement('input');
      app.name = 'app';
      app.required = true;
      app.spellcheck = false;
      app.autocomplete = 'off';
      app.pattern = '[a-z0-9][a-z0-9\\-]*';
      app.value = candidate.follows?.[0]?.app ?? '';
      app.setAttribute('aria-label', `App id for ${name}`);
      app.placeholder = 'app id';
      const reason = document.createElement('input');
      reason.name = 'reason';
      reason.required = true;
      reason.maxLength = 500;
      reason.setAttribute('aria-label', `Reason for promoting ${name}`);
      reason.placeholder = 'reason (ticket, capture)';
      const promote = document.createElement('button');
      promote.type = 'submit';
      promote.textContent = 'Promote';
      actions.append(app, reason, promote);
      actions.addEventListener('submit', (event) => {
        event.preventDefault();
        this.act(name, 'promote', { app: app.value.trim(), reason: reason.value.trim() });
      });
    }
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.textContent = 'Dismiss';
    dismiss.addEventListener('click', () => this.act(name, 'dismiss', {}));
    actions.append(dismiss);
    item.append(actions);
    return item;
  }

  async act(name, action, payload) {
    let result;
    try {
      result = await apiJson(`/api/discovery/${encodeURIComponent(name)}/${action}`, payload);
    } catch (error) {
      if (error instanceof Unauthorized) this.onUnauthorized();
      else this.status.textContent = 'The server cannot be reached.';
      return;
    }
    if (result.body === null) {
      this.status.textContent = `${name}: ${result.message ?? `refused (${result.status})`}`;
      return;
    }
    this.status.textContent = action === 'promote' ? `${name} is now a rule of ${result.body.rule.app} (${result.body.file}).` : `${name} dismissed.`;
    this.list.querySelector(`li[data-name="${CSS.escape(name)}"]`)?.remove();
    if (this.list.children.length === 0) this.refresh();
  }
}
