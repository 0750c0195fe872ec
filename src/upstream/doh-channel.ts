import http2 from 'node:http2';
import { Backoff, failLater, IdleTimer, tlsOptions, type ChannelSettings } from './channel-common.js';
import type { ChannelAttempt, EncryptedChannel } from './upstream-server.js';

const CONTENT_TYPE = 'application/dns-message';
const MAX_MESSAGE = 65_535;

/**
 * DNS over HTTPS to one upstream (RFC 8484): one HTTP/2 session, a POST stream per query,
 * opened when needed, closed when idle, reopened with exponential backoff after failures;
 * the certificate verified as for DoT. A reply that is not 200 application/dns-message,
 * or larger than a DNS message, fails its query.
 */
export class DohChannel implements EncryptedChannel {
  readonly protocol = 'doh';
  private session: http2.ClientHttp2Session | null = null;
  private readonly streams = new Map<ChannelAttempt, http2.ClientHttp2Stream>();
  private readonly backoff = new Backoff();
  private readonly idle: IdleTimer;
  private closed = false;
  private readonly authority: string;

  constructor(
    private readonly settings: ChannelSettings,
    private readonly path: string,
  ) {
    this.authority = `https://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`;
    this.idle = new IdleTimer(settings.idleTimeoutMs, () => {
      if (this.streams.size === 0) this.session?.close();
    });
  }

  send(attempt: ChannelAttempt): void {
    if (this.closed) return failLater(attempt, new Error('the resolver is shutting down'));
    if (this.streams.size >= this.settings.maxOutstanding) return failLater(attempt, new Error(`${this.settings.maxOutstanding} queries already outstanding on the DoH connection`));
    const session = this.session ?? this.connect();
    if (session === null) return failLater(attempt, this.backoff.blocked(Date.now())!);
    this.idle.stop();
    const query = attempt.query;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ':method': 'POST', ':path': this.path, 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE, 'content-length': query.length });
    } catch (error) {
      // A session going away takes no new streams.
      return failLater(attempt, error as Error);
    }
    this.streams.set(attempt, stream);
    const chunks: Buffer[] = [];
    let length = 0;
    let status = 0;
    let type = '';
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      type = String(headers['content-type'] ?? '');
    });
    stream.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_MESSAGE) stream.destroy(new Error('the DoH upstream sent more than a DNS message'));
      else chunks.push(chunk);
    });
    stream.on('end', () => {
      this.forget(attempt);
      if (status !== 200) attempt.fail(new Error(`the DoH upstream answered HTTP ${status}`));
      else if (type.split(';', 1)[0]!.trim().toLowerCase() !== CONTENT_TYPE) attempt.fail(new Error(`the DoH upstream answered ${type || 'no content type'}`));
      else attempt.deliver(Buffer.concat(chunks, length));
    });
    stream.on('error', (error: Error) => {
      this.forget(attempt);
      attempt.fail(error);
    });
    stream.end(query);
  }

  cancel(attempt: ChannelAttempt): void {
    const stream = this.streams.get(attempt);
    if (stream === undefined) return;
    this.forget(attempt);
    stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  close(): void {
    this.closed = true;
    this.idle.stop();
    this.session?.destroy();
  }

  private connect(): http2.ClientHttp2Session | null {
    if (this.backoff.blocked(Date.now()) !== null) return null;
    const session = http2.connect(this.authority, { ...tlsOptions(this.settings), ALPNProtocols: ['h2'] });
    let connected = false;
    session.once('connect', () => {
      connected = true;
      this.backoff.succeeded();
    });
    const lost = (error: Error): void => {
      if (this.session !== session) return;
      this.session = null;
      if (!connected || this.streams.size > 0) this.backoff.failed(error, Date.now());
      // Streams get their own error or close; any left are failed here.
      for (const [attempt, stream] of [...this.streams]) {
        this.streams.delete(attempt);
        stream.destroy();
        attempt.fail(error);
      }
    };
    session.on('error', lost);
    session.on('close', () => lost(new Error(`${this.authority} closed the DoH connection`)));
    session.on('goaway', () => lost(new Error(`${this.authority} sent GOAWAY`)));
    this.session = session;
    return session;
  }

  private forget(attempt: ChannelAttempt): void {
    this.streams.delete(attempt);
    if (this.streams.size === 0 && this.session !== null) this.idle.start();
  }

}
