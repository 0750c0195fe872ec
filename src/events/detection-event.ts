import type { Action } from '../pipeline/action.js';

/** What a query was recorded for; also the history's retention class. */
export type EventKind = 'detection' | 'residual' | 'bypass' | 'query';

/** Every kind, for schemas and loops (the compiler checks the list is complete). */
export const EVENT_KINDS = Object.keys({ detection: 0, residual: 0, bypass: 0, query: 0 } satisfies Record<EventKind, 0>) as EventKind[];

export interface EventApp {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly owner_country: string;
}

/**
 * How an event was tied to an owner: `name` when a catalogue rule matched the query name
 * or a name in its answer (certain), `network` when an answer address lies in a network
 * the owner operates itself (likely: the owner, or a customer of its cloud).
 */
export type Attribution = 'name' | 'network';

export const ATTRIBUTIONS = Object.keys({ name: 0, network: 0 } satisfies Record<Attribution, 0>) as Attribution[];

/** The company a query was attributed to: the app's owner, or the owner of the network it reached. */
export interface EventOwner {
  readonly name: string;
  /** ISO 3166-1 alpha-2 country where control sits. */
  readonly country: string;
}

export interface EventHosting {
  readonly ip: string;
  readonly country: string | null;
  readonly asn: number | null;
  readonly org: string | null;
}

/**
 * One published event, in the shape the feed sends, the history stores and the API returns
 * (snake_case, as SOC tools expect). `id` is assigned by the hub, monotonic across restarts.
 */
export interface DetectionEvent {
  id: number;
  /** Milliseconds since the epoch (UTC). */
  ts: number;
  kind: EventKind;
  /** The instance that answered (host name unless configured). */
  instance: string;
  /** Client address, or its pseudonym ("p:" + 24 hex digits) when privacy.pseudonymise is on. */
  client: string;
  /**
   * The device, when the transport identified it (encrypted DNS: SNI label, DoH path or
   * client certificate), else null; pseudonymised like `client`.
   */
  device: string | null;
  group: string | null;
  qname: string;
  qtype: string;
  rcode: string;
  /** The catalogued app; null for network attribution, which knows the owner only. */
  app: EventApp | null;
  matched_name: string | null;
  attribution: Attribution | null;
  /** Set whenever `attribution` is. */
  owner: EventOwner | null;
  hosting: readonly EventHosting[];
  owner_watchlisted: boolean;
  hosting_watchlisted: boolean;
  action: Action;
  rule: string | null;
  exemption: string | null;
  /** Of the last query this event stands for. */
  latency_ms: number;
  cached: boolean;
  /**
   * Queries this event stands for: 1, or more when a device's identical repeats within
   * `events.fold_window_ms` were folded into one event (`ts`, `latency_ms` and `cached`
   * then describe the last of them).
   */
  count: number;
}
