import cluster from 'node:cluster';
import http2 from 'node:http2';
import net, { isIP, SocketAddress } from 'node:net';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import { Query, type ReplyChannel } from '../pipeline/query.js';
import { padReply, smallestTtl } from '../wire/encrypted-reply.js';
import { deviceFromCertificate, deviceFromPathSegment, deviceFromServerName, INVALID_DEVICE, type DeviceClaim } from './device-identity.js';
import { Dispatched, type Dispatcher } from './dispatcher.js';
import type { EncryptedAdmission } from './dot-handshake.js';
import { nativeTcp, type NativeTcpListener } from './native-tcp.js';
import type { TlsCredentials } from './tls-credentials.js';

/** RFC 8484 §6: a DNS message over HTTP is at most what TCP framing can carry. */
const MAX_MESSAGE = 65_535;
/** base64url of MAX_MESSAGE bytes, unpadded. */
const MAX_GET_PARAMETER = Math.ceil((MAX_MESSAGE * 4) / 3);
const PATH = '/dns-query';
const CONTENT_TYPE = 'application/dns-message';
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BACKLOG = 511;

export interface DohSettings {
  /** The name devices sit under in SNI; empty: SNI names no device. */
  serverName: string;
  closeUnadmitted: boolean;
  /** Peers whose X-Forwarded-For / Forwarded header is believed; null: nobody's. */
  trustedProxy: ((address: string) => boolean) | null;
  maxStreams: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  idleTimeoutMs: number;
}

/** What the DoH listener answered, by HTTP status; read by the metrics layer. */
export class DohCounters {
  readonly statuses = new Map<number, number>();
  refusedConnections = 0;
  tlsFailures = 0;

  count(status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }
}

type Request = http2.Http2ServerRequest;

interface ConnectionIdentity {
  readonly fromName: DeviceClaim;
  readonly fromCertificate: DeviceClaim;
  /** The peer's address in Node's spelling. */
  readonly peer: string;
}

/** The `dns` parameter of a query string starting at `from`, as sent (no decoding: base64url needs none), or null. */
function dnsParameter(url: string, from: number): string | null {
  for (let at = from; at < url.length; ) {
    const amp = url.indexOf('&', at);
    const end = amp < 0 ? url.length : amp;
    if (url.startsWith('dns=', at)) return url.slice(at + 4, end);
    at = end + 1;
  }
  return null;
}
type Response = http2.Http2ServerResponse;

/**
 * DNS over HTTPS (RFC 8484) on one address: HTTP/2, and HTTP/1.1 for clients without it.
 * `GET /dns-query?dns=<base64url>` and `POST /dns-query` with `application/dns-message`;
 * `/dns-query/<device-id>` names the device (Apple's `ServerURL`), as does an SNI label
 * under the server name. Answers carry `Cache-Control: max-age` of their smallest TTL.
 * With the addon each worker accepts on a socket of its own (SO_REUSEPORT) and hands the
 * connection to the HTTP/2 server, as the TCP listener does.
 */
export class DohListener implements ReplyChannel {
  readonly protocol = 'doh';
  readonly counters = new DohCounters();
  private readonly server: http2.Http2SecureServer;
  private readonly perClient = new Map<string, number>();
  private native: NativeTcpListener | null = null;
  private boundPort = 0;
  private open = 0;
  private readonly connections = new WeakMap<object, ConnectionIdentity>();
  private readonly mtls: boolean;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly family: 4 | 6,
    private readonly dispatcher: Dispatcher,
    private readonly credentials: TlsCredentials,
    private readonly settings: DohSettings,
    private readonly admission: EncryptedAdmission,
    private readonly log: Logger,
  ) {
    this.mtls = credentials.requestsClientCertificates;
    this.server = http2.createSecureServer(
      {
        allowHTTP1: true,
        ...credentials.options,
        requestCert: credentials.requestsClientCertificates,
        rejectUnauthorized: false,
        ALPNProtocols: ['h2', 'http/1.1'],
        settings: { maxConcurrentStreams: settings.maxStreams, maxHeaderListSize: 16_384 },
        maxSessionMemory: 4,
        // Headers beyond this (HTTP/1.1) are refused, as HTTP/2's maxHeaderListSize does.
        maxHeaderSize: 16_384,
      } as http2.SecureServerOptions,
      (request, response) => this.handle(request, response),
    );
    credentials.changed((options) => this.server.setSecureContext(options));
    // An idle HTTP/2 session (or HTTP/1.1 socket) is closed, not kept for ever.
    this.server.setTimeout(settings.idleTimeoutMs);
    this.server.on('timeout', (idle: { destroy(): void }) => idle.destroy());
    this.server.on('tlsClientError', () => void this.counters.tlsFailures++);
    this.server.on('sessionError', () => {});
  }

  async listen(): Promise<void> {
    const addon = nativeTcp();
    if (addon !== null) {
      const options = { address: this.host, port: this.port, family: this.family, backlog: BACKLOG, reusePort: cluster.isWorker ? 1 : 0 } as const;
      try {
        this.native = addon.listenTcp(options, (fd, address, port) => this.accept(fd, address, port));
      } catch (error) {
        throw new Error(`TCP ${this.host}:${this.port}: ${(error as Error).message}`);
      }
      this.boundPort = this.native.port;
      return;
    }
    this.server.on('connection', (socket: net.Socket) => {
      const client = socket.remoteAddress ?? '';
      if (!this.admit(client)) return void socket.destroy();
      socket.once('close', () => this.release(client));
      socket.setNoDelay(true);
    });
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.host, port: this.port, ipv6Only: this.family === 6, backlog: BACKLOG }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get address(): { address: string; port: number } {
    return { address: this.host, port: this.boundPort };
  }

  get openConnections(): number {
    return this.open;
  }

  send(query: Query, reply: Buffer): void {
    const response = query.connection as Response;
    if (response.writableEnded || response.destroyed) return;
    this.counters.count(200);
    const body = padReply(reply);
    response.writeHead(200, {
      'content-type': CONTENT_TYPE,
      'content-length': body.length,
      'cache-control': `max-age=${smallestTtl(reply)}`,
    });
    response.end(body);
  }

  /** Stops accepting; open connections are closed once their streams end. */
  stopAccepting(): void {
    this.native?.close();
    this.native = null;
    this.server.close();
  }

  close(): Promise<void> {
    this.stopAccepting();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Sessions still open are not waited for.
      setImmediate(resolve);
    });
  }

  private accept(fd: number, address: string, port: number): boolean {
    if (!this.admit(address)) return false;
    let socket: net.Socket;
    try {
      socket = new net.Socket({ fd, allowHalfOpen: false, readable: true, writable: true });
    } catch (error) {
      this.release(address);
      this.log.warn({ err: error, port }, 'an accepted DoH connection could not be taken over');
      return false;
    }
    socket.once('close', () => this.release(address));
    // Answers are small and many per connection: Nagle's delay would cost each one an ACK round trip.
    socket.setNoDelay(true);
    this.server.emit('connection', socket);
    return true;
  }

  /** Takes a connection slot for `client`, within the overall and the per-client caps. */
  private admit(client: string): boolean {
    const held = this.perClient.get(client) ?? 0;
    if (this.open >= this.settings.maxConnections || held >= this.settings.maxConnectionsPerClient) {
      this.counters.refusedConnections++;
      return false;
    }
    this.open++;
    this.perClient.set(client, held + 1);
    return true;
  }

  private release(client: string): void {
    this.open--;
    const held = this.perClient.get(client) ?? 1;
    if (held <= 1) this.perClient.delete(client);
    else this.perClient.set(client, held - 1);
  }

  private fail(response: Response, status: number, message: string, headers: Record<string, string> = {}): void {
    this.counters.count(status);
    if (response.writableEnded || response.destroyed) return;
    response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    response.end(`${message}\n`);
  }

  /**
   * What the TLS connection says of the device (its SNI label, its client certificate),
   * worked out once per connection: an HTTP/2 session carries many requests.
   */
  private connectionOf(request: Request): ConnectionIdentity {
    const key: object = (request.stream as http2.ServerHttp2Stream | undefined)?.session ?? request.socket;
    let identity = this.connections.get(key);
    if (identity === undefined) {
      const socket = request.socket as tls.TLSSocket;
      identity = {
        fromName: deviceFromServerName(socket.servername, this.settings.serverName),
        fromCertificate: this.mtls ? deviceFromCertificate(socket, this.credentials.clientCas) : null,
        peer: canonical(socket.remoteAddress ?? '') ?? '',
      };
      this.connections.set(key, identity);
    }
    return identity;
  }

  private handle(request: Request, response: Response): void {
    const url = request.url;
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    if (path !== PATH && !path.startsWith(`${PATH}/`)) return this.fail(response, 404, 'not found: DNS queries go to /dns-query');
    const fromPath = deviceFromPathSegment(path.slice(PATH.length + 1));
    const { fromName, fromCertificate } = this.connectionOf(request);
    if (fromPath === INVALID_DEVICE || fromName === INVALID_DEVICE || fromCertificate === INVALID_DEVICE) {
      return this.fail(response, 400, 'bad request: the device id must be 1-63 letters, digits or inner hyphens, from a certificate the device CA signed');
    }
    // A certificate the device CA signed outranks what the path or the name claims.
    const device: DeviceClaim = fromCertificate ?? fromPath ?? fromName;
    const certified = fromCertificate !== null;
    const client = this.clientOf(request);
    if (client === null) return this.fail(response, 400, 'bad request: the forwarded client address is not an IP address');
    if (this.settings.closeUnadmitted && !this.admission(client, device, certified)) return this.fail(response, 403, 'forbidden: neither this address nor this device is admitted');
    if (request.method === 'GET' || request.method === 'HEAD') {
      const parameter = queryAt < 0 ? null : dnsParameter(url, queryAt + 1);
      if (parameter === null) return this.fail(response, 400, 'bad request: GET needs the dns parameter');
      if (parameter.length > MAX_GET_PARAMETER) return this.fail(response, 413, 'payload too large: a DNS message is at most 65535 bytes');
      if (!BASE64URL.test(parameter)) return this.fail(response, 400, 'bad request: dns must be unpadded base64url');
      return this.ask(Buffer.from(parameter, 'base64url'), request, response, client, device, certified);
    }
    if (request.method !== 'POST') return this.fail(response, 405, 'method not allowed', { allow: 'GET, POST' });
    const type = request.headers['content-type'];
    if (type === undefined || type.split(';', 1)[0]!.trim().toLowerCase() !== CONTENT_TYPE) {
      return this.fail(response, 415, `unsupported media type: POST needs ${CONTENT_TYPE}`);
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > MAX_MESSAGE) return this.fail(response, 413, 'payload too large: a DNS message is at most 65535 bytes');
    this.readBody(request, response, client, device, certified);
  }

  private readBody(request: Request, response: Response, client: string, device: string | null, certified: boolean): void {
    const chunks: Buffer[] = [];
    let length = 0;
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_MESSAGE) {
        this.fail(response, 413, 'payload too large: a DNS message is at most 65535 bytes');
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (length <= MAX_MESSAGE) this.ask(Buffer.concat(chunks, length), request, response, client, device, certified);
    });
    request.on('error', () => {});
  }

  private ask(message: Buffer, request: Request, response: Response, client: string, device: string | null, certified: boolean): void {
    if (message.length < 12) return this.fail(response, 400, 'bad request: not a DNS message');
    const query = new Query();
    query.channel = this;
    query.connection = response;
    query.client = client;
    query.clientPort = request.socket.remotePort ?? 0;
    query.device = device;
    query.deviceCertified = certified;
    query.receivedAt = performance.now();
    let outcome: Dispatched = Dispatched.DROPPED;
    try {
      outcome = this.dispatcher.dispatch(message, query);
    } catch (error) {
      this.log.error({ err: error }, 'unexpected error handling a DoH query');
    }
    if (outcome === Dispatched.DROPPED) this.fail(response, 400, 'bad request: not a DNS query');
  }

  /**
   * The client: the peer, or, when the peer is a trusted proxy, the nearest address its
   * X-Forwarded-For or Forwarded header names that is not itself a trusted proxy. Null when
   * a trusted proxy names something that is no address.
   */
  private clientOf(request: Request): string | null {
    const peer = this.connectionOf(request).peer;
    const trusted = this.settings.trustedProxy;
    if (trusted === null || !trusted(peer)) return peer;
    const hops = forwardedHops(request.headers);
    if (hops === null) return peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = canonical(hops[i]!);
      if (hop === null) return null;
      if (!trusted(hop) || i === 0) return hop;
    }
    return peer;
  }
}

/** The addresses a request's proxies recorded, client first; null when there is no such header. */
function forwardedHops(headers: http2.IncomingHttpHeaders): string[] | null {
  const forwarded = headers.forwarded;
  if (typeof forwarded === 'string') {
    const hops: string[] = [];
    for (const element of forwarded.split(',')) {
      for (const pair of element.split(';')) {
        const at = pair.indexOf('=');
        if (at > 0 && pair.slice(0, at).trim().toLowerCase() === 'for') hops.push(unquote(pair.slice(at + 1).trim()));
      }
    }
    return hops.length === 0 ? null : hops;
  }
  const xff = headers['x-forwarded-for'];
  if (typeof xff !== 'string') return null;
  return xff.split(',').map((hop) => hop.trim());
}

/** RFC 7239 node: `192.0.2.1`, `"[2001:db8::1]"`, `"[2001:db8::1]:4711"`; ports are dropped. */
function unquote(value: string): string {
  const bare = value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  if (bare.startsWith('[')) return bare.slice(1, bare.indexOf(']') < 0 ? bare.length : bare.indexOf(']'));
  const colon = bare.indexOf(':');
  return colon >= 0 && bare.indexOf(':', colon + 1) < 0 ? bare.slice(0, colon) : bare;
}

/** An address in Node's spelling (as sockets report peers), or null when it is none. */
function canonical(value: string): string | null {
  const family = isIP(value);
  return family === 0 ? null : new SocketAddress({ address: value, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
}
