import dgram from 'node:dgram';
import net from 'node:net';
import pino from 'pino';
import type { Config } from '../../src/config/schema.js';
import { EventHub } from '../../src/events/event-hub.js';
import type { Pseudonymiser } from '../../src/events/pseudonymiser.js';
import type { EcsDocument } from '../../src/siem/ecs.js';
import type { SinkOptions } from '../../src/siem/sink.js';
import { sampleEvent } from '../support/events.js';

export const silentLog = pino({ level: 'silent' });

/** The instance that sampleEvent() events come from: the exporter's own. */
export const INSTANCE = sampleEvent().instance;

/** How long a test waits for something to arrive over loopback, even on a loaded machine. */
export const PATIENCE = { timeout: 5000 };

/** Short pauses so reconnects happen within a test's time. */
export const FAST: SinkOptions = { capacity: 10_000, minBackoffMs: 20, maxBackoffMs: 100, closeTimeoutMs: 1000 };

export function siemSettings(overrides: { target?: string; protocol?: 'udp' | 'tcp'; facility?: number; path?: string; kinds?: string[] } = {}): Config['siem'] {
  return {
    syslog: { target: overrides.target ?? '', protocol: overrides.protocol ?? 'udp', facility: overrides.facility ?? 16 },
    jsonl: { path: overrides.path ?? '' },
    kinds: overrides.kinds ?? ['detection', 'residual', 'bypass'],
  };
}

export function newHub(capacity = 65_536, pseudonymiser: Pseudonymiser | null = null): EventHub {
  return new EventHub({ capacity, firstId: 1, residualWindowMs: 60_000, pseudonymiser });
}

export interface SyslogMessage {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sdId: string;
  params: Record<string, string>;
  /** The MSG part, parsed as JSON. */
  ecs: EcsDocument;
}

const PRINT = '[\\x21-\\x7e]';
/** SD-NAME: printable US-ASCII except '=', ']', '"' (RFC 5424 §6.3). */
const SD_NAME = '[\\x21\\x23-\\x3c\\x3e-\\x5c\\x5e-\\x7e]{1,32}';
/** PARAM-VALUE: '"', '\' and ']' only escaped. */
const PARAM_VALUE = '(?:[^"\\\\\\]]|\\\\["\\\\\\]])*';
const RFC5424 = new RegExp(
  `^<(\\d{1,3})>1 (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z) (${PRINT}{1,255}) (${PRINT}{1,48}) (${PRINT}{1,128}) (${PRINT}{1,32}) ` +
    `\\[(${SD_NAME})((?: ${SD_NAME}="${PARAM_VALUE}")*)\\] \\uFEFF(.*)$`,
  's',
);
const PARAM = new RegExp(` (${SD_NAME})="(${PARAM_VALUE})"`, 'g');

/** Parses one RFC 5424 message with one SD-ELEMENT strictly; throws on anything else. */
export function parseSyslog(raw: Buffer): SyslogMessage {
  if (raw.indexOf(Buffer.from([0xef, 0xbb, 0xbf])) === -1) throw new Error('no UTF-8 BOM before MSG');
  const match = RFC5424.exec(raw.toString('utf8'));
  if (match === null) throw new Error(`not an RFC 5424 message: ${raw.toString('utf8').slice(0, 200)}`);
  const [, pri, timestamp, hostname, appName, procId, msgId, sdId, params, msg] = match as unknown as string[];
  return {
    pri: Number(pri),
    timestamp: timestamp!,
    hostname: hostname!,
    appName: appName!,
    procId: procId!,
    msgId: msgId!,
    sdId: sdId!,
    params: Object.fromEntries([...params!.matchAll(PARAM)].map(([, name, value]) => [name!, value!.replace(/\\(["\\\]])/g, '$1')])),
    ecs: JSON.parse(msg!),
  };
}

/** A syslog receiver on 127.0.0.1 that keeps every datagram. */
export class UdpReceiver {
  readonly messages: Buffer[] = [];
  private closed = false;

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (message) => this.messages.push(message));
  }

  static async bind(port = 0): Promise<UdpReceiver> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', resolve);
    });
    return new UdpReceiver(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(resolve));
  }
}

/**
 * A TCP syslog receiver on 127.0.0.1 that undoes octet-counting framing (RFC 6587 §3.4.1)
 * itself, and notes how frames fell across reads.
 */
export class TcpReceiver {
  readonly messages: Buffer[] = [];
  /** Framing errors seen; a correct sender causes none. */
  readonly framingErrors: string[] = [];
  /** Reads that ended inside a frame, and reads that held two or more whole frames. */
  splitReads = 0;
  coalescedReads = 0;
  connections = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server) {
    server.on('connection', (socket) => this.accept(socket));
  }

  static async listen(port = 0): Promise<TcpReceiver> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return new TcpReceiver(server);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Stops listening and drops every connection, as a receiver that goes down. */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let frames = 0;
      for (;;) {
        const space = pending.indexOf(0x20);
        if (space === -1) break;
        const length = pending.subarray(0, space).toString('latin1');
        if (!/^[1-9]\d{0,8}$/.test(length)) {
          this.framingErrors.push(`bad MSG-LEN "${length.slice(0, 20)}"`);
          socket.destroy();
          return;
        }
        const end = space + 1 + Number(length);
        if (pending.length < end) break;
        this.messages.push(pending.subarray(space + 1, end));
        pending = pending.subarray(end);
        frames++;
      }
      if (pending.length > 0) this.splitReads++;
      if (frames >= 2) this.coalescedReads++;
    });
  }
}
