import { Query } from '../../src/pipeline/query.js';
import { Stage, chain } from '../../src/pipeline/stage.js';
import { scanResponse, type Answer } from '../../src/wire/answer.js';
import { ReplyWriter } from '../../src/wire/reply.js';
import { ReadResult, readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, parsePacket, soaRecord, TYPE, type ResponseRecord } from './packets.js';

/** A query as a table row names it (CoreDNS style); everything but the name has a default. */
export interface QuerySpec {
  name: string;
  /** Default A. */
  qtype?: number;
  /** Default 127.0.0.1. */
  client?: string;
  /** EDNS DO bit. */
  dnssecOk?: boolean;
  /** Header CD bit. */
  checkingDisabled?: boolean;
}

/** A fresh Query as a listener would hand it to the chain: a dns2-encoded request read by readRequest. */
export function makeQuery(spec: QuerySpec | string): Query {
  const { name, qtype = TYPE.A, client = '127.0.0.1', dnssecOk = false, checkingDisabled = false } = typeof spec === 'string' ? { name: spec } : spec;
  const query = new Query();
  const result = readRequest(encodeQuery(name, qtype, { flags: { cd: checkingDisabled ? 1 : 0 }, edns: { udp: 1232, do: dnssecOk } }), query);
  if (result !== ReadResult.OK) throw new Error(`readRequest turned down ${name}/${qtype}: ${result}`);
  query.client = client;
  return query;
}

/** A pending result a test settles when it chooses (Promise.withResolvers is Node 22+). */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What the stub's next calls get: an answer, an error to throw, a Promise, or a reply made per query. */
export type StubReply = Answer | Error | Promise<Answer> | ((query: Query) => Answer | Promise<Answer>);

/**
 * Stands in for the rest of the chain below the stage under test: records every query it
 * is asked and replies as told, synchronously (like a cache hit) or through a Promise (like
 * an upstream exchange).
 */
export class StubStage extends Stage {
  readonly name = 'stub';
  readonly received: Query[] = [];

  constructor(
    public reply: StubReply,
    public mode: 'sync' | 'async' = 'sync',
  ) {
    super();
  }

  get calls(): number {
    return this.received.length;
  }

  resolve(query: Query): Answer | Promise<Answer> {
    this.received.push(query);
    const reply = this.reply;
    if (reply instanceof Promise) return reply;
    if (reply instanceof Error) {
      if (this.mode === 'sync') throw reply;
      return Promise.reject(reply);
    }
    const answer = typeof reply === 'function' ? reply(query) : reply;
    return this.mode === 'sync' || answer instanceof Promise ? answer : Promise.resolve(answer);
  }
}

/** Resolves and insists the stage answered synchronously, as cache hits and local answers must. */
export function resolveNow(stage: Stage, query: Query): Answer {
  const outcome = stage.resolve(query);
  if (outcome instanceof Promise) {
    outcome.catch(() => undefined);
    throw new Error(`${stage.name} answered through a Promise`);
  }
  return outcome;
}

/**
 * Lets every Promise already settled run its callbacks (one macrotask turn): the stub's
 * answers settle in microtasks, so background work they start is done after this.
 */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Links `stage` to `next` and returns it, ready to resolve. */
export function withNext<S extends Stage>(stage: S, next: Stage): S {
  chain([stage, next]);
  return stage;
}

const UPSTREAM_ID = 0x5157;

export interface UpstreamReply {
  rcode?: number;
  /** A SOA in the authority section (RFC 2308 negative caching): its own TTL and MINIMUM. */
  soa?: { ttl: number; minimum: number };
}

/**
 * An answer to `query` as the upstream stage would hand it on: a response encoded by dns2
 * and scanned by the wire layer's scanResponse, so kind, TTL and TTL table are the real ones.
 */
export function upstreamAnswer(query: Query, records: ResponseRecord[], reply: UpstreamReply = {}): Answer {
  const authorities = reply.soa === undefined ? [] : [soaRecord(reply.soa.ttl, reply.soa.minimum)];
  const msg = encodeResponse(UPSTREAM_ID, query.qname(), query.qtype, records, { rcode: reply.rcode ?? 0, authorities, edns: true });
  const { result, answer } = scanResponse(msg, UPSTREAM_ID, query.question, query.questionLength, 1232);
  if (answer === null) throw new Error(`scanResponse turned the test answer down: ${result}`);
  return answer;
}

/** An answer of one A (or AAAA, after the query's type) record for the query name. */
export function addressAnswer(query: Query, address: string, ttl = 300): Answer {
  return upstreamAnswer(query, [{ name: query.qname(), type: query.qtype, ttl, address }]);
}

/** What a client receives for an answer, as far as stage tests compare it. */
export interface Served {
  rcode: number;
  /** Answer section: addresses and CNAME targets, in order. */
  data: string[];
  /** TTL of every answer and authority record, after ageing (cacheAge) and serve-stale (fixedTtl). */
  ttls: number[];
  /** The authority section holds a SOA (a negative answer clients may cache). */
  soa: boolean;
}

/** No clamping, so the TTLs seen are the stage's doing alone. */
const writer = new ReplyWriter({ minTtl: 0, maxTtl: 604_800, udpSize: 1232 });

/** Writes `answer` for `query` as the responder would (same age and fixed-TTL rules) and reads it back with dns2. */
export function served(query: Query, answer: Answer): Served {
  const reply = writer.write(query, answer, query.cacheAge < 0 ? 0 : query.cacheAge, query.fixedTtl, 65_535);
  const packet = parsePacket(reply);
  const records = [...packet.answers, ...packet.authorities] as Array<{ ttl: number; type: number }>;
  return {
    rcode: packet.header.rcode,
    data: (packet.answers as Array<{ address?: string; domain?: string }>).map((record) => record.address ?? record.domain ?? '?'),
    ttls: records.map((record) => record.ttl),
    soa: records.some((record) => record.type === TYPE.SOA),
  };
}
