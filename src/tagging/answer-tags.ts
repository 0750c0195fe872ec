import type { App } from './catalogue-schema.js';
import type { HostingTag } from './geo-tagger.js';
import type { Owner } from './owners-schema.js';

/**
 * How a query was tied to an owner: `name` when a catalogue rule matched the query name or
 * a name in its answer (certain), `network` when no rule matched but an answer address lies
 * in a network the owner operates itself (likely: the owner, or a customer of its cloud).
 */
export type Attribution = 'name' | 'network';

/** Tags computed once per upstream answer and stored with it in the cache. */
export class AnswerTags {
  constructor(
    /** The first app found along the query name, CNAME chain and SVCB/HTTPS targets. */
    readonly app: App | null,
    /** The name that matched it (the query name, or a name further down the chain). */
    readonly matchedName: string | null,
    /** CNAME and SVCB/HTTPS target names in answer order. */
    readonly chain: readonly string[],
    /** A/AAAA addresses and HTTPS/SVCB address hints of an app's answer (others carry only their hosting). */
    readonly addresses: readonly string[],
    /** Country and ASN of each public address. */
    readonly hosting: readonly HostingTag[],
    /** The owner (the app's, or the network's) sits in a watch-listed jurisdiction. */
    readonly ownerWatchlisted: boolean,
    /** At least one answer address is hosted in a watch-listed jurisdiction. */
    readonly hostingWatchlisted: boolean,
    /** For answers of no app: the owner whose own network (ASN) holds an answer address. */
    readonly networkOwner: Owner | null = null,
  ) {}

  get attribution(): Attribution | null {
    return this.app !== null ? 'name' : this.networkOwner !== null ? 'network' : null;
  }
}

/** Shared by every tag set with nothing in a list, so cached answers carry no empty arrays. */
export const NONE: readonly never[] = Object.freeze([]);

export const NO_TAGS = new AnswerTags(null, null, NONE, NONE, NONE, false, false);

/**
 * Shared by cached answers of no app with an address hosted in a watch-listed jurisdiction:
 * all the policy reads. Its hosting is looked up again when such an answer is served
 * (tagger's hostedTags), since it goes into an event each time.
 */
export const WATCHLIST_HOSTED = new AnswerTags(null, null, NONE, NONE, NONE, false, true);

/**
 * The tag objects every process holds alike, in one order: the cache keeps an entry tagged
 * with one of them as its number in the memory all workers share, so none tags it again.
 */
export const CONSTANT_TAGS: readonly AnswerTags[] = [NO_TAGS, WATCHLIST_HOSTED];

/** Tags of a query whose own name belongs to `app` (judged before anything is asked upstream). */
export function nameTags(app: App, name: string, watchlist: ReadonlySet<string>): AnswerTags {
  return new AnswerTags(app, name, NONE, NONE, NONE, watchlist.has(app.owner_country), false);
}

/** The tags of an answer, or NO_TAGS for answers that were never tagged (synthetic ones). */
export function tagsOf(answer: { tags: object | null }): AnswerTags {
  return answer.tags instanceof AnswerTags ? answer.tags : NO_TAGS;
}
