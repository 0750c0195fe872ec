import { performance } from 'node:perf_hooks';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { InPlaceReplies, Query, ReplyChannel } from '../pipeline/query.js';
import type { Dispatcher } from './dispatcher.js';
import { batchBuffers, type NativeUdp, type NativeUdpSocket } from './native-udp.js';
import { DatagramIntake, SOCKET_BUFFER_BYTES, waitForSendQueue, type UdpEndpoint, type UdpLosses } from './udp-listener.js';

/**
 * A UDP listener on the batched socket: each wake-up hands over up to a batch of queries,
 * answered ones go back in one send. Cache hits are answered inside the batch; replies that
 * come later (upstream answers) are gathered in the same slots and sent together at the end
 * of the event-loop turn they arrived in (or with the next batch, if that comes first).
 */
export class BatchUdpListener implements ReplyChannel, InPlaceReplies, UdpEndpoint {
  readonly protocol = 'udp';
  private readonly intake: DatagramIntake;
  private socket: NativeUdpSocket | null = null;
  private draining = false;
  private readonly slots: number;
  private readonly slotBytes: number;
  private readonly meta: number;
  private readonly input: Buffer;
  private readonly inputMeta: Int32Array;
  private readonly output: Buffer;
  private readonly outputMeta: Int32Array;
  private replies = 0;
  /** Metadata offset of the datagram being dispatched, or -1 outside a batch. */
  private current = -1;
  /** The last peer's address words and text: one client usually sends many queries. */
  private readonly lastWords = new Int32Array(4);
  private lastAddress = '';
  /** The same for the last reply sent after its batch. */
  private readonly laterWords = new Int32Array(4);
  private laterAddress = '';
  private flushScheduled = false;

  constructor(
    private readonly native: NativeUdp,
    private readonly host: string,
    private readonly port: number,
    private readonly family: 4 | 6,
    /**
     * The workers binding this port side by side (SO_REUSEPORT), which then take its queries
     * in turn by query ID; 0: a lone resolver, which binds it alone.
     */
    private readonly workers: number,
    dispatcher: Dispatcher,
    log: Logger,
  ) {
    this.intake = new DatagramIntake(this, dispatcher, log);
    ({ slots: this.slots, slotBytes: this.slotBytes, meta: this.meta, input: this.input, inputMeta: this.inputMeta, output: this.output, outputMeta: this.outputMeta } =
      batchBuffers(native));
  }

  listen(): Promise<void> {
    try {
      const options = { address: this.host, port: this.port, family: this.family, bufferBytes: SOCKET_BUFFER_BYTES, reusePort: this.workers > 0 ? 1 : 0, spread: this.workers } as const;
      this.socket = this.native.open(options, this.input, this.inputMeta, this.output, this.outputMeta, this.onBatch);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(new Error(`UDP ${this.host}:${this.port}: ${(error as Error).message}`));
    }
  }

  get address(): { address: string; port: number } {
    return { address: this.host, port: this.socket?.port ?? this.port };
  }

  send(query: Query, reply: Buffer): void {
    const socket = this.socket;
    if (socket === null) return;
    const at = reply.length <= this.slotBytes ? this.reserve(query) : -1;
    if (at < 0) {
      socket.sendTo(reply, query.clientPort, query.client);
      return;
    }
    reply.copy(this.output, at);
    this.commit(query, reply.length);
  }

  get inPlace(): InPlaceReplies {
    return this;
  }

  get buffer(): Buffer {
    return this.output;
  }

  get room(): number {
    return this.slotBytes;
  }

  reserve(query: Query): number {
    if (this.socket === null) return -1;
    // A reply after its batch needs its peer's address words.
    if (!this.inBatch(query) && !this.wordsOf(query.client)) return -1;
    if (this.replies >= this.slots) this.flushReplies();
    return this.replies * this.slotBytes;
  }

  commit(query: Query, length: number): void {
    const slot = this.replies++;
    const to = slot * this.meta;
    this.outputMeta[to] = length;
    if (this.inBatch(query)) {
      for (let i = 1; i < this.meta; i++) this.outputMeta[to + i] = this.inputMeta[this.current + i]!;
      return;
    }
    this.outputMeta[to + 1] = query.clientPort;
    for (let i = 0; i < 4; i++) this.outputMeta[to + 2 + i] = this.laterWords[i]!;
    // Outside a batch: sent at the end of this turn, with whatever else answered in it.
    if (this.current < 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /** Whether `query` is the datagram of the batch being dispatched (its reply takes the datagram's address). */
  private inBatch(query: Query): boolean {
    return this.current >= 0 && query === this.intake.query;
  }

  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flushReplies();
  };

  private flushReplies(): void {
    if (this.replies === 0) return;
    this.socket?.flush(this.replies);
    this.replies = 0;
  }

  /** Fills laterWords with the address as the socket's metadata holds it; false for text that is no address of its family. */
  private wordsOf(address: string): boolean {
    if (address === this.laterAddress) return true;
    let bytes: number[];
    try {
      const parsed = ipaddr.parse(address);
      if ((parsed.kind() === 'ipv4') !== (this.family === 4)) return false;
      bytes = parsed.toByteArray();
    } catch {
      return false;
    }
    const words = this.laterWords;
    words.fill(0);
    for (let i = 0; i < bytes.length; i++) words[i >> 2]! |= bytes[i]! << (24 - 8 * (i & 3));
    this.laterAddress = address;
    return true;
  }

  stopAccepting(): void {
    this.draining = true;
    this.socket?.pause();
  }

  async close(): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    this.flushReplies();
    await waitForSendQueue(() => socket.stats().queued);
    socket.close();
    this.socket = null;
  }

  /** The socket's own counts (received, batches, truncated, sent, dropped, queued). */
  get stats(): ReturnType<NativeUdpSocket['stats']> | null {
    return this.socket?.stats() ?? null;
  }

  get losses(): UdpLosses {
    const stats = this.socket?.stats();
    return { oversized: stats?.truncated ?? 0, replies: stats?.dropped ?? 0 };
  }

  private readonly onBatch = (count: number): void => {
    const meta = this.meta;
    // The batch arrived in one receive call: one clock reading stands for all of it.
    const receivedAt = performance.now();
    for (let i = 0; i < count && !this.draining; i++) {
      const at = i * meta;
      const length = this.inputMeta[at]!;
      if (length < 0) continue; // longer than a slot: no DNS query is, the socket counted it
      // Read in place: the intake copies it only if the query waits upstream past this batch.
      const msg = this.input.subarray(i * this.slotBytes, i * this.slotBytes + length);
      this.current = at;
      this.intake.take(msg, this.addressAt(at), this.inputMeta[at + 1]!, receivedAt, true);
    }
    this.current = -1;
    this.flushReplies();
  };

  private addressAt(at: number): string {
    const words = this.lastWords;
    const meta = this.inputMeta;
    if (this.lastAddress !== '' && meta[at + 2] === words[0] && meta[at + 3] === words[1] && meta[at + 4] === words[2] && meta[at + 5] === words[3]) {
      return this.lastAddress;
    }
    for (let i = 0; i < 4; i++) words[i] = meta[at + 2 + i]!;
    this.lastAddress = this.family === 4 ? ipv4Text(words[0]!) : ipv6Text(words);
    return this.lastAddress;
  }
}

function ipv4Text(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 255}.${(word >>> 8) & 255}.${word & 255}`;
}

function ipv6Text(words: Int32Array): string {
  const parts: number[] = [];
  for (const word of words) parts.push((word >>> 16) & 0xffff, word & 0xffff);
  return new ipaddr.IPv6(parts).toString();
}
