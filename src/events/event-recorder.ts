import type { Query } from '../pipeline/query.js';
import { NO_TAGS, tagsOf } from '../tagging/answer-tags.js';
import { answerHosting } from '../tagging/tagger.js';
import type { Swappable } from '../pipeline/swappable.js';
import type { Detection } from '../tagging/detection.js';
import type { Answer } from '../wire/answer.js';
import type { DetectionEvent, EventApp, EventKind } from './detection-event.js';
import { rcodeName, typeName } from './dns-names.js';
import type { EventSink } from './event-sink.js';

const EVENT_APPS = new WeakMap<object, EventApp>();

/**
 * Turns an answered query into an event when it is worth one: tagged with an app or a
 * watch-listed hosting, blocked or exempted, a bypass attempt, or any query when
 * `allQueries` is set. Untagged, allowed queries cost two field reads and one index probe
 * and allocate nothing.
 */
export class EventRecorder {
  recorded = 0;

  constructor(
    private readonly detection: Swappable<Detection>,
    private readonly sink: EventSink,
    private readonly instance: string,
    private readonly allQueries: boolean,
  ) {}

  answered(query: Query, answer: Answer): void {
    const verdict = query.verdict;
    const tags = tagsOf(query);
    let kind: EventKind | null = null;
    if (verdict !== null && verdict.bypassSignal) kind = 'bypass';
    else if (this.detection.current.bypass.match(query.question, 0, query.qnameText) !== null) kind = 'bypass';
    else if (tags.app !== null || tags.hostingWatchlisted || (verdict !== null && verdict.action !== 'allow')) kind = 'detection';
    else if (this.allQueries) kind = 'query';
    if (kind === null) return;
    const app = tags.app;
    this.recorded++;
    this.sink.publish({
      id: 0,
      ts: Date.now(),
      kind,
      instance: this.instance,
      client: query.client,
      group: query.group?.name ?? null,
      qname: query.qname(),
      qtype: typeName(query.qtype),
      rcode: rcodeName(answer.rcode),
      app: app === null ? null : eventApp(app),
      matched_name: tags.matchedName,
      // Plain answers share NO_TAGS in the cache (see tagAnswer): their hosting is looked up here.
      hosting: tags === NO_TAGS ? answerHosting(answer, this.detection.current) : tags.hosting,
      owner_watchlisted: tags.ownerWatchlisted,
      hosting_watchlisted: tags.hostingWatchlisted,
      action: verdict?.action ?? 'allow',
      rule: verdict?.rule ?? null,
      exemption: verdict?.exemption ?? null,
      latency_ms: Math.round((performance.now() - query.receivedAt) * 1000) / 1000,
      cached: query.cacheAge >= 0,
      count: 1,
    });
  }
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
