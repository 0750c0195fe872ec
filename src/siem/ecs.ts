import { isIP } from 'node:net';
import type { DetectionEvent, EventHosting } from '../events/detection-event.js';

/** The ECS release the documents follow (`device.id` needs 8.7 or later). */
const ECS_VERSION = '8.11.0';
/**
 * Hosting entries carried per document. An answer fetched over TCP can hold hundreds of
 * addresses; the cap keeps a message well inside one syslog datagram. The full count is in
 * `wachtpost.hosting_count`.
 */
export const MAX_HOSTING = 16;

/** An EventHosting without its null fields. */
export interface HostingEntry {
  ip: string;
  country?: string;
  asn?: number;
  org?: string;
}

export interface EcsDocument {
  '@timestamp': string;
  ecs: { version: string };
  message: string;
  event: {
    kind: 'alert' | 'event';
    category: ['network'];
    type: ['denied'] | ['allowed'] | ['info'];
    action: string;
    id: string;
    dataset: 'wachtpost.detection';
    module: 'wachtpost';
    outcome: 'success' | 'failure';
    /** Nanoseconds, as ECS counts durations. */
    duration: number;
  };
  observer: { name: string; product: 'Wachtpost'; vendor: 'Wachtpost'; type: 'dns' };
  source?: { ip: string };
  device?: { id: string };
  network: { protocol: 'dns' };
  dns: { type: 'answer'; question: { name: string; type: string }; response_code: string; resolved_ip?: string[] };
  destination?: { ip: string; geo?: { country_iso_code: string }; as?: { number: number; organization?: { name: string } } };
  rule?: { name: string; ruleset: 'wachtpost-policy' };
  related?: { ip: string[] };
  labels: Record<string, string>;
  wachtpost: {
    kind: string;
    app?: { id: string; name: string; owner: string; owner_country: string };
    matched_name?: string;
    /** name: a catalogue rule matched (certain); network: an answer lies in the owner's own network (likely). */
    attribution?: 'name' | 'network';
    owner?: { name: string; country: string };
    owner_watchlisted: boolean;
    hosting_watchlisted: boolean;
    exemption?: string;
    cached: boolean;
    /**
     * Queries the document stands for (folded repeats); a custom field because ECS has none
     * for an aggregate count (`event.sequence` orders events, it does not count them).
     */
    count: number;
    hosting: HostingEntry[];
    hosting_count: number;
  };
}

/** Blocks, residual activity and bypass attempts are what an analyst must look at. */
export function isAlert(event: DetectionEvent): boolean {
  return event.action === 'block' || event.kind === 'residual' || event.kind === 'bypass';
}

/**
 * The event as an Elastic Common Schema document. Absent values are left out rather than
 * sent as null. The client goes to `source.ip` only when it is an address; `device.id` holds
 * the device id from encrypted DNS, or else a pseudonymised client ("p:…"), which
 * identifies a phone without being an address.
 */
export function ecsDocument(event: DetectionEvent): EcsDocument {
  const hosting = event.hosting.slice(0, MAX_HOSTING);
  const resolved = hosting.map((entry) => entry.ip);
  const clientIsAddress = isIP(event.client) !== 0;
  const related = clientIsAddress ? [event.client, ...resolved] : resolved;
  return {
    '@timestamp': new Date(event.ts).toISOString(),
    ecs: { version: ECS_VERSION },
    message: summary(event),
    event: {
      kind: isAlert(event) ? 'alert' : 'event',
      category: ['network'],
      type: event.action === 'block' ? ['denied'] : event.kind === 'query' ? ['info'] : ['allowed'],
      action: event.action,
      id: String(event.id),
      dataset: 'wachtpost.detection',
      module: 'wachtpost',
      // The resolver's own result: the question was answered, positively or with NXDOMAIN.
      outcome: event.rcode === 'NOERROR' || event.rcode === 'NXDOMAIN' ? 'success' : 'failure',
      duration: Math.round(event.latency_ms * 1e6),
    },
    observer: { name: event.instance, product: 'Wachtpost', vendor: 'Wachtpost', type: 'dns' },
    ...(clientIsAddress && { source: { ip: event.client } }),
    // The identified device when there is one; else a pseudonymised client stands for the phone.
    ...((event.device !== null || !clientIsAddress) && { device: { id: event.device ?? event.client } }),
    network: { protocol: 'dns' },
    dns: {
      type: 'answer',
      question: { name: event.qname, type: event.qtype },
      response_code: event.rcode,
      ...(resolved.length > 0 && { resolved_ip: resolved }),
    },
    ...(hosting[0] !== undefined && { destination: destination(hosting[0]) }),
    ...(event.rule !== null && { rule: { name: event.rule, ruleset: 'wachtpost-policy' } }),
    ...(related.length > 0 && { related: { ip: related } }),
    labels: labels(event),
    wachtpost: {
      kind: event.kind,
      ...(event.app !== null && { app: event.app }),
      ...(event.matched_name !== null && { matched_name: event.matched_name }),
      ...(event.attribution !== null && { attribution: event.attribution }),
      ...(event.owner !== null && { owner: event.owner }),
      owner_watchlisted: event.owner_watchlisted,
      hosting_watchlisted: event.hosting_watchlisted,
      ...(event.exemption !== null && { exemption: event.exemption }),
      cached: event.cached,
      count: event.count,
      hosting: hosting.map(hostingEntry),
      hosting_count: event.hosting.length,
    },
  };
}

/** The first answer address, the one a phone most likely connects to, with its country and AS. */
function destination(first: EventHosting): NonNullable<EcsDocument['destination']> {
  return {
    ip: first.ip,
    ...(first.country !== null && { geo: { country_iso_code: first.country } }),
    ...(first.asn !== null && { as: { number: first.asn, ...(first.org !== null && { organization: { name: first.org } }) } }),
  };
}

function hostingEntry({ ip, country, asn, org }: EventHosting): HostingEntry {
  return { ip, ...(country !== null && { country }), ...(asn !== null && { asn }), ...(org !== null && { org }) };
}

/** Flat keyword labels for quick filters; ECS label keys carry no dots. */
function labels(event: DetectionEvent): Record<string, string> {
  const result: Record<string, string> = { kind: event.kind };
  if (event.app !== null) result.app_id = event.app.id;
  if (event.owner !== null) result.owner_country = event.owner.country;
  if (event.attribution !== null) result.attribution = event.attribution;
  if (event.group !== null) result.group = event.group;
  if (event.exemption !== null) result.exemption = event.exemption;
  return result;
}

/**
 * One line for list views: "block api.example.com A: tiktok, rule owner-country:CN", or for
 * network attribution "allow x.example A: network of Yandex (RU)".
 */
function summary(event: DetectionEvent): string {
  const attributed = event.app?.id ?? (event.owner === null ? undefined : `network of ${event.owner.name} (${event.owner.country})`);
  const details = [attributed, event.rule === null ? undefined : `rule ${event.rule}`].filter((part) => part !== undefined);
  return `${event.action} ${event.qname} ${event.qtype}${details.length > 0 ? `: ${details.join(', ')}` : ''}`;
}
