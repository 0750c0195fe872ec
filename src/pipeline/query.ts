import type { Action } from './action.js';
import { WireRequest } from '../wire/request.js';

/** How a query arrived: plain UDP or TCP, DNS over TLS (RFC 7858) or over HTTPS (RFC 8484). */
export type Transport = 'udp' | 'tcp' | 'dot' | 'doh';

/** Every transport, in a fixed order (metrics index by it). */
export const TRANSPORTS = ['udp', 'tcp', 'dot', 'doh'] as const satisfies readonly Transport[];

/** Where a query came in and where its reply goes; implemented by each transport. */
export interface ReplyChannel {
  readonly protocol: Transport;
  /** Sends the finished reply for `query`. Never throws. */
  send(query: Query, reply: Buffer): void;
  /** Room to write replies where they are sent from, sparing each a Buffer and a copy; absent where there is none. */
  readonly inPlace?: InPlaceReplies;
}

/** Send slots a channel lends for replies written in place (the batched UDP listener's). */
export interface InPlaceReplies {
  /** What the slots are part of. */
  readonly buffer: Buffer;
  /** Bytes a slot holds. */
  readonly room: number;
  /** The offset in `buffer` of a slot for `query`'s reply, or -1 when none can take it now. */
  reserve(query: Query): number;
  /** Sends the `length` bytes written at the offset reserve() gave just before. */
  commit(query: Query, length: number): void;
}

/** What the pipeline needs to know of a client group (the policy stage holds the rest). */
export interface GroupRef {
  readonly name: string;
}

/** What the pipeline needs to know of a policy verdict. */
export interface VerdictRef {
  readonly action: Action;
  /** The action's place in ACTIONS. */
  readonly actionIndex: number;
  readonly rule: string | null;
  readonly exemption: string | null;
  readonly bypassSignal: boolean;
}

/**
 * The context that travels down the stage chain: the parsed request plus what stages learn
 * about it. Fixed shape (every field set in the constructor) so property access stays
 * monomorphic; listeners reuse one instance while queries complete synchronously.
 */
export class Query extends WireRequest {
  channel: ReplyChannel | null = null;
  /** Client address as the socket reported it, and its port (UDP) or connection (TCP). */
  client = '';
  clientPort = 0;
  /**
   * The device asking, when the transport knows it (an encrypted listener's SNI label, DoH
   * path or client certificate): a canonical id from parseDeviceId, else null.
   */
  device: string | null = null;
  /** The device was proven by a client certificate the configured CA signed (mTLS): admitted wherever it asks from. */
  deviceCertified = false;
  /** Opaque per-transport handle, e.g. the TCP connection a reply goes back on. */
  connection: unknown = null;
  receivedAt = 0;
  /** Set by the cache stage: seconds the answer has aged, -1 when it came from upstream. */
  cacheAge = -1;
  /** Set by the cache stage when serving stale (RFC 8767): the TTL every record gets, else -1. */
  fixedTtl = -1;
  /** Set by the policy stage: the client's group (null: none) and the decision taken. */
  group: GroupRef | null = null;
  verdict: VerdictRef | null = null;
  /**
   * Set by the policy stage: the tags the verdict was taken on (null: a synthetic answer,
   * nothing to judge). Opaque here, like Answer.tags; tagging's tagsOf() reads them.
   */
  tags: object | null = null;
  /** The query name as text, for the few lookups that need it; one function per Query object. */
  readonly qnameText = (): string => this.qname();

  reset(): void {
    this.device = null;
    this.deviceCertified = false;
    this.cacheAge = -1;
    this.fixedTtl = -1;
    this.group = null;
    this.verdict = null;
    this.tags = null;
  }

  /** A detached copy for work that outlives the listener's reuse of this instance. */
  clone(): Query {
    const copy = new Query();
    copy.copyFrom(this);
    copy.channel = this.channel;
    copy.client = this.client;
    copy.clientPort = this.clientPort;
    copy.device = this.device;
    copy.deviceCertified = this.deviceCertified;
    copy.connection = this.connection;
    copy.receivedAt = this.receivedAt;
    copy.cacheAge = this.cacheAge;
    copy.fixedTtl = this.fixedTtl;
    copy.group = this.group;
    copy.verdict = this.verdict;
    copy.tags = this.tags;
    return copy;
  }
}
