import type { Writable } from 'node:stream';
import type { FailureLog } from '../logging/failure-log.js';
import { BoundedQueue } from './bounded-queue.js';
import { settle, SinkCounters, type SiemSink, type SinkOptions } from './sink.js';

/**
 * A sink over a stream that can fail (a TCP connection, a file). Messages wait in a bounded
 * queue and are written only while the stream is open and not pushing back, so a slow or
 * absent receiver costs the oldest messages, never memory. A stream that closes or fails is
 * opened again after a doubling pause; `reopen()` swaps in a fresh one at once (logrotate).
 */
export class StreamSink implements SiemSink {
  readonly counters = new SinkCounters();
  private readonly queue: BoundedQueue<Buffer>;
  private stream: Writable | null = null;
  private ready = false;
  private waitingForDrain = false;
  private backoffMs: number;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly open: () => Writable,
    /** Wraps each message for the stream (octet counting, a newline). */
    private readonly frame: (message: Buffer) => Buffer,
    private readonly failures: FailureLog,
    private readonly options: SinkOptions,
  ) {
    this.queue = new BoundedQueue(options.capacity);
    this.backoffMs = options.minBackoffMs;
    this.connect();
  }

  send(message: Buffer): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    this.counters.dropped += this.queue.push(this.frame(message));
    this.pump();
  }

  /** Lets the current stream flush and close, and opens a new one now. */
  reopen(): void {
    if (this.closed) return;
    this.stream?.end();
    if (this.timer !== null) clearTimeout(this.timer);
    this.backoffMs = this.options.minBackoffMs;
    this.connect();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.stream !== null && !this.ready) await settle(this.stream, ['ready', 'close'], this.options.closeTimeoutMs);
    const stream = this.stream;
    if (stream !== null && this.ready) {
      // The queue is bounded, so writing past the high-water mark here costs bounded memory.
      for (let message = this.queue.shift(); message !== undefined; message = this.queue.shift()) {
        stream.write(message);
        this.counters.exported++;
      }
    }
    this.counters.dropped += this.queue.clear();
    if (stream === null) return;
    stream.end();
    await settle(stream, ['finish', 'close'], this.options.closeTimeoutMs);
    stream.destroy();
  }

  private connect(): void {
    this.timer = null;
    const stream = this.open();
    this.stream = stream;
    this.ready = false;
    this.waitingForDrain = false;
    stream.once('ready', () => {
      if (this.stream !== stream) return;
      this.ready = true;
      this.backoffMs = this.options.minBackoffMs;
      this.failures.succeeded();
      this.pump();
    });
    stream.on('error', (error) => {
      this.counters.errors++;
      this.failures.failed(error);
    });
    stream.once('close', () => {
      // A stream replaced by reopen() closes on its own time; only the current one matters.
      if (this.stream !== stream) return;
      this.stream = null;
      this.ready = false;
      if (this.closed) return;
      this.timer = setTimeout(() => this.connect(), this.backoffMs).unref();
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
    });
  }

  private pump(): void {
    const stream = this.stream;
    if (stream === null || !this.ready) return;
    while (!this.waitingForDrain && this.queue.length > 0) {
      this.counters.exported++;
      if (!stream.write(this.queue.shift()!)) {
        this.waitingForDrain = true;
        stream.once('drain', () => {
          if (this.stream !== stream) return;
          this.waitingForDrain = false;
          this.pump();
        });
      }
    }
  }
}
