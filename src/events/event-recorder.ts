import type { Query } from '../pipeline/query.js';
import { NO_TAGS, tagsOf, type AnswerTags } from '../tagging/answer-tags.js';
import { answerHosting } from '../tagging/tagger.js';
import type { Swappable } from '../pipeline/swappable.js';
import type { Detection } from '../tagging/detection.js';
import type { Answer } from '../wire/answer.js';
import { ACTION_INDEX } from '../pipeline/action.js';
import type { DetectionEvent, EventApp, EventKind, EventOwner } from './detection-event.js';
import { rcodeName, typeName } from './dns-names.js';
import type { EventSink } from './event-sink.js';
import { RepeatFolder } from './repeat-folder.js';

/** Counts every recorded query of a catalogued app by action, repeats included (metrics/' DetectionCounts). */
export interface DetectionCounter {
  count(app: { readonly id: string; readonly owner_country: string }, actionIndex: number): void;
}

const ALLOW_INDEX = ACTION_INDEX.allow;
const EVENT_APPS = new WeakMap<object, EventApp>();
/** Keyed by the catalogue's app (name attribution) or the owners file's entry (network attribution). */
const EVENT_OWNERS = new WeakMap<object, EventOwner>();

/**
 * Turns an answered query into an event when it is worth one (see eventKind): attributed
 * to an owner by name or network, tagged with a watch-listed hosting, blocked or exempted,
 * a bypass attempt, or any query when `allQueries` is set. Untagged, allowed queries cost
 * a few field reads and one index probe and allocate nothing.
 */
export class EventRecorder {
  recorded = 0;
  /** The sink when it folds repeats: a repeat of one of its folds is counted there, with no event made. */
  private readonly folder: RepeatFolder | null;

  constructor(
    private readonly detection: Swappable<Detection>,
    private readonly sink: EventSink,
    private readonly instance: string,
    private readonly allQueries: boolean,
    private readonly counts: DetectionCounter | null = null,
  ) {
    this.folder = sink instanceof RepeatFolder ? sink : null;
  }

  answered(query: Query, answer: Answer): void {
    const kind = eventKind(query, this.detection.current, this.allQueries);
    if (kind === null) return;
    const verdict = query.verdict;
    const tags = tagsOf(query);
    const app = tags.app;
    this.recorded++;
    if (app !== null && this.counts !== null) this.counts.count(app, verdict === null ? ALLOW_INDEX : verdict.actionIndex);
    const rcode = rcodeName(answer.rcode);
    const folder = this.folder;
    if (folder !== null) {
      const held = folder.repeatOf(query, kind, rcode);
      if (held !== null) {
        held.ts = Date.now();
        held.latency_ms = latencyMs(query);
        held.cached = query.cacheAge >= 0;
        return;
      }
    }
    const event: DetectionEvent = {
      id: 0,
      ts: Date.now(),
      kind,
      instance: this.instance,
      client: query.client,
      device: query.device,
      group: query.group?.name ?? null,
      qname: query.qname(),
      qtype: typeName(query.qtype),
      rcode,
      app: app === null ? null : eventApp(app),
      matched_name: tags.matchedName,
      attribution: tags.attribution,
      owner: ownerOf(tags),
      // Plain answers share NO_TAGS in the cache (see tagAnswer): their hosting is looked up here.
      hosting: tags === NO_TAGS ? answerHosting(answer, this.detection.current) : tags.hosting,
      owner_watchlisted: tags.ownerWatchlisted,
      hosting_watchlisted: tags.hostingWatchlisted,
      action: verdict?.action ?? 'allow',
      rule: verdict?.rule ?? null,
      exemption: verdict?.exemption ?? null,
      latency_ms: latencyMs(query),
      cached: query.cacheAge >= 0,
      count: 1,
    };
    if (folder !== null) folder.publish(event, query);
    else this.sink.publish(event);
  }
}

/** Milliseconds since the query arrived, to the microsecond. */
function latencyMs(query: Query): number {
  return Math.round((performance.now() - query.receivedAt) * 1000) / 1000;
}

/**
 * What a query answered with its tags and verdict is recorded as, or null when it is not
 * worth an event: a bypass attempt (canary or DoH/HTTPDNS endpoint), a detection (an owner
 * attributed by name or network, a watch-listed hosting, or any verdict but allow), or any
 * other query when `allQueries`. Shared with `wachtpost explain`, so both say the same.
 */
export function eventKind(query: Query, detection: Detection, allQueries: boolean): EventKind | null {
  const verdict = query.verdict;
  if (verdict !== null && verdict.bypassSignal) return 'bypass';
  if (detection.bypass.match(query.question, 0, query.qnameText) !== null) return 'bypass';
  const tags = tagsOf(query);
  if (tags.attribution !== null || tags.hostingWatchlisted || (verdict !== null && verdict.action !== 'allow')) return 'detection';
  return allQueries ? 'query' : null;
}

/** The app's owner (name attribution) or the network's (network attribution), as events carry it. */
function ownerOf(tags: AnswerTags): EventOwner | null {
  if (tags.app !== null) return eventOwner(tags.app, tags.app.owner, tags.app.owner_country);
  const owner = tags.networkOwner;
  return owner === null ? null : eventOwner(owner, owner.name, owner.country);
}

/** Built once per app or owners-file entry. */
function eventOwner(key: object, name: string, country: string): EventOwner {
  let found = EVENT_OWNERS.get(key);
  if (found === undefined) {
    found = { name, country };
    EVENT_OWNERS.set(key, found);
  }
  return found;
}

/** The app as events carry it, built once per catalogue entry. */
function eventApp(app: { id: string; name: string; owner: string; owner_country: string }): EventApp {
  let found = EVENT_APPS.get(app);
  if (found === undefined) {
    found = { id: app.id, name: app.name, owner: app.owner, owner_country: app.owner_country };
    EVENT_APPS.set(app, found);
  }
  return found;
}
