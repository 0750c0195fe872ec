import type { Query } from '../pipeline/query.js';
import type { Swappable } from '../pipeline/swappable.js';
import { tagsOf, type AnswerTags } from '../tagging/answer-tags.js';
import type { Detection } from '../tagging/detection.js';
import { isHostName } from '../tagging/host-name.js';
import type { Answer } from '../wire/answer.js';
import { Rcode } from '../wire/constants.js';
import type { CandidateReport, DiscoveryReportMessage, HostingEvidence, NetworkEvidence } from './candidate-report.js';
import { RecentApps } from './recent-apps.js';

/** Distinct names a worker counts between two reports; more wait for the next interval (counted as overflow). */
export const MAX_WORKER_CANDIDATES = 1024;
/** How often a worker reports what it counted. */
export const REPORT_INTERVAL_MS = 1000;
/** Evidence kept per name and report: enough to show, bounded against one noisy name. */
const MAX_CLIENTS = 8;
const MAX_FOLLOWS = 8;
const MAX_HOSTING = 4;

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPE_HTTPS = 65;

/** performance.now() is relative to it; read once, as the getter is not free. */
const TIME_ORIGIN = performance.timeOrigin;

/**
 * Slots of the counting table, open addressing on the question's hash: twice the names it
 * holds, so a probe rarely goes past the first slot. A Map keyed by the hash (a double,
 * boxed and hashed by the generic builtin on every count) was the observer's largest single
 * cost under the mixed workload.
 */
const TABLE_SLOTS = 2 * MAX_WORKER_CANDIDATES;
const SLOT_MASK = TABLE_SLOTS - 1;

/**
 * A name being counted in this interval, with the question's whole 53-bit hash: among the
 * at most MAX_WORKER_CANDIDATES questions of one interval, two sharing it is a chance of
 * about 1 in 10^10, not worth a byte comparison on every count.
 */
interface Counting {
  key: number;
  name: string;
  queries: number;
  first_seen: number;
  last_seen: number;
  clients: string[];
  follows: { app: string; count: number }[];
  network: NetworkEvidence | null;
  hosting: HostingEvidence[];
}

/**
 * The worker's side of the discovery queue: told of every answered query (after the reply
 * went out, like the event recorder), it counts names that no rule matches but that
 * (a) resolve into a watch-listed owner's own network or a watch-listed hosting, or
 * (b) a device asks within `windowMs` after one of a catalogued app's names (co-occurrence),
 * and reports them to the primary every REPORT_INTERVAL_MS.
 *
 * Cost on a cache hit of an ordinary name: a few field reads and, while any device of this
 * worker used an app in the window, one Map look-up of the client; nothing is allocated
 * unless the name is a candidate. Co-occurrence is judged on the app names this worker
 * answered itself; as an app in use asks its names again and again, every worker soon knows
 * the device.
 */
export class DiscoveryObserver {
  /** Names not counted because the interval's table was full. */
  overflow = 0;
  private readonly recent: RecentApps;
  /** This interval's names by their question's hash, and in the order they came. */
  private readonly slots = new Array<Counting | undefined>(TABLE_SLOTS).fill(undefined);
  private readonly counting: Counting[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly detection: Swappable<Detection>,
    windowMs: number,
    private readonly send: (message: DiscoveryReportMessage) => void,
  ) {
    this.recent = new RecentApps(windowMs);
    this.timer = setInterval(() => this.report(), REPORT_INTERVAL_MS).unref();
  }

  answered(query: Query, answer: Answer): void {
    const verdict = query.verdict;
    // No verdict: refused, or detection off. A canary is the device's, not an app's.
    if (verdict === null || verdict.bypassSignal) return;
    const tags = tagsOf(query);
    const app = tags.app;
    if (app !== null) {
      this.recent.note(query.client, app.id, query.receivedAt);
      return;
    }
    if ((tags.networkOwner !== null && tags.ownerWatchlisted) || tags.hostingWatchlisted) {
      this.count(query, tags, this.recent.size === 0 ? null : this.recent.appWithin(query.client, query.receivedAt));
      return;
    }
    if (this.recent.size === 0 || answer.rcode !== Rcode.NOERROR) return;
    const qtype = query.qtype;
    if (qtype !== TYPE_A && qtype !== TYPE_AAAA && qtype !== TYPE_HTTPS) return;
    const followed = this.recent.appWithin(query.client, query.receivedAt);
    if (followed !== null) this.count(query, tags, followed);
  }

  /** Reports what was counted and stops; the resolver calls it when it drains. */
  close(): void {
    clearInterval(this.timer);
    this.report();
  }

  /** Sends what this interval counted, if anything, and starts the next. */
  report(): void {
    if (this.counting.length === 0 && this.overflow === 0) return;
    const reports: CandidateReport[] = [];
    for (const { key: _, ...report } of this.counting) reports.push(report);
    this.send({ type: 'discovery', reports, overflow: this.overflow });
    this.counting.length = 0;
    this.slots.fill(undefined);
    this.overflow = 0;
  }

  private count(query: Query, tags: AnswerTags, followed: string | null): void {
    const at = Math.round(TIME_ORIGIN + query.receivedAt);
    const key = query.key;
    const slots = this.slots;
    let slot = key & SLOT_MASK;
    let entry = slots[slot];
    while (entry !== undefined && entry.key !== key) {
      slot = (slot + 1) & SLOT_MASK;
      entry = slots[slot];
    }
    if (entry === undefined) {
      const started = this.start(query, at);
      if (started === null) return;
      entry = slots[slot] = started;
    }
    entry.queries++;
    entry.last_seen = at;
    if (entry.clients.length < MAX_CLIENTS) addClient(entry.clients, query.client);
    if (followed !== null) follow(entry.follows, followed);
    const owner = tags.networkOwner;
    if (owner !== null && tags.ownerWatchlisted) entry.network = { owner: owner.name, country: owner.country, asn: ownerAsn(tags, owner.asns) };
    if (tags.hostingWatchlisted) watchlistedHosting(entry.hosting, tags, this.detection.current.watchlist);
  }

  /** A new entry, or null for a name that cannot become a rule, or when the table is full. */
  private start(query: Query, at: number): Counting | null {
    if (this.counting.length >= MAX_WORKER_CANDIDATES) {
      this.overflow++;
      return null;
    }
    const name = query.qname();
    // Single labels (search-list names) and bytes no host name has make no rule.
    if (!isHostName(name) || !name.includes('.')) return null;
    // DoH and HTTPDNS endpoints are bypass attempts already, with an event each.
    if (this.detection.current.bypass.match(query.question, 0, query.qnameText) !== null) return null;
    const entry: Counting = {
      key: query.key,
      name,
      queries: 0,
      first_seen: at,
      last_seen: at,
      clients: [],
      follows: [],
      network: null,
      hosting: [],
    };
    this.counting.push(entry);
    return entry;
  }
}

/** Loops rather than includes() and find(): the call and the closure cost more than the few comparisons, on every counted query. */
function addClient(clients: string[], client: string): void {
  for (let i = 0; i < clients.length; i++) if (clients[i] === client) return;
  clients.push(client);
}

function follow(follows: { app: string; count: number }[], app: string): void {
  for (let i = 0; i < follows.length; i++) {
    if (follows[i]!.app === app) {
      follows[i]!.count++;
      return;
    }
  }
  if (follows.length < MAX_FOLLOWS) follows.push({ app, count: 1 });
}

/** The AS of the first answer address inside the owner's networks. */
function ownerAsn(tags: AnswerTags, networks: readonly { asn: number }[]): number | null {
  for (const hosting of tags.hosting) if (hosting.asn !== null && networks.some((network) => network.asn === hosting.asn)) return hosting.asn;
  return null;
}

function watchlistedHosting(into: HostingEvidence[], tags: AnswerTags, watchlist: ReadonlySet<string>): void {
  for (const hosting of tags.hosting) {
    if (into.length >= MAX_HOSTING) return;
    if (hosting.country === null || !watchlist.has(hosting.country)) continue;
    if (!into.some((known) => known.country === hosting.country && known.asn === hosting.asn)) into.push({ country: hosting.country, asn: hosting.asn });
  }
}
