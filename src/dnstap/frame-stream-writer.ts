import net from 'node:net';
import type { Logger } from 'pino';
import { describeTarget, type DnstapTarget } from '../config/dnstap-target.js';
import { ControlType, controlFrame, readControlFrame } from './frame-streams.js';

/** Frames are gathered in chunks of this size and written once per event-loop turn. */
const CHUNK_BYTES = 64 * 1024;
const HANDSHAKE_TIMEOUT_MS = 5000;
const FINISH_TIMEOUT_MS = 1000;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 30_000;

export class FrameStreamCounters {
  /** Frames handed to the socket. */
  sent = 0;
  /** Frames dropped: buffer full, or still unsent at close. */
  dropped = 0;
  /** Handshakes completed: the first connection and every reconnect. */
  connects = 0;
}

interface Chunk {
  bytes: Buffer;
  frames: number;
}

type State = 'waiting' | 'handshake' | 'open' | 'stopping' | 'closed';

/**
 * A bidirectional Frame Streams writer (what `dnstap -u`, fstrm_capture and Vector
 * expect on a socket) that never blocks its caller: `write` copies the frame into a
 * bounded buffer (`bufferBytes`, counting what the socket still holds) and returns; beyond
 * the bound frames are dropped and counted. The buffer is written once per event-loop
 * turn. A lost or refused connection is retried with a backoff doubling from 250 ms to
 * 30 s, logged once per outage; frames wait in the buffer meanwhile.
 */
export class FrameStreamWriter {
  readonly counters = new FrameStreamCounters();
  private state: State = 'waiting';
  private socket: net.Socket | null = null;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private frames = 0;
  private readonly sealed: Chunk[] = [];
  private sealedBytes = 0;
  private flushScheduled = false;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  /** Why the receiver is unreachable, once logged; null while connected (or never failed). */
  private outage: string | null = null;
  private input: Buffer = Buffer.alloc(0);
  private finished: (() => void) | null = null;

  constructor(
    private readonly target: DnstapTarget,
    private readonly contentType: string,
    private readonly bufferBytes: number,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return this.state === 'open';
  }

  start(): void {
    if (this.state === 'waiting' && this.socket === null) this.connect();
  }

  /** Queues one data frame, or drops and counts it when the buffer is full. Never waits. */
  write(payload: Uint8Array): void {
    const size = 4 + payload.length;
    const buffered = this.used + this.sealedBytes + (this.socket?.writableLength ?? 0);
    if (this.state === 'closed' || this.state === 'stopping' || buffered + size > this.bufferBytes) {
      this.counters.dropped++;
      return;
    }
    if (this.used + size > this.chunk.length) this.seal(size);
    this.chunk.writeUInt32BE(payload.length, this.used);
    this.chunk.set(payload, this.used + 4);
    this.used += size;
    this.frames++;
    if (this.state === 'open' && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Writes what is buffered, says STOP and waits (briefly) for the reader's FINISH, then
   * closes. Frames that never reached a socket are counted as dropped.
   */
  async close(): Promise<void> {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.stopHandshakeTimer();
    const socket = this.socket;
    if (this.state === 'open' && socket !== null) {
      this.flush();
      this.state = 'stopping';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, FINISH_TIMEOUT_MS).unref();
        this.finished = () => {
          clearTimeout(timer);
          resolve();
        };
        socket.once('close', this.finished);
        socket.write(controlFrame(ControlType.STOP));
      });
    }
    this.state = 'closed';
    this.seal(0);
    for (const chunk of this.sealed) this.counters.dropped += chunk.frames;
    this.sealed.length = 0;
    this.sealedBytes = 0;
    this.socket?.destroy();
    this.socket = null;
  }

  /** Moves the chunk being filled to the queue and starts a new one with room for `next` bytes. */
  private seal(next: number): void {
    if (this.used > 0) {
      this.sealed.push({ bytes: this.chunk.subarray(0, this.used), frames: this.frames });
      this.sealedBytes += this.used;
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, next));
    }
    this.used = 0;
    this.frames = 0;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const socket = this.socket;
    if (this.state !== 'open' || socket === null) return;
    this.seal(0);
    for (const chunk of this.sealed) {
      socket.write(chunk.bytes);
      this.counters.sent += chunk.frames;
    }
    this.sealed.length = 0;
    this.sealedBytes = 0;
  };

  private connect(): void {
    this.retryTimer = null;
    const target = this.target;
    const socket = 'path' in target ? net.connect({ path: target.path }) : net.connect({ host: target.host, port: target.port, noDelay: true });
    this.socket = socket;
    this.state = 'handshake';
    this.input = Buffer.alloc(0);
    let failure: Error | null = null;
    this.handshakeTimer = setTimeout(() => socket.destroy(new Error(`no ACCEPT within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS).unref();
    socket.on('connect', () => socket.write(controlFrame(ControlType.READY, [this.contentType])));
    socket.on('data', (data: Buffer) => {
      try {
        this.read(socket, data);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', (error) => {
      failure = error;
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.stopHandshakeTimer();
      this.socket = null;
      if (this.state === 'stopping' || this.state === 'closed') return;
      this.state = 'waiting';
      this.unreachable(failure?.message ?? 'the receiver closed the connection');
    });
  }

  private stopHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }

  /** Control frames from the reader: ACCEPT during the handshake, FINISH after STOP. */
  private read(socket: net.Socket, data: Buffer): void {
    this.input = this.input.length === 0 ? data : Buffer.concat([this.input, data]);
    for (;;) {
      const frame = readControlFrame(this.input);
      if (frame === null) return;
      this.input = this.input.subarray(frame.size);
      if (this.state === 'handshake' && frame.type === ControlType.ACCEPT) {
        if (!frame.contentTypes.includes(this.contentType)) throw new Error(`the receiver does not accept ${this.contentType}`);
        socket.write(controlFrame(ControlType.START, [this.contentType]));
        this.opened();
      } else if (this.state === 'stopping' && frame.type === ControlType.FINISH) {
        this.finished?.();
      }
    }
  }

  private opened(): void {
    this.stopHandshakeTimer();
    this.state = 'open';
    this.counters.connects++;
    this.retryMs = RETRY_FIRST_MS;
    const target = describeTarget(this.target);
    if (this.outage !== null) this.log.info({ dnstap: target }, 'dnstap receiver reachable again');
    else this.log.debug({ dnstap: target }, 'dnstap connected');
    this.outage = null;
    this.flush();
  }

  private unreachable(reason: string): void {
    if (this.outage === null) {
      this.log.warn(
        { dnstap: describeTarget(this.target), bufferBytes: this.bufferBytes },
        `dnstap receiver unreachable: ${reason}; retrying, messages beyond the buffer are dropped`,
      );
      this.outage = reason;
    }
    this.retryTimer = setTimeout(() => this.connect(), this.retryMs).unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }
}
