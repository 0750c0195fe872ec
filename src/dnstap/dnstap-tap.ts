import ipaddr from 'ipaddr.js';
import { ACTION_INDEX, ACTIONS, type Action } from '../pipeline/action.js';
import type { Query, Transport } from '../pipeline/query.js';
import { tagsOf } from '../tagging/answer-tags.js';
import type { ExchangeObserver, ExchangeProtocol } from '../upstream/exchange-observer.js';
import type { UpstreamServer } from '../upstream/upstream-server.js';
import type { Answer } from '../wire/answer.js';
import { DnstapType, MessageType, SocketFamily, SocketProtocol } from './dnstap-schema.js';

const SOCKET_PROTOCOL: Record<Transport, number> = { udp: SocketProtocol.UDP, tcp: SocketProtocol.TCP, dot: SocketProtocol.DOT, doh: SocketProtocol.DOH };

/** Where encoded payloads go (the Frame Streams writer). */
export interface PayloadSink {
  write(payload: Uint8Array): void;
}

export interface TapSettings {
  identity: string;
  version: string;
  /** Which to send: client_query, client_response, resolver_query, resolver_response (dnstap.messages). */
  messages: readonly string[];
}

/** Client addresses kept as bytes; cleared when full (a VPN pool has far fewer phones per worker turn). */
const ADDRESS_CACHE_MAX = 4096;

interface Endpoint {
  readonly address: Buffer;
  readonly port: number;
}

/** The fields of dnstap.Message Wachtpost sets; one object reused for every message (encode reads it at once). */
interface MessageFields {
  type: number;
  socketFamily: number;
  socketProtocol: number;
  queryAddress: Uint8Array | null;
  responseAddress: Uint8Array | null;
  queryPort: number | null;
  responsePort: number | null;
  queryTimeSec: number | null;
  queryTimeNsec: number | null;
  queryMessage: Uint8Array | null;
  responseTimeSec: number | null;
  responseTimeNsec: number | null;
  responseMessage: Uint8Array | null;
}

/**
 * dnstap output of one resolver: CLIENT_QUERY and CLIENT_RESPONSE for every reply (a reply
 * observer of the responder, so both go out when the reply does, with the query's
 * receive time), RESOLVER_QUERY and RESOLVER_RESPONSE for every upstream attempt (an
 * exchange observer of the upstream stage). Client messages carry Wachtpost's tags in the
 * `extra` field as `app=ID;owner=CC;action=ACTION` (see extraOf). Attached only when
 * dnstap is on, so with it off the hot path pays nothing.
 */
export class DnstapTap implements ExchangeObserver {
  private readonly clientQuery: boolean;
  private readonly clientResponse: boolean;
  private readonly resolverQuery: boolean;
  private readonly resolverResponse: boolean;
  private readonly message: MessageFields = {
    type: 0,
    socketFamily: SocketFamily.INET,
    socketProtocol: SocketProtocol.UDP,
    queryAddress: null,
    responseAddress: null,
    queryPort: null,
    responsePort: null,
    queryTimeSec: null,
    queryTimeNsec: null,
    queryMessage: null,
    responseTimeSec: null,
    responseTimeNsec: null,
    responseMessage: null,
  };
  private readonly envelope: { identity: Buffer | null; version: Buffer | null; extra: Buffer | null; type: number; message: MessageFields };
  private readonly addresses = new Map<string, Buffer>();
  private readonly listeners = new Map<object, Endpoint>();
  private readonly upstreams = new Map<UpstreamServer, Buffer>();

  constructor(
    private readonly sink: PayloadSink,
    settings: TapSettings,
  ) {
    const wanted = new Set(settings.messages);
    this.clientQuery = wanted.has('client_query');
    this.clientResponse = wanted.has('client_response');
    this.resolverQuery = wanted.has('resolver_query');
    this.resolverResponse = wanted.has('resolver_response');
    this.envelope = {
      identity: settings.identity === '' ? null : Buffer.from(settings.identity),
      version: settings.version === '' ? null : Buffer.from(settings.version),
      extra: null,
      type: 1,
      message: this.message,
    };
  }

  /** Whether the upstream stage needs to tell this tap of its exchanges. */
  get wantsExchanges(): boolean {
    return this.resolverQuery || this.resolverResponse;
  }

  get wantsReplies(): boolean {
    return this.clientQuery || this.clientResponse;
  }

  /** The address a listener serves on: the response address of its client messages. */
  listening(channel: object, host: string, port: number): void {
    this.listeners.set(channel, { address: Buffer.from(ipaddr.parse(host).toByteArray()), port });
  }

  /** Reply observer: the query as received and the reply as sent. */
  replied(query: Query, bytes: Buffer, start: number, length: number): void {
    const m = this.message;
    const channel = query.channel;
    m.socketFamily = query.client.includes(':') ? SocketFamily.INET6 : SocketFamily.INET;
    m.socketProtocol = channel === null ? SocketProtocol.UDP : SOCKET_PROTOCOL[channel.protocol];
    m.queryAddress = this.addressBytes(query.client);
    m.queryPort = query.clientPort;
    const local = channel === null ? undefined : this.listeners.get(channel);
    m.responseAddress = local?.address ?? null;
    m.responsePort = local?.port ?? null;
    setTime(m, 'query', performance.timeOrigin + query.receivedAt);
    m.queryMessage = query.msg;
    this.envelope.extra = extraOf(query);
    if (this.clientQuery) {
      m.type = MessageType.CLIENT_QUERY;
      m.responseMessage = null;
      m.responseTimeSec = m.responseTimeNsec = null;
      this.send();
    }
    if (this.clientResponse) {
      // The question is in the reply; the query's bytes travel in CLIENT_QUERY (as the spec recommends).
      m.type = MessageType.CLIENT_RESPONSE;
      m.queryMessage = null;
      m.responseMessage = bytes.subarray(start, start + length);
      setTime(m, 'response', performance.timeOrigin + performance.now());
      this.send();
    }
    this.envelope.extra = null;
  }

  asked(server: UpstreamServer, protocol: ExchangeProtocol, wire: Buffer): void {
    if (!this.resolverQuery) return;
    this.upstreamFields(server, protocol);
    this.message.type = MessageType.RESOLVER_QUERY;
    setTime(this.message, 'query', performance.timeOrigin + performance.now());
    this.message.queryMessage = wire;
    this.message.responseMessage = null;
    this.message.responseTimeSec = this.message.responseTimeNsec = null;
    this.send();
  }

  answered(server: UpstreamServer, protocol: ExchangeProtocol, answer: Answer, seconds: number): void {
    if (!this.resolverResponse) return;
    const now = performance.timeOrigin + performance.now();
    this.upstreamFields(server, protocol);
    this.message.type = MessageType.RESOLVER_RESPONSE;
    setTime(this.message, 'query', now - seconds * 1000);
    setTime(this.message, 'response', now);
    this.message.queryMessage = null;
    this.message.responseMessage = answer.wire;
    this.send();
  }

  failed(): void {}

  private upstreamFields(server: UpstreamServer, protocol: ExchangeProtocol): void {
    const m = this.message;
    let address = this.upstreams.get(server);
    if (address === undefined) {
      address = Buffer.from(ipaddr.parse(server.host).toByteArray());
      this.upstreams.set(server, address);
    }
    m.socketFamily = server.family === 6 ? SocketFamily.INET6 : SocketFamily.INET;
    m.socketProtocol = SOCKET_PROTOCOL[protocol];
    m.queryAddress = null;
    m.queryPort = null;
    m.responseAddress = address;
    m.responsePort = server.port;
  }

  private send(): void {
    // A fresh protobufjs Writer each time: finish() does not empty a writer for reuse.
    this.sink.write(DnstapType.encode(this.envelope).finish());
  }

  private addressBytes(text: string): Buffer | null {
    let bytes = this.addresses.get(text);
    if (bytes === undefined) {
      if (!ipaddr.isValid(text)) return null;
      if (this.addresses.size >= ADDRESS_CACHE_MAX) this.addresses.clear();
      bytes = Buffer.from(ipaddr.parse(text).toByteArray());
      this.addresses.set(text, bytes);
    }
    return bytes;
  }
}

function setTime(m: MessageFields, which: 'query' | 'response', epochMs: number): void {
  const seconds = Math.floor(epochMs / 1000);
  const nanos = Math.min(999_999_999, Math.round((epochMs - seconds * 1000) * 1e6));
  if (which === 'query') {
    m.queryTimeSec = seconds;
    m.queryTimeNsec = nanos;
  } else {
    m.responseTimeSec = seconds;
    m.responseTimeNsec = nanos;
  }
}

/** Extra texts of each app, per action; built once per catalogue entry. */
const APP_EXTRAS = new WeakMap<object, Buffer[]>();
const ACTION_EXTRAS = ACTIONS.map((action) => Buffer.from(`action=${action}`));

/**
 * Wachtpost's tags for the `extra` field: `app=ID;owner=CC;action=ACTION`, the app's
 * catalogue id, its owner's ISO 3166-1 country and the policy action, in that order;
 * without an app only `action=ACTION`; nothing for an untagged, allowed query.
 */
export function extraOf(query: Query): Buffer | null {
  const action: Action = query.verdict?.action ?? 'allow';
  const app = tagsOf(query).app;
  if (app === null) return action === 'allow' ? null : ACTION_EXTRAS[ACTION_INDEX[action]]!;
  let extras = APP_EXTRAS.get(app);
  if (extras === undefined) {
    extras = ACTIONS.map((each) => Buffer.from(`app=${app.id};owner=${app.owner_country};action=${each}`));
    APP_EXTRAS.set(app, extras);
  }
  return extras[ACTION_INDEX[action]]!;
}
