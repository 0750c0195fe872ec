import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { HostPort } from '../config/address.js';
import type { FailureLog } from '../logging/failure-log.js';
import { settle, SinkCounters, type SiemSink, type SinkOptions } from './sink.js';

/**
 * Largest datagram sent: rsyslog's default message limit. RFC 5426 lets a sender truncate
 * beyond what the receiver takes; ECS documents stay far below it (see MAX_HOSTING).
 */
export const MAX_DATAGRAM = 8192;

/**
 * Syslog over UDP (RFC 5426), one message per datagram. Fire and forget: UDP cannot tell
 * whether anyone listens, so `exported` counts datagrams the kernel took. Sends the kernel
 * has not taken yet are bounded by `capacity`; beyond it new messages are dropped (the
 * older ones are already on their way).
 */
export class UdpSender implements SiemSink {
  readonly counters = new SinkCounters();
  private readonly socket: dgram.Socket;
  private readonly idle = new EventEmitter();
  private inFlight = 0;
  private closed = false;
  private readonly sent = (error: Error | null): void => {
    if (error === null) {
      this.counters.exported++;
      this.failures.succeeded();
    } else {
      this.counters.dropped++;
      this.failed(error);
    }
    if (--this.inFlight === 0) this.idle.emit('idle');
  };

  constructor(
    private readonly target: HostPort,
    private readonly failures: FailureLog,
    private readonly options: SinkOptions,
  ) {
    this.socket = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
    this.socket.on('error', (error) => this.failed(error));
  }

  send(message: Buffer): void {
    if (this.closed || this.inFlight >= this.options.capacity) {
      this.counters.dropped++;
      return;
    }
    const datagram = truncateUtf8(message, MAX_DATAGRAM);
    if (datagram !== message) this.counters.truncated++;
    this.inFlight++;
    this.socket.send(datagram, this.target.port, this.target.host, this.sent);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight > 0) await settle(this.idle, ['idle'], this.options.closeTimeoutMs);
    await new Promise<void>((resolve) => this.socket.close(resolve));
  }

  private failed(error: Error): void {
    this.counters.errors++;
    this.failures.failed(error);
  }
}

/** The first `max` bytes of `message`, cut before a UTF-8 continuation byte. */
export function truncateUtf8(message: Buffer, max: number): Buffer {
  if (message.length <= max) return message;
  let end = max;
  while (end > 0 && (message[end]! & 0xc0) === 0x80) end--;
  return message.subarray(0, end);
}
