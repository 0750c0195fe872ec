/**
 * Latency on the wire. tcpdump on the loopback interface timestamps every query and reply
 * in the kernel, so the time from dnsperf's query to the server's reply leaves out
 * dnsperf's own delay in reading and logging replies: on two cores shared by generator and
 * server, that delay is a large part of what dnsperf reports at the tail. Only the
 * fixed-rate rounds capture; at full speed tcpdump would take CPU from the targets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { summarise, type LatencySummary } from './dnsperf.js';

/** Bytes kept per packet: link, IP and UDP headers and the DNS ID fit in 96. */
const SNAP_BYTES = 96;
/** tcpdump's kernel buffer in KiB: 2 × 50k packets/s for a round without kernel drops. */
const BUFFER_KIB = 32_768;
const START_TIMEOUT_MS = 5_000;
const DRAIN_MS = 1_200;

export interface WireLatency {
  latency: LatencySummary | null;
  /** Queries seen, replies matched to them, and packets the kernel dropped from the capture. */
  queries: number;
  replies: number;
  kernelDrops: number;
}

export class WireCapture {
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly file: string,
    private readonly port: number,
  ) {
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** Starts tcpdump on `lo` for UDP to and from `port`; resolves once it is capturing. */
  static async start(binary: string, port: number, file: string): Promise<WireCapture> {
    const args = ['-i', 'lo', '-n', '-s', String(SNAP_BYTES), '-B', String(BUFFER_KIB), '--time-stamp-precision=nano', '-w', file, 'udp', 'port', String(port)];
    const capture = new WireCapture(spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] }), file, port);
    await capture.listening();
    return capture;
  }

  /** Stops the capture and matches each reply to its query by client port and DNS ID. */
  async stop(): Promise<WireLatency> {
    // tcpdump reads the kernel's capture buffer a block at a time, or after a second; what it
    // has not read when it stops is lost, so it gets that second first.
    await delay(DRAIN_MS);
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGINT');
    await exited;
    try {
      const { latencies, queries } = wireLatencies(await readFile(this.file), this.port);
      const kernelDrops = Number(/(\d+) packets? dropped by kernel/.exec(this.stderr)?.[1] ?? 0);
      return { latency: summarise(latencies), queries, replies: latencies.length, kernelDrops };
    } finally {
      await rm(this.file, { force: true });
    }
  }

  private listening(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onData = (): void => {
        if (!this.stderr.includes('listening on')) return;
        settle();
        resolve();
      };
      const onExit = (code: number | null): void => {
        settle();
        reject(new Error(`tcpdump exited (${code}): ${this.stderr.trim()}`));
      };
      const timer = setTimeout(() => {
        settle();
        this.child.kill('SIGKILL');
        reject(new Error('tcpdump did not start capturing within 5 s'));
      }, START_TIMEOUT_MS);
      const settle = (): void => {
        clearTimeout(timer);
        this.child.stderr!.off('data', onData);
        this.child.off('exit', onExit);
      };
      this.child.stderr!.on('data', onData);
      this.child.once('exit', onExit);
    });
  }
}

/** Link-layer header lengths of the link types loopback captures come in. */
const LINK_HEADER: Record<number, number> = { 1: 14, 113: 16, 276: 20 };
const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
const PCAP_MAGIC_NANOS = 0xa1b23c4d;
const UDP = 17;

/**
 * Reply latencies in seconds from a little-endian pcap file: each IPv4 UDP datagram to
 * `port` is a query keyed by its source port and DNS ID, and a datagram from `port` to
 * that key is its reply. A reply without a query (the capture started late) is skipped.
 */
export function wireLatencies(pcap: Buffer, port: number): { latencies: Float64Array; queries: number } {
  const magic = pcap.readUInt32LE(0);
  if (magic !== PCAP_MAGIC_MICROS && magic !== PCAP_MAGIC_NANOS) throw new Error('not a little-endian pcap file');
  const fractionNs = magic === PCAP_MAGIC_NANOS ? 1 : 1000;
  const linkHeader = LINK_HEADER[pcap.readUInt32LE(20)];
  if (linkHeader === undefined) throw new Error(`pcap link type ${pcap.readUInt32LE(20)} is not one loopback uses`);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let queries = 0;
  // Nanoseconds since the first packet's second keep full precision in a double.
  const firstSecond = pcap.length >= 40 ? pcap.readUInt32LE(24) : 0;
  for (let record = 24; record + 16 <= pcap.length; ) {
    const ns = (pcap.readUInt32LE(record) - firstSecond) * 1e9 + pcap.readUInt32LE(record + 4) * fractionNs;
    const captured = pcap.readUInt32LE(record + 8);
    const ip = record + 16 + linkHeader;
    record += 16 + captured;
    if (ip + 20 > record || pcap[ip]! >> 4 !== 4 || pcap[ip + 9] !== UDP) continue;
    const udp = ip + (pcap[ip]! & 0x0f) * 4;
    if (udp + 10 > record) continue;
    const source = pcap.readUInt16BE(udp);
    const destination = pcap.readUInt16BE(udp + 2);
    const id = pcap.readUInt16BE(udp + 8);
    if (destination === port) {
      sentAt.set(source * 65_536 + id, ns);
      queries++;
    } else if (source === port) {
      const key = destination * 65_536 + id;
      const sent = sentAt.get(key);
      if (sent === undefined) continue;
      sentAt.delete(key);
      latencies.push((ns - sent) / 1e9);
    }
  }
  return { latencies: Float64Array.from(latencies), queries };
}
