import ipaddr from 'ipaddr.js';
import type { Query } from '../pipeline/query.js';
import type { Answer } from '../wire/answer.js';
import { forEachAnswerRecord, readName, type RecordView } from '../wire/records.js';
import { AnswerTags, NO_TAGS, NONE, WATCHLIST_HOSTED } from './answer-tags.js';
import type { App } from './catalogue-schema.js';
import type { Detection } from './detection.js';
import type { HostingTag } from './geo-tagger.js';
import type { Owner } from './owners-schema.js';
import type { Owners } from './owners.js';

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const TYPE_SVCB = 64;
const TYPE_HTTPS = 65;
const SVC_PARAM_IPV4HINT = 4;
const SVC_PARAM_IPV6HINT = 6;

/**
 * Tags one upstream answer: which app it serves (query name first, then every CNAME and
 * SVCB/HTTPS target, so CNAME cloaking is caught), which addresses it hands out and where
 * they are hosted, and whether owner or hosting sit in a watch-listed jurisdiction. An
 * answer of no app whose address lies in an owner's own network (its ASN is one the owners
 * file lists) is attributed to that owner by network.
 */
export function tagAnswer(query: Query, answer: Answer, detection: Detection): AnswerTags {
  const index = detection.catalogue.index;
  let app = index.match(query.question, 0, () => query.qname())?.app ?? null;
  let matchedName = app === null ? null : query.qname();
  if (answer.length === 0) return NO_TAGS;
  const chain: string[] = [];
  const addresses: string[] = [];
  readAnswer(answer.wire, addresses, (name) => {
    chain.push(name);
    if (app !== null) return;
    const found = index.matchName(name);
    if (found !== null) {
      app = found.app;
      matchedName = name;
    }
  });
  const hosting: HostingTag[] = [];
  const hostingWatchlisted = hostingOf(addresses, detection, hosting);
  const found = app as App | null;
  if (found === null) {
    const owner = networkOwner(hosting, detection.owners);
    if (owner !== null) {
      return new AnswerTags(null, null, chain.length === 0 ? NONE : chain, addresses, hosting, detection.watchlist.has(owner.country), hostingWatchlisted, owner);
    }
    // The policy reads of an answer of no app and no owner only whether it is hosted on the
    // watch list, and most answers are such: they share one of two tag sets rather than
    // carry arrays through the cache (230-400 bytes each at a million entries). Their
    // hosting is looked up again for an event (answerHosting, hostedTags).
    return hostingWatchlisted ? WATCHLIST_HOSTED : NO_TAGS;
  }
  const ownerWatchlisted = detection.watchlist.has(found.owner_country);
  return new AnswerTags(
    found,
    matchedName,
    chain.length === 0 ? NONE : chain,
    addresses,
    hosting,
    ownerWatchlisted,
    hostingWatchlisted,
  );
}

/** The tags of an answer tagged WATCHLIST_HOSTED, with its hosting looked up for the event it is about to make. */
export function hostedTags(answer: Answer, detection: Detection): AnswerTags {
  return new AnswerTags(null, null, NONE, NONE, answerHosting(answer, detection), false, true);
}

/** Country and ASN of each public address an answer hands out, for events about answers that carry no tags. */
export function answerHosting(answer: Answer, detection: Detection): readonly HostingTag[] {
  if (answer.length === 0) return NONE;
  const addresses: string[] = [];
  readAnswer(answer.wire, addresses, null);
  if (addresses.length === 0) return NONE;
  const hosting: HostingTag[] = [];
  hostingOf(addresses, detection, hosting);
  return hosting;
}

/** Collects A/AAAA addresses and SVCB/HTTPS hints, and hands every CNAME and SVCB/HTTPS target to `target`. */
function readAnswer(msg: Buffer, addresses: string[], target: ((name: string) => void) | null): void {
  const onTarget = (name: string | null): void => {
    if (name !== null && name !== '' && target !== null) target(name);
  };
  forEachAnswerRecord(msg, (record: RecordView) => {
    switch (record.type) {
      case TYPE_CNAME:
        if (target !== null) onTarget(readName(msg, record.rdata));
        break;
      case TYPE_A:
        if (record.rdlength === 4) addresses.push(addressText(msg, record.rdata, 4));
        break;
      case TYPE_AAAA:
        if (record.rdlength === 16) addresses.push(addressText(msg, record.rdata, 16));
        break;
      case TYPE_SVCB:
      case TYPE_HTTPS:
        readServiceBinding(msg, record, onTarget, addresses);
        break;
    }
  });
}

/** The owner operating the network of the first answer address that lies in one, or null. */
function networkOwner(hosting: readonly HostingTag[], owners: Owners): Owner | null {
  for (const tag of hosting) {
    if (tag.asn === null) continue;
    const owner = owners.byAsn.get(tag.asn);
    if (owner !== undefined) return owner;
  }
  return null;
}

/** Geo-tags `addresses` into `hosting`; true when one is hosted in a watch-listed jurisdiction. */
function hostingOf(addresses: readonly string[], detection: Detection, hosting: HostingTag[]): boolean {
  let watchlisted = false;
  for (const address of addresses) {
    const tag = detection.geo.tag(address);
    if (tag === null) continue;
    hosting.push(tag);
    if (tag.country !== null && detection.watchlist.has(tag.country)) watchlisted = true;
  }
  return watchlisted;
}

/** RFC 9460: priority, target name (uncompressed), then key/length/value parameters. */
function readServiceBinding(msg: Buffer, record: RecordView, target: (name: string | null) => void, addresses: string[]): void {
  const end = record.rdata + record.rdlength;
  let pos = record.rdata + 2;
  const name = readName(msg, pos);
  target(name);
  while (pos < end && msg[pos] !== 0) pos += msg[pos]! + 1;
  pos++;
  while (pos + 4 <= end) {
    const key = msg.readUInt16BE(pos);
    const length = msg.readUInt16BE(pos + 2);
    const value = pos + 4;
    if (value + length > end) return;
    const size = key === SVC_PARAM_IPV4HINT ? 4 : key === SVC_PARAM_IPV6HINT ? 16 : null;
    if (size !== null) {
      for (let at = value; at + size <= value + length; at += size) {
        addresses.push(addressText(msg, at, size));
      }
    }
    pos = value + length;
  }
}

/**
 * The text of the 4- or 16-byte address at `at`, as ipaddr.js writes it (RFC 5952 for IPv6).
 * Once for every address of every upstream answer: IPv4 is written straight from the bytes,
 * with no view, array or address object on the way.
 */
function addressText(msg: Buffer, at: number, size: 4 | 16): string {
  if (size === 4) return `${msg[at]!}.${msg[at + 1]!}.${msg[at + 2]!}.${msg[at + 3]!}`;
  const parts = new Array<number>(8);
  for (let i = 0; i < 8; i++) parts[i] = msg.readUInt16BE(at + 2 * i);
  return new ipaddr.IPv6(parts).toString();
}
