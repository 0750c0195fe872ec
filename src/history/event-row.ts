import type { Attribution, DetectionEvent, EventHosting, EventKind } from '../events/detection-event.js';
import type { Action } from '../pipeline/action.js';

/** An event as stored: one column per field, booleans as 0/1, hosting as JSON text. */
export interface EventRow {
  id: number;
  ts: number;
  kind: EventKind;
  instance: string;
  client: string;
  device: string | null;
  grp: string | null;
  qname: string;
  qname_rev: string;
  qtype: string;
  rcode: string;
  app_id: string | null;
  app_name: string | null;
  app_owner: string | null;
  app_owner_country: string | null;
  matched_name: string | null;
  hosting: string;
  owner_watchlisted: number;
  hosting_watchlisted: number;
  action: Action;
  rule: string | null;
  exemption: string | null;
  latency_ms: number;
  cached: number;
  count: number;
  attribution: Attribution | null;
  owner_name: string | null;
  owner_country: string | null;
}

/** Every column once; `satisfies` makes the compiler catch a column missing here. */
const COLUMN_SET = {
  id: true, ts: true, kind: true, instance: true, client: true, grp: true, qname: true, qname_rev: true,
  qtype: true, rcode: true, app_id: true, app_name: true, app_owner: true, app_owner_country: true,
  matched_name: true, hosting: true, owner_watchlisted: true, hosting_watchlisted: true, action: true,
  rule: true, exemption: true, latency_ms: true, cached: true, count: true, attribution: true, owner_name: true,
  owner_country: true, device: true,
} satisfies Record<keyof EventRow, true>;
export const EVENT_COLUMNS = Object.keys(COLUMN_SET) as (keyof EventRow)[];

/** SQL that holds a row to `kinds` (the (kind, ts) index then serves a time range). */
export function kindIn(kinds: readonly EventKind[], prefix = ''): string {
  return `${prefix}kind IN (${kinds.map((kind) => `'${kind}'`).join(', ')})`;
}

/** "www.Example.com." → "com.example.www", so a domain and its subdomains share a prefix. */
export function reversedName(name: string): string {
  // Equivalent to toLowerCase, dropping one trailing dot, split('.').reverse().join('.'),
  // without the array: this runs for every stored event.
  const lower = name.toLowerCase();
  const end = lower.endsWith('.') ? lower.length - 1 : lower.length;
  let reversed = '';
  let labelEnd = end;
  for (let i = end - 1; i >= -1; i--) {
    if (i === -1 || lower.charCodeAt(i) === DOT) {
      reversed += labelEnd === end ? lower.slice(i + 1, labelEnd) : `.${lower.slice(i + 1, labelEnd)}`;
      labelEnd = i;
    }
  }
  return reversed;
}

const DOT = 0x2e;
/** Most events (blocks: NXDOMAIN) have no answer addresses. */
const NO_HOSTING = '[]';

export function toRow(event: DetectionEvent): EventRow {
  return {
    id: event.id,
    ts: event.ts,
    kind: event.kind,
    instance: event.instance,
    client: event.client,
    device: event.device,
    grp: event.group,
    qname: event.qname,
    qname_rev: reversedName(event.qname),
    qtype: event.qtype,
    rcode: event.rcode,
    app_id: event.app?.id ?? null,
    app_name: event.app?.name ?? null,
    app_owner: event.app?.owner ?? null,
    app_owner_country: event.app?.owner_country ?? null,
    matched_name: event.matched_name,
    hosting: event.hosting.length === 0 ? NO_HOSTING : JSON.stringify(event.hosting),
    owner_watchlisted: event.owner_watchlisted ? 1 : 0,
    hosting_watchlisted: event.hosting_watchlisted ? 1 : 0,
    action: event.action,
    rule: event.rule,
    exemption: event.exemption,
    latency_ms: event.latency_ms,
    cached: event.cached ? 1 : 0,
    count: event.count,
    attribution: event.attribution,
    owner_name: event.owner?.name ?? null,
    owner_country: event.owner?.country ?? null,
  };
}

/**
 * The event's column values in EVENT_COLUMNS order. better-sqlite3 binds positional
 * parameters from an array directly; named ones cost a property look-up through the C++
 * API each, which was about a tenth of a stored event's CPU (perf, bench/history/write.bench.ts).
 */
export function toValues(event: DetectionEvent): EventRow[keyof EventRow][] {
  const row = toRow(event);
  return EVENT_COLUMNS.map((column) => row[column]);
}

/** The event exactly as it was published (field order included, so JSON text matches too). */
export function fromRow(row: EventRow): DetectionEvent {
  return {
    id: row.id,
    ts: row.ts,
    kind: row.kind,
    instance: row.instance,
    client: row.client,
    device: row.device,
    group: row.grp,
    qname: row.qname,
    qtype: row.qtype,
    rcode: row.rcode,
    app:
      row.app_id === null
        ? null
        : { id: row.app_id, name: row.app_name ?? '', owner: row.app_owner ?? '', owner_country: row.app_owner_country ?? '' },
    matched_name: row.matched_name,
    attribution: row.attribution,
    owner: row.owner_name === null ? null : { name: row.owner_name, country: row.owner_country ?? '' },
    hosting: JSON.parse(row.hosting) as EventHosting[],
    owner_watchlisted: row.owner_watchlisted !== 0,
    hosting_watchlisted: row.hosting_watchlisted !== 0,
    action: row.action,
    rule: row.rule,
    exemption: row.exemption,
    latency_ms: row.latency_ms,
    cached: row.cached !== 0,
    count: row.count,
  };
}

/** The distinct hosting countries of an event. */
export function hostingCountries(event: DetectionEvent): Set<string> {
  const countries = new Set<string>();
  for (const hosting of event.hosting) if (hosting.country !== null) countries.add(hosting.country);
  return countries;
}
