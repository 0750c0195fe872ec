import { createHmac, randomBytes } from 'node:crypto';
import type { CandidateReport, DiscoveryReportMessage, FollowEvidence, HostingEvidence, NetworkEvidence } from './candidate-report.js';

/** Why a name is a candidate. */
export type CandidateReason = 'network' | 'hosting' | 'follows';
export const CANDIDATE_REASONS: readonly CandidateReason[] = ['network', 'hosting', 'follows'];

/** Distinct devices counted per name; beyond it the count stays (`devices` is then "at least"). */
export const MAX_DEVICES_PER_NAME = 64;
/** Pseudonyms shown per name, so an analyst can open a device's inventory. */
const EXAMPLE_DEVICES = 3;
const MAX_HOSTING = 8;
/** Dismissed and promoted names remembered, so reports in flight do not bring them back. */
const MAX_SETTLED = 10_000;

/** A candidate as the API shows it. */
export interface CandidateView {
  name: string;
  reasons: CandidateReason[];
  queries: number;
  /** Distinct devices that asked, counted up to MAX_DEVICES_PER_NAME. */
  devices: number;
  /** Pseudonyms of a few of them; empty unless privacy.pseudonymise is on (addresses are never shown). */
  example_devices: string[];
  first_seen: number;
  last_seen: number;
  /** The watch-listed owner whose own network the name resolved into, last seen. */
  network: NetworkEvidence | null;
  /** Watch-listed countries (and ASes) its addresses were hosted in. */
  hosting: HostingEvidence[];
  /** Catalogued apps whose names devices asked shortly before, most often first. */
  follows: FollowEvidence[];
}

interface Candidate {
  readonly name: string;
  queries: number;
  first_seen: number;
  last_seen: number;
  readonly devices: Set<string>;
  readonly follows: Map<string, number>;
  network: NetworkEvidence | null;
  readonly hosting: HostingEvidence[];
}

/** What the discovery queue has done, for metrics and the API. */
export class QueueCounters {
  /** Candidate reports merged from workers. */
  reported = 0;
  /** Candidates evicted to make room. */
  evicted = 0;
  /** Names workers could not count because their interval's table was full. */
  overflow = 0;
}

/**
 * The candidates of one node, in the primary: workers' reports are merged per name, with
 * their evidence, in a table of at most `capacity` names. A new name arriving at a full
 * table first evicts the weakest tenth (fewest devices, then fewest queries, then the
 * longest unseen), so a burst of one-off names costs an occasional sort, not a sort per
 * name, and cannot push out the names many devices ask. Dismissed and promoted names are
 * remembered (the last MAX_SETTLED) and not taken in again. Kept in memory: a restart
 * starts empty.
 */
export class DiscoveryQueue {
  readonly counters = new QueueCounters();
  private readonly candidates = new Map<string, Candidate>();
  private readonly settled = new Set<string>();
  private readonly deviceKey: (address: string) => string;

  /**
   * `pseudonym`: the node's pseudonymiser when privacy.pseudonymise is on; devices are then
   * known by pseudonym and a few are shown. Otherwise they are counted by a keyed hash
   * whose key lives only in this process, and none is shown.
   */
  constructor(
    readonly capacity: number,
    private readonly pseudonym: ((address: string) => string) | null = null,
  ) {
    const key = randomBytes(32);
    this.deviceKey = pseudonym ?? ((address) => createHmac('sha256', key).update(address).digest('base64url').slice(0, 16));
  }

  get size(): number {
    return this.candidates.size;
  }

  merge(message: DiscoveryReportMessage): void {
    this.counters.overflow += message.overflow;
    for (const report of message.reports) this.mergeOne(report);
  }

  /** The strongest candidates first (most devices, then queries, then the most recent); `reason` narrows them. */
  list(limit: number, reason?: CandidateReason): CandidateView[] {
    const chosen = [...this.candidates.values()].filter((candidate) => reason === undefined || reasonsOf(candidate).includes(reason));
    return chosen
      .sort((a, b) => strength(b, a) || a.name.localeCompare(b.name))
      .slice(0, limit)
      .map((candidate) => this.view(candidate));
  }

  get(name: string): CandidateView | null {
    const candidate = this.candidates.get(name);
    return candidate === undefined ? null : this.view(candidate);
  }

  /**
   * Takes `name` out of the queue for good (dismissed, or promoted into a rule): true when
   * it was a candidate.
   */
  settle(name: string): boolean {
    const known = this.candidates.delete(name);
    this.settled.delete(name);
    this.settled.add(name);
    if (this.settled.size > MAX_SETTLED) this.settled.delete(this.settled.values().next().value!);
    return known;
  }

  private mergeOne(report: CandidateReport): void {
    this.counters.reported++;
    if (this.settled.has(report.name)) return;
    let candidate = this.candidates.get(report.name);
    if (candidate === undefined) {
      if (this.candidates.size >= this.capacity) this.evictWeakest();
      candidate = {
        name: report.name,
        queries: 0,
        first_seen: report.first_seen,
        last_seen: report.last_seen,
        devices: new Set(),
        follows: new Map(),
        network: null,
        hosting: [],
      };
      this.candidates.set(report.name, candidate);
    }
    candidate.queries += report.queries;
    candidate.first_seen = Math.min(candidate.first_seen, report.first_seen);
    candidate.last_seen = Math.max(candidate.last_seen, report.last_seen);
    for (const client of report.clients) {
      if (candidate.devices.size >= MAX_DEVICES_PER_NAME) break;
      candidate.devices.add(this.deviceKey(client));
    }
    for (const { app, count } of report.follows) candidate.follows.set(app, (candidate.follows.get(app) ?? 0) + count);
    if (report.network !== null) candidate.network = report.network;
    for (const hosting of report.hosting) {
      if (candidate.hosting.length >= MAX_HOSTING) break;
      if (!candidate.hosting.some((known) => known.country === hosting.country && known.asn === hosting.asn)) candidate.hosting.push(hosting);
    }
  }

  private evictWeakest(): void {
    const weakest = [...this.candidates.values()].sort(strength).slice(0, Math.ceil(this.capacity / 10));
    for (const candidate of weakest) this.candidates.delete(candidate.name);
    this.counters.evicted += weakest.length;
  }

  private view(candidate: Candidate): CandidateView {
    return {
      name: candidate.name,
      reasons: reasonsOf(candidate),
      queries: candidate.queries,
      devices: candidate.devices.size,
      example_devices: this.pseudonym === null ? [] : [...candidate.devices].slice(0, EXAMPLE_DEVICES),
      first_seen: candidate.first_seen,
      last_seen: candidate.last_seen,
      network: candidate.network,
      hosting: [...candidate.hosting],
      follows: [...candidate.follows].map(([app, count]) => ({ app, count })).sort((a, b) => b.count - a.count || a.app.localeCompare(b.app)),
    };
  }
}

/** Negative when `a` is the weaker candidate. */
function strength(a: Candidate, b: Candidate): number {
  return a.devices.size - b.devices.size || a.queries - b.queries || a.last_seen - b.last_seen;
}

function reasonsOf(candidate: Candidate): CandidateReason[] {
  const reasons: CandidateReason[] = [];
  if (candidate.network !== null) reasons.push('network');
  if (candidate.hosting.length > 0) reasons.push('hosting');
  if (candidate.follows.size > 0) reasons.push('follows');
  return reasons;
}
